import { randomBytes } from 'node:crypto';

/**
 * How btscope names itself on the wire. The peer id is Azureus style (BEP 20)
 * with the client code `bS`, which btscope's own client table
 * (lib/wire/peer-id.ts) names "btscope"; `BS` there is BTSlave.
 */
export const PEER_ID_PREFIX = '-bS0100-';

/** The `v` of our extended handshake (BEP 10). */
export const CLIENT_VERSION = 'btscope 0.1';

/** `-bS0100-` + 12 random bytes. */
export function makePeerId(): Uint8Array {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode(PEER_ID_PREFIX), 0);
  id.set(randomBytes(12), 8);
  return id;
}
