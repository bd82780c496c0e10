import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { havePeers } from '../helpers/peers.js';
import { announce, scrape, clearConnectionIds } from '../../lib/tracker/client/announce.js';
import type { AnnounceRequest } from '../../lib/tracker/types.js';
import { startOpentracker, type Opentracker } from './tracker-util.js';

const hashes = { http: new Uint8Array(randomBytes(20)), udp: new Uint8Array(randomBytes(20)), unlisted: new Uint8Array(randomBytes(20)) };
const peer = (infoHash: Uint8Array, n: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
  infoHash,
  peerId: new TextEncoder().encode(`-BS0001-${String(n).padStart(12, '0')}`),
  port: 20000 + n,
  uploaded: 0,
  downloaded: 0,
  left: n === 1 ? 0 : 5000,
  event: 'started',
  ...extra,
});
const opts = { timeoutMs: 5000 };

describe.skipIf(!havePeers('opentracker'))('interop: our prober against Debian opentracker', () => {
  let ot: Opentracker;
  beforeAll(async () => {
    ot = await startOpentracker([hashes.http, hashes.udp]);
  });
  afterAll(async () => {
    await ot?.stop();
  });

  describe.each(['http', 'udp'] as const)('over %s', (proto) => {
    const url = () => (proto === 'http' ? ot.url : ot.udpUrl);
    const h = hashes[proto];

    it('two announces with different ports see each other', async () => {
      clearConnectionIds();
      const a = await announce(url(), peer(h, 1), opts);
      expect(a.interval).toBeGreaterThan(0);
      const b = await announce(url(), peer(h, 2), opts);
      // opentracker includes the announcing peer itself in the list.
      expect(b.peers).toContainEqual({ ip: '127.0.0.1', port: 20001 });
      const a2 = await announce(url(), peer(h, 1, { event: undefined }), opts);
      expect(a2.peers).toContainEqual({ ip: '127.0.0.1', port: 20002 });
      expect([a2.complete, a2.incomplete]).toEqual([1, 1]);
      for (const r of [a, b, a2]) for (const f of r.frames) expect(f.diagnostics ?? []).toEqual([]);
    });

    it('scrape counts match the announces', async () => {
      await announce(url(), peer(h, 3, { event: 'completed', left: 0 }), opts);
      const s = await scrape(url(), [h], opts);
      expect(s.files).toHaveLength(1);
      expect(s.files[0]).toMatchObject({ complete: 2, incomplete: 1, downloaded: 1 });
    });

    it('stopped removes the peer', async () => {
      await announce(url(), peer(h, 2, { event: 'stopped' }), opts);
      const s = await scrape(url(), [h], opts);
      expect(s.files[0]).toMatchObject({ complete: 2, incomplete: 0 });
    });
  });

  it('a hash not on the whitelist is refused with its failure reason (HTTP) or a bare 8-byte header (UDP)', async () => {
    const http = await announce(ot.url, peer(hashes.unlisted, 1), opts).catch((e) => e);
    expect(http.code).toBe('failure_reason');
    expect(http.message).toMatch(/not authorized/);
    const udp = await announce(ot.udpUrl, peer(hashes.unlisted, 1), opts).catch((e) => e);
    // Debian's opentracker answers a refused UDP announce with a bare 8-byte header (no error packet).
    expect(udp.code).toBe('bad_response');
    expect(udp.offset).toBe(8);
    expect(udp.message).toMatch(/is 8 bytes, BEP 15 needs at least 20.*refuses this torrent/);
  });
});
