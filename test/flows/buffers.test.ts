import { describe, expect, it } from 'vitest';
import { grownBuffer, releaseBuffers, reserveBuffer } from '../../src/flows/buffers.js';

describe('growable buffers', () => {
  it('grow with a copy of the old bytes, into the reservation when it is larger, else to the grown size', () => {
    const old = Uint8Array.of(1, 2, 3, 4);
    const grown = new Uint8Array(grownBuffer(old, 8, 0));
    expect([...grown]).toEqual([1, 2, 3, 4, 0, 0, 0, 0]);
    expect(grownBuffer(old, 8, 64).byteLength).toBe(64);
    expect(grownBuffer(old, 8, 6).byteLength).toBe(8);
    // A view's own bytes, not its whole buffer.
    expect([...new Uint8Array(grownBuffer(old.subarray(2), 4, 0))]).toEqual([3, 4, 0, 0]);
  });

  it('fall back to the grown size when the system refuses the reservation', () => {
    expect(reserveBuffer(2 ** 60)).toBeNull();
    expect(grownBuffer(Uint8Array.of(7), 2, 2 ** 60).byteLength).toBe(2);
  });

  it('are released at once: detached, and unusable afterwards', () => {
    const a = new ArrayBuffer(1 << 20);
    const b = new ArrayBuffer(16);
    releaseBuffers([a, b, new ArrayBuffer(0)]);
    expect(a.byteLength).toBe(0);
    expect(b.byteLength).toBe(0);
  });
});
