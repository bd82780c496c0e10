import { describe, expect, it } from 'vitest';
import { decodeAnnounceQuery, readAnnounceParams } from '../../lib/tracker/http-announce.js';

// The server's fast reader must agree with the annotated decoder on every value it acts on.
const TARGETS = [
  '/announce?info_hash=%12%34abcdefghijklmnop%FF&peer_id=-BS0001-000000000001&port=6881&uploaded=1&downloaded=2&left=3&compact=1&event=started&numwant=30',
  '/announce?info_hash=x&info_hash=y&port=1&port=2&event=stopped&event=started&no_peer_id=1&compact=0',
  '/announce?port=abc&port=7&left=-5&event=empty&event=started&numwant=',
  '/announce?peer_id=a+b%2&info_hash=%zz%41',
  '/announce',
  '/announce?',
  '/x/announce?passkey=s3cret&&info_hash=%00%01&=&port',
];

describe('readAnnounceParams (the tracker hot path) agrees with decodeAnnounceQuery', () => {
  it.each(TARGETS)('%s', (target) => {
    const slow = decodeAnnounceQuery(target).value;
    const fast = readAnnounceParams(target);
    for (const k of ['port', 'uploaded', 'downloaded', 'left', 'numwant', 'compact', 'noPeerId'] as const) expect(fast[k], k).toEqual(slow[k]);
    expect(fast.event).toEqual(slow.event === 'empty' ? undefined : slow.event);
    expect(fast.infoHash && [...fast.infoHash]).toEqual(slow.infoHash && [...slow.infoHash]);
    expect(fast.peerId && [...fast.peerId]).toEqual(slow.peerId && [...slow.peerId]);
    expect(fast.infoHashes.map((h) => [...h])).toEqual(slow.params.filter((p) => p.key === 'info_hash').map((p) => [...p.value]));
  });
});
