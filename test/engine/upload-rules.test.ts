import { describe, expect, it } from 'vitest';
import { judgeRequest, allowedFastIpv4, servedWhileChoked, MAX_REQUEST_LENGTH, type RequestRuleContext, type RequestVerdict } from '../../lib/engine/upload-rules.js';

/** 4 pieces of 32 KiB, the last 1000 bytes; we have pieces 0, 1 and 3; piece 1 is allowed fast. */
const base: RequestRuleContext = {
  pieceCount: 4,
  pieceSize: (i) => (i === 3 ? 1000 : 32768),
  hasPiece: (i) => i !== 2,
  choking: false,
  allowedFast: new Set([1]),
  fast: true,
  queued: 0,
  maxQueued: 8,
};

const cases: [string, { index: number; begin: number; length: number }, Partial<RequestRuleContext>, RequestVerdict, RegExp?][] = [
  ['a valid block while unchoked', { index: 0, begin: 16384, length: 16384 }, {}, 'serve'],
  ['the short last block', { index: 3, begin: 0, length: 1000 }, {}, 'serve'],
  ['a piece index past the end, fast', { index: 4, begin: 0, length: 16384 }, {}, 'reject', /piece 4 of 4/],
  ['a piece index past the end, no fast: close', { index: 4, begin: 0, length: 16384 }, { fast: false }, 'close', /piece 4 of 4/],
  ['over 16 KiB, fast', { index: 0, begin: 0, length: MAX_REQUEST_LENGTH + 1 }, {}, 'reject', /16385 bytes/],
  ['over 16 KiB, no fast: close (BEP 3)', { index: 0, begin: 0, length: 32768 }, { fast: false }, 'close', /32768 bytes/],
  ['zero length', { index: 0, begin: 0, length: 0 }, {}, 'reject', /0 bytes/],
  ['past the end of the piece', { index: 3, begin: 992, length: 16 }, {}, 'reject', /past the end of piece 3/],
  ['past the end of the piece, no fast', { index: 0, begin: 32760, length: 16 }, { fast: false }, 'close'],
  ['a piece we do not have, fast', { index: 2, begin: 0, length: 16384 }, {}, 'reject', /do not have/],
  ['a piece we do not have, no fast: ignored', { index: 2, begin: 0, length: 16384 }, { fast: false }, 'ignore'],
  ['while choked, fast', { index: 0, begin: 0, length: 16384 }, { choking: true }, 'reject', /choked/],
  ['while choked, no fast: ignored (BEP 3)', { index: 0, begin: 0, length: 16384 }, { choking: true, fast: false }, 'ignore'],
  ['while choked, allowed fast piece: served (BEP 6)', { index: 1, begin: 0, length: 16384 }, { choking: true }, 'serve'],
  ['while choked, allowed fast set but no fast extension', { index: 1, begin: 0, length: 16384 }, { choking: true, fast: false }, 'ignore'],
  ['queue full, fast', { index: 0, begin: 0, length: 16384 }, { queued: 8 }, 'reject', /more than 8/],
  ['queue full, no fast', { index: 0, begin: 0, length: 16384 }, { queued: 8, fast: false }, 'ignore'],
];

describe('judgeRequest (BEP 3 request limits, BEP 6 one answer per request)', () => {
  it.each(cases)('%s', (_name, r, ctx, verdict, reason) => {
    const j = judgeRequest(r, { ...base, ...ctx });
    expect(j.verdict).toBe(verdict);
    if (reason) expect(j.reason).toMatch(reason);
    if (verdict === 'serve') expect(j.reason).toBeUndefined();
  });

  it('malformed requests are judged before choking or the queue', () => {
    expect(judgeRequest({ index: 9, begin: 0, length: 16384 }, { ...base, fast: false, choking: true, queued: 99 }).verdict).toBe('close');
  });
});

describe('servedWhileChoked', () => {
  it.each([
    [1, true, true],
    [0, true, false],
    [1, false, false],
  ])('piece %i, fast %s: %s', (index, fast, want) => {
    expect(servedWhileChoked({ index, begin: 0, length: 16384 }, fast, new Set([1]))).toBe(want);
  });
});

describe('allowedFastIpv4', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::1', undefined],
    ['fe80::1', undefined],
    ['', undefined],
  ])('%s -> %s', (address, want) => {
    expect(allowedFastIpv4(address)).toBe(want);
  });
});
