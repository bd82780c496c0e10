import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { havePeers } from '../helpers/peers.js';
import { btscopeSummary, tsharkCounts } from '../interop/trace-util.js';

const REALWORLD = new URL('../../../shared/captures/realworld/', import.meta.url).pathname;
const present = existsSync(REALWORLD);
if (!present) process.stderr.write(`\n*** ${REALWORLD} absent: real-world trace tests SKIPPED ***\n`);

describe.skipIf(!present || !havePeers('tshark'))('real-world captures: peer wire counts equal tshark (decode-as on their ports)', () => {
  it.each([
    ['360bs_a.pcap', ['tcp.port==62271,bittorrent']],
    ['ndpi_bittorrent_tcp_miss.pcapng', ['tcp.port==6881,bittorrent']],
    ['mippo.pcap', ['tcp.port==52833,bittorrent']],
  ])('%s', async (name, decodeAs) => {
    const ours = await btscopeSummary(REALWORLD + name);
    expect(ours.messages).toEqual(await tsharkCounts(REALWORLD + name, decodeAs));
  });
});

describe.skipIf(!present)('real-world captures: what each holds', () => {
  it('ndpi_bittorrent.pcap: 24 streams started mid-way, all found as peer wire', async () => {
    const s = await btscopeSummary(REALWORLD + 'ndpi_bittorrent.pcap');
    expect(s.streams).toBe(24);
    expect(s.streamList.every((x) => x['label'] === 'peer wire' && x['fromStart'] === false)).toBe(true);
    expect(s.messages['have']).toBeGreaterThan(0);
  });
  it('ndpi_bittorrent_tcp_miss.pcapng: the MSE/PE exchange labelled, then plaintext peer wire', async () => {
    const s = await btscopeSummary(REALWORLD + 'ndpi_bittorrent_tcp_miss.pcapng');
    expect(s.streamList[0]!['label']).toBe('peer wire after MSE/PE (plaintext)');
  });
  it('ndpi_bittorrent_utp.pcap: the uTP stream reassembled by seq_nr decodes with no byte left over', async () => {
    // tshark 4.0's bt-utp does not reorder packets, and this capture has some out of order:
    // it counts 220 "have" in a direction that carries 1109 bytes (at most 123 haves), so its
    // counts are not a reference here. Ours must account for every byte of the stream.
    const s = await btscopeSummary(REALWORLD + 'ndpi_bittorrent_utp.pcap');
    const utp = s.streamList.find((x) => x['transport'] === 'utp' && x['label'] === 'peer wire')!;
    const dirs = [utp['out'], utp['in']] as Array<{ undecodedBytes: number; gaps: number }>;
    expect(dirs.map((d) => [d.undecodedBytes, d.gaps])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect([s.messages['handshake'], s.messages['request'], s.messages['piece']]).toEqual([2, 2, 2]);
  });
  it('suricata and incc DHT: queries, responses and errors matched by transaction id', async () => {
    const s = await btscopeSummary(REALWORLD + 'suricata_bittorrent-dht.pcap');
    expect(s.other).toMatchObject({ 'dht.ping': 2, 'dht.find_node': 1, 'dht.get_peers': 2, 'dht.announce_peer': 2, 'dht.error': 2 });
    expect(s.transactions.filter((t) => t['protocol'] === 'dht' && t['outcome'] !== 'no response').length).toBeGreaterThan(0);
  });
  it('zeek_tracker.pcap: a gzip-encoded HTTP announce reply decoded', async () => {
    const s = await btscopeSummary(REALWORLD + 'zeek_tracker.pcap');
    expect(s.transactions).toMatchObject([{ protocol: 'http-tracker', kind: 'announce', outcome: '50 peers' }]);
  });
  it('ndpi_bt_search.pcap: LSD announces', async () => {
    const s = await btscopeSummary(REALWORLD + 'ndpi_bt_search.pcap');
    expect(s.other['lsd.announce']).toBe(2);
  });
});
