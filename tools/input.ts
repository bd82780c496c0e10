import { readFile } from 'node:fs/promises';
import { UsageError } from '../lib/core/errors.js';

/** Read a file argument, or stdin for `-`, bounded so a wrong pipe cannot eat memory. */
export async function readInput(path: string, maxBytes = 512 * 1024 * 1024): Promise<Uint8Array> {
  if (path === '-' || path === '/dev/stdin') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw new UsageError(`stdin is larger than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return new Uint8Array(Buffer.concat(chunks));
  }
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`${path}: is a directory`);
    throw e;
  }
}
