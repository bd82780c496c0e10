import { describe, expect, it } from 'vitest';
import { maskSecrets, parseQuery, parseTrackerUrl, percentEncodeBytes, scrapeUrlOf } from '../../lib/tracker/url.js';
import { TrackerError } from '../../lib/tracker/errors.js';
import { fromHex } from '../../lib/core/bytes.js';

describe('scrape URL from the announce URL (BEP 48 examples)', () => {
  it.each([
    ['http://example.com/announce', 'http://example.com/scrape'],
    ['http://example.com/x/announce', 'http://example.com/x/scrape'],
    ['http://example.com/announce.php', 'http://example.com/scrape.php'],
    ['http://example.com/announce?x2%0644', 'http://example.com/scrape?x2%0644'],
    ['http://example.com/announce?x=2/4', 'http://example.com/scrape?x=2/4'],
    ['udp://tracker.example:1337/announce', 'udp://tracker.example:1337/announce'],
  ])('%s -> %s', (announce, scrape) => {
    expect(scrapeUrlOf(announce)).toBe(scrape);
  });

  it.each(['http://example.com/a', 'http://example.com/x%064announce', 'http://example.com', 'http://example.com/announce/x'])('%s has no scrape URL', (announce) => {
    try {
      scrapeUrlOf(announce);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TrackerError);
      expect((e as TrackerError).code).toBe('no_scrape_url');
    }
  });
});

describe('tracker URLs', () => {
  it('parses schemes, default ports and IPv6 hosts', () => {
    expect(parseTrackerUrl('http://t.example/announce')).toMatchObject({ scheme: 'http', host: 't.example', port: 80, pathAndQuery: '/announce' });
    expect(parseTrackerUrl('https://t.example/a?pk=1')).toMatchObject({ scheme: 'https', port: 443, pathAndQuery: '/a?pk=1' });
    expect(parseTrackerUrl('udp://[::1]:6969/announce')).toMatchObject({ scheme: 'udp', host: '::1', port: 6969 });
  });

  it.each([
    ['ws://t.example/announce', 'unsupported_scheme'],
    ['udp://t.example/announce', 'bad_url'],
    ['not a url', 'bad_url'],
  ])('%s -> %s', (url, code) => {
    expect(() => parseTrackerUrl(url)).toThrow(expect.objectContaining({ code }));
  });
});

describe('percent-encoding (BEP 3: raw bytes, byte by byte)', () => {
  it('the BEP 3 style example hash', () => {
    const hash = fromHex('123456789abcdef123456789abcdef123456789a');
    expect(percentEncodeBytes(hash)).toBe('%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A');
  });

  it('parseQuery decodes back to the same bytes, with spans', () => {
    const hash = fromHex('00ff2b26253d20417a7e2e2d5f');
    const q = `a=1&info_hash=${percentEncodeBytes(hash)}&flag&x=%zz`;
    const params = parseQuery(q, 10);
    expect(params.map((p) => p.key)).toEqual(['a', 'info_hash', 'flag', 'x']);
    expect(params[1]!.value).toEqual(hash);
    expect(params[1]!.start).toBe(4);
    expect(params[2]!.value).toEqual(new Uint8Array(0));
    expect(params[3]!.diagnostics.map((d) => [d.code, d.span.start])).toEqual([['bad_percent_escape', 10 + q.indexOf('%zz')]]);
  });

  it("'+' is a space in a query (form encoding)", () => {
    expect(new TextDecoder().decode(parseQuery('k=a+b')[0]!.value)).toBe('a b');
  });
});

describe('passkeys are masked', () => {
  it.each([
    ['http://t.example/0123456789abcdef0123456789abcdef/announce', 'http://t.example/***/announce'],
    ['https://t.example/announce.php?passkey=s3cr3t&foo=1', 'https://t.example/announce.php?passkey=***&foo=1'],
    ['http://user:pw@t.example:8080/announce', 'http://***@t.example:8080/announce'],
    ['udp://t.example:6969/announce', 'udp://t.example:6969/announce'],
    ['http://t.example/announce?authkey=a&torrent_pass=b', 'http://t.example/announce?authkey=***&torrent_pass=***'],
  ])('%s -> %s', (url, masked) => {
    expect(maskSecrets(url)).toBe(masked);
  });
});
