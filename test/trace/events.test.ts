import { describe, expect, it } from 'vitest';
import { traceEvent } from '../../lib/trace/events.js';
import type { StreamSummary } from '../../lib/trace/types.js';

const dir = () => ({ bytes: 0, messages: 0, undecodedBytes: 0, gaps: 0, gapBytes: 0 });
const stream: StreamSummary = { id: 7, transport: 'utp', protocol: 'peer', label: 'peer wire', a: '10.0.0.1:5000', b: '10.0.0.2:6881', firstTime: 0, lastTime: 0, fromStart: true, out: dir(), in: dir() };
const frame = () => ({ title: 't', bytes: new Uint8Array([1]), base: 3, fields: [], meta: { decoder: 'x' } });
const parts = { time: 1.5, type: 'have', text: 'have index=1', offset: 3, end: 12, packets: [4, 5], fields: { index: 1 }, frame };

describe('traceEvent: the one event builder', () => {
  it('endpoints follow the direction, transport comes from the stream', () => {
    const out = traceEvent(stream, 'out', 'peer', parts);
    const back = traceEvent(stream, 'in', 'peer', parts);
    expect([out.src, out.dst, back.src, back.dst]).toEqual(['10.0.0.1:5000', '10.0.0.2:6881', '10.0.0.2:6881', '10.0.0.1:5000']);
    expect(out).toMatchObject({ time: 1.5, stream: 7, direction: 'out', transport: 'utp', protocol: 'peer', type: 'have', text: 'have index=1', offset: 3, end: 12, packets: [4, 5], fields: { index: 1 } });
    expect('diagnostics' in out).toBe(false);
  });

  it('the frame is built when asked, its meta naming the stream and then where it was found', () => {
    let built = 0;
    let asked = 0;
    const e = traceEvent(stream, 'out', 'peer', {
      ...parts,
      frame: () => (built++, frame()),
      where: () => (asked++, { flow: 'a → b', packets: '4,5' }),
    });
    expect([built, asked]).toEqual([0, 0]);
    const f = e.frame();
    expect(Object.entries(f.meta!)).toEqual([
      ['decoder', 'x'],
      ['stream', 7],
      ['flow', 'a → b'],
      ['packets', '4,5'],
    ]);
    expect(traceEvent(stream, 'in', 'dht', parts).frame().meta).toEqual({ decoder: 'x', stream: 7 });
  });

  it('diagnostics only when there are some', () => {
    const d = { code: 'x', severity: 'warning' as const, message: 'm', span: { start: 0, end: 1 } };
    expect(traceEvent(stream, 'out', 'dht', { ...parts, diagnostics: [] }).diagnostics).toBeUndefined();
    expect(traceEvent(stream, 'out', 'dht', { ...parts, diagnostics: [d] }).diagnostics).toEqual([d]);
  });
});
