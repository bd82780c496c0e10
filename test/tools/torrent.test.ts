import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encode } from '../../lib/bencode/encode.js';
import { toHex } from '../../lib/core/bytes.js';
import { parseMagnet } from '../../lib/magnet/parse.js';
import { handler as magnetHandler } from '../../tools/commands/magnet.js';
import { handler as torrentHandler } from '../../tools/commands/torrent.js';
import { captureIo } from '../../tools/io.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const sample = (n: string) => path.join(repoRoot, 'samples', n);
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-torrent-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

async function torrentJson(file: string): Promise<Record<string, unknown>> {
  const io = captureIo();
  const code = await torrentHandler({ file, json: true, frames: false, magnet: false, 'max-files': 100, io });
  expect(code).toBe(0);
  return JSON.parse(io.text());
}

describe('btscope torrent (handler)', () => {
  it('--json on the multi-file sample: the documented fields, checked against the raw bytes', async () => {
    const j = await torrentJson(sample('multi.torrent'));
    const raw = new Uint8Array(readFileSync(sample('multi.torrent')));
    const [s, e] = j['infoSpan'] as [number, number];
    const { createHash } = await import('node:crypto');
    expect(j['infoHash']).toBe(createHash('sha1').update(raw.subarray(s, e)).digest('hex'));
    expect(j['infoHashV2']).toBeNull();
    expect(j).toMatchObject({
      name: 'demo',
      pieceLength: 32768,
      pieceCount: 2,
      length: 60200,
      private: false,
      trackers: [['http://127.0.0.1:6969/announce', 'udp://127.0.0.1:6969/announce'], ['http://[::1]:6969/announce']],
      webSeeds: ['http://127.0.0.1:8080/files/'],
      diagnostics: [],
    });
    expect(j['files']).toEqual([
      { path: 'demo/docs/data.bin', length: 50000, offset: 0, pad: false },
      { path: 'demo/docs/empty.txt', length: 0, offset: 50000, pad: false },
      { path: 'demo/readme.txt', length: 10200, offset: 50000, pad: false },
    ]);
  });

  it('--json on the hybrid sample: both hashes, pad files flagged', async () => {
    const j = await torrentJson(sample('hybrid.torrent'));
    expect(j['infoHash']).toMatch(/^[0-9a-f]{40}$/);
    expect(j['infoHashV2']).toMatch(/^[0-9a-f]{64}$/);
    expect((j['files'] as { pad: boolean }[]).map((f) => f.pad)).toEqual([false, true, false, true]);
  });

  it('--magnet gives a link that parses back to the same hashes', async () => {
    const io = captureIo();
    await torrentHandler({ file: sample('hybrid.torrent'), json: false, frames: false, magnet: true, 'max-files': 100, io });
    const j = await torrentJson(sample('hybrid.torrent'));
    const m = parseMagnet(io.text());
    expect([toHex(m.infoHash!), toHex(m.infoHashV2!), m.name]).toEqual([j['infoHash'], j['infoHashV2'], 'hy']);
  });

  it('--frames names the keys with their BEPs and counts the piece hashes', async () => {
    const io = captureIo();
    await torrentHandler({ file: sample('single.torrent'), json: false, frames: true, magnet: false, 'max-files': 100, io });
    const text = io.text();
    expect(text).toContain('pieces = 2 SHA-1 hashes');
    expect(text).toContain('piece length = 32768 (32.0 KiB)');
    expect(text).toMatch(/info = info-hash v1 73380010/);
    // The piece hashes are shown as their bytes: 40:\x89\x4d\xca...
    expect(text).toMatch(/0000008e: 34 30 3a 89 4d ca 83 a9/);
  });

  it('the summary lists files in a table and diagnostics with offsets', async () => {
    const bytes = encode({ info: { name: 'x', 'piece length': 16384, pieces: new Uint8Array(20), files: [{ length: 3, path: ['..', 'evil'] }] } });
    const file = path.join(tmp, 'evil.torrent');
    writeFileSync(file, bytes);
    const io = captureIo();
    expect(await torrentHandler({ file, json: false, frames: false, magnet: false, 'max-files': 100, io })).toBe(0);
    expect(io.text()).toMatch(/│ 0 │ x\/\.\.\/evil/);
    expect(io.text()).toMatch(/warning unsafe_path at byte \d+: path component "\.\." refers to the current or parent folder/);
  });

  it('btscope magnet --json', async () => {
    const io = captureIo();
    await magnetHandler({ uri: 'magnet:?xt=urn:btih:d69f09fd915ddacc226676b186de3aea8e9d3984&dn=hy&x.pe=127.0.0.1:6881', json: true, io });
    expect(JSON.parse(io.text())).toEqual({
      infoHash: 'd69f09fd915ddacc226676b186de3aea8e9d3984',
      infoHashV2: null,
      name: 'hy',
      trackers: [],
      webSeeds: [],
      peers: ['127.0.0.1:6881'],
      selectOnly: null,
    });
  });
});

describe('btscope torrent (CLI): broken input gives exit 3 and one line on stderr, no stack', () => {
  const single = readFileSync(sample('single.torrent'));
  const cases: [string, Uint8Array | string, RegExp][] = [
    ['empty', new Uint8Array(0), /is an empty file/],
    ['html', '<!DOCTYPE html><html><body>403 Forbidden</body></html>', /is an HTML page/],
    ['gzip', gzipSync(single), /is gzip-compressed data/],
    ['magnet', 'magnet:?xt=urn:btih:d69f09fd915ddacc226676b186de3aea8e9d3984\n', /holding a magnet link/],
    ['truncated', single.subarray(0, 120), /at byte \d+, unexpected_eof/],
    ['deep', 'l'.repeat(200_000), /at byte 100, depth_exceeded/],
    ['lying length', 'd4:infod4:name99999:x', /string of 99999 bytes but only 1 remain \(info\.name at byte 14, unexpected_eof\)/],
    ['absurd length', 'd4:infod4:name999999999999:x', /at byte 14, limit_exceeded/],
    ['absurd integer', 'd4:infod6:lengthi99999999999999999999999e', /overflow/],
    ['not a dict', 'i42e', /a torrent is a bencoded dict; this is an integer \(at byte 0, not_a_torrent\)/],
  ];
  it.each(cases)('%s', async (name, content, message) => {
    const file = path.join(tmp, `${name.replace(/ /g, '_')}.torrent`);
    writeFileSync(file, content);
    const r = await run(['torrent', file]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^btscope: /);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('a torrent with error diagnostics prints its summary, then exits 3 with one stderr line', async () => {
    const file = path.join(tmp, 'short-pieces.torrent');
    writeFileSync(file, encode({ info: { name: 'x', 'piece length': 16384, length: 40000, pieces: new Uint8Array(20) } }));
    const r = await run(['torrent', file]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('info-hash v1');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/holds 1 hashes but the files make 3 pieces \(at byte \d+, invalid_hashes\)$/)]);
  });

  it('magnet: a bad link exits 3 naming the offset', async () => {
    const r = await run(['magnet', 'magnet:?xt=urn:btih:xyz']);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe('btscope: magnet link: urn:btih: needs 40 hex digits or 32 base32 characters, got 3 characters (xt at byte 20, invalid_value)');
  });
});
