import { appendFileSync } from 'node:fs';
import { toHex } from '../lib/core/bytes.js';
import type { MseInfo } from '../lib/transport/mse.js';

/**
 * The MSE key log (the SSLKEYLOGFILE idea): one line per MSE connection,
 *
 *   MSE_SECRET <info-hash, 40 hex> <S, the Diffie-Hellman shared secret, 192 hex> <peer>
 *
 * appended as each handshake finishes. `btscope trace CAPTURE --keylog FILE`
 * finds each encrypted stream's secret by HASH('req1', S) and decrypts it.
 * Anyone holding the file can read those connections: keep it private.
 */
export function keylogWriter(file: string | undefined): ((info: MseInfo, peer: string) => void) | undefined {
  const path = file ?? process.env['BTSCOPE_KEYLOG'];
  if (!path) return undefined;
  return (info, peer) => appendFileSync(path, `MSE_SECRET ${toHex(info.infoHash)} ${toHex(info.secret)} ${peer}\n`, { mode: 0o600 });
}
