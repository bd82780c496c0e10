import type { EncryptionPolicy } from '../lib/mse/constants.js';
import { CRYPTO_RC4 } from '../lib/mse/constants.js';
import { encryptedDialer, WrappedTransport } from '../lib/transport/mse.js';
import type { Transport } from '../lib/transport/transport.js';
import { keylogWriter } from './keylog.js';

/** The `dial` a probe tool passes to its connection under `--encryption` (nothing for plaintext). */
export function encryptionDial(argv: { encryption?: EncryptionPolicy; keylog?: string }, infoHash: Uint8Array): { dial?: ReturnType<typeof encryptedDialer> } {
  const policy = argv.encryption ?? 'plaintext';
  if (policy === 'plaintext') return {};
  const log = keylogWriter(argv.keylog);
  return { dial: encryptedDialer(policy, infoHash, log ? { onMse: (i, t) => log(i, t.peer) } : {}) };
}

/** What carried the connection, for the tools' output. */
export function encryptionText(t: Transport): string {
  const mse = t instanceof WrappedTransport ? t.mse : undefined;
  if (!mse) return 'plaintext (no MSE; --encryption prefer|require to try it)';
  return mse.cryptoSelect === CRYPTO_RC4 ? 'MSE/PE, RC4 (decrypted frames shown)' : 'MSE/PE handshake, then plaintext (crypto_select plaintext)';
}
