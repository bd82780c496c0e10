import type { ChildProcess } from 'node:child_process';

/**
 * Stop a child process a test started, by its PID: `signal` (SIGTERM), then SIGKILL after
 * `graceMs`; resolves once it has exited. A child that already exited (or was never started)
 * is left alone.
 */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
