import { TransportError, UsageError } from '../core/errors.js';
import { ALL_CHECKS } from './checks/index.js';
import { MSE_CHECKS } from './checks/mse.js';
import { runScenario, type ScenarioOptions } from './scenarios.js';
import type { CheckDef, CheckResult, ComplianceReport, ComplyTarget, ScenarioName, SessionRecord } from './types.js';

export interface RunOptions extends ScenarioOptions {
  /** Run only these check ids (and the scenarios they rest on). */
  readonly only?: readonly string[];
  /** The check table; defaults to every check btscope knows. */
  readonly checks?: readonly CheckDef[];
  /** Told before each scenario starts (progress on stderr when it is a TTY). */
  readonly onProgress?: (text: string) => void;
  /**
   * Awaited before every connection but the first, for peers that take one
   * connection per IP at a time (transmission closes a new one while it still
   * lists the old): wait a fixed gap, or until the peer no longer lists us.
   * Bounded by the run's deadline.
   */
  readonly betweenConnections?: (next: ScenarioName) => Promise<void>;
}

/** `betweenConnections` for a fixed gap (`btscope comply --gap S`). */
export const fixedGap = (ms: number) => (): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Which checks a run includes: all, or those named by `--only` (unknown ids are a usage error). */
export function selectChecks(all: readonly CheckDef[], only: readonly string[] | undefined): CheckDef[] {
  if (!only || only.length === 0) return [...all];
  const known = new Map(all.map((c) => [c.id, c]));
  const picked: CheckDef[] = [];
  for (const id of only) {
    // A family prefix (`fast`, `ut_metadata`) selects every check in it.
    const matches = known.has(id) ? [known.get(id)!] : all.filter((c) => c.id.startsWith(`${id}.`));
    if (matches.length === 0) throw new UsageError(`unknown check "${id}"; btscope comply --list shows the ids`);
    for (const m of matches) if (!picked.includes(m)) picked.push(m);
  }
  return picked;
}

/** Scenarios in a fixed order: the passive, informative ones first, those that may end a connection last. */
const SCENARIO_ORDER: readonly ScenarioName[] = [
  'main',
  'plain',
  'cancel',
  'keepalive',
  'unknown_id',
  'oversize_request',
  'beyond_piece_request',
  'bad_index_request',
  'v2_hashes',
  'mse',
  'mse_wrong_skey',
];

/**
 * Run the battery: each scenario the selected checks need, one connection at a
 * time, then every check over the recorded sessions.
 */
export async function runCompliance(target: ComplyTarget, options: RunOptions): Promise<ComplianceReport> {
  if (!target.infoHash && !target.infoHashV2) throw new UsageError('the target has neither a v1 nor a v2 info-hash');
  // The MSE/PE checks run when comply speaks MSE (--encryption prefer|require) or is asked for them by id.
  const pool = options.checks ?? [...ALL_CHECKS, ...MSE_CHECKS];
  const mse = options.encryption !== undefined && options.encryption !== 'plaintext';
  const checks = options.only?.length ? selectChecks(pool, options.only) : [...(options.checks ?? (mse ? pool : ALL_CHECKS))];
  const needed = new Set(checks.flatMap((c) => c.scenarios));
  const sessions = new Map<ScenarioName, SessionRecord>();
  const deadline = Date.now() + options.timeoutMs;
  for (const name of SCENARIO_ORDER) {
    if (!needed.has(name)) continue;
    if (deadline - Date.now() <= 0) break;
    if (sessions.size > 0 && options.betweenConnections) {
      options.onProgress?.(`waiting before scenario ${name}`);
      await boundedBy(options.betweenConnections(name), deadline - Date.now());
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    options.onProgress?.(`scenario ${name}`);
    const record = await runScenario(name, target, { ...options, timeoutMs: left });
    // No connection at all is not a verdict on the peer's protocol: say so as a network error.
    if (sessions.size === 0 && record.end?.how === 'connect_failed') {
      throw new TransportError('connect_failed', `cannot connect to ${options.host}:${options.port}: ${record.end.message ?? 'refused'}`);
    }
    sessions.set(name, record);
  }
  return evaluateChecks(`${options.host}:${options.port}`, target, checks, sessions);
}

/** Await `p`, but no longer than `ms` (its rejection ends the wait too: the next connection then says what happened). */
async function boundedBy(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The pure half of a run: verdicts from recorded sessions. */
export function evaluateChecks(
  peer: string,
  target: ComplyTarget,
  checks: readonly CheckDef[],
  sessions: ReadonlyMap<ScenarioName, SessionRecord>,
): ComplianceReport {
  const results: CheckResult[] = checks.map((c) => {
    const missing = c.scenarios.filter((s) => !sessions.has(s));
    if (missing.length > 0) {
      return { id: c.id, bep: c.bep, section: c.section, title: c.title, result: 'skip', detail: `not run: scenario ${missing.join(', ')} ran out of time` };
    }
    try {
      const outcome = c.evaluate({ target, session: (n) => sessions.get(n) });
      return { id: c.id, bep: c.bep, section: c.section, title: c.title, ...outcome };
    } catch (e) {
      // A check that throws is a btscope bug; say so rather than pass or fail the peer.
      return { id: c.id, bep: c.bep, section: c.section, title: c.title, result: 'warn', detail: `checker error: ${(e as Error).message}` };
    }
  });
  const count = (k: CheckResult['result']) => results.filter((r) => r.result === k).length;
  return {
    peer,
    checks: results,
    passed: count('pass'),
    failed: count('fail'),
    warned: count('warn'),
    skipped: count('skip'),
    sessions: [...sessions.values()],
  };
}
