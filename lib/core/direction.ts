/**
 * Which way a frame travels. For a live connection `out` is what we send and `in`
 * what we receive; for a capture, `out` is from the connection's initiator.
 */
export type Direction = 'out' | 'in';

export const opposite = (d: Direction): Direction => (d === 'out' ? 'in' : 'out');
