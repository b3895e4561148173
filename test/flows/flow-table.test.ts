import { describe, expect, it } from 'vitest';
import { B, D, FlowTable, SLOT_BYTES, U } from '../../src/flows/flow-table.js';

describe('FlowTable slot layout', () => {
  it('keeps the u32, f64 and byte fields of a slot apart, aligned, inside SLOT_BYTES', () => {
    expect(U.STRIDE * 4).toBe(SLOT_BYTES);
    expect(D.STRIDE * 8).toBe(SLOT_BYTES);
    expect(B.STRIDE).toBe(SLOT_BYTES);
    expect(U.END * 4).toBeLessThanOrEqual(D.LAST_TIME * 8);
    expect(D.END * 8).toBeLessThanOrEqual(B.PROTO);
    expect(B.END).toBeLessThanOrEqual(SLOT_BYTES);
    expect(SLOT_BYTES % 64).toBe(0);
  });
});

describe('FlowTable', () => {
  it('finds what it inserted, by every key field, and forgets what it removed', () => {
    const t = new FlowTable(16, 1000);
    const slots: number[] = [];
    for (let i = 0; i < 500; i++) slots.push(t.insert(i % 7, 0, 6, 10 + i, 20 + i, i));
    expect(t.live).toBe(500);
    for (let i = 0; i < 500; i++) expect(t.find(i % 7, 0, 6, 10 + i, 20 + i, i)).toBe(slots[i]);
    expect(t.find(3, 0, 6, 10 + 3, 20 + 3, 4)).toBe(-1); // ports differ
    expect(t.find(3 % 7, 0, 17, 13, 23, 3)).toBe(-1); // protocol differs
    expect(t.find(3 % 7, 5, 6, 13, 23, 3)).toBe(-1); // VLAN differs
    // Remove every other one: backward-shift deletion must keep the rest reachable (same hashes collide).
    for (let i = 0; i < 500; i += 2) t.remove(slots[i]!);
    expect(t.live).toBe(250);
    for (let i = 0; i < 500; i++) expect(t.find(i % 7, 0, 6, 10 + i, 20 + i, i)).toBe(i % 2 === 0 ? -1 : slots[i]);
    // A freed slot comes back zeroed.
    t.f64[slots[1]! * D.STRIDE + D.LAST_TIME] = 42;
    t.remove(slots[1]!);
    const again = t.insert(99, 0, 6, 1, 2, 3);
    expect(t.f64[again * D.STRIDE + D.LAST_TIME]).toBe(0);
    expect(t.u8[again * B.STRIDE + B.USED]).toBe(1);
  });

  it('grows up to its maximum and says when it is full', () => {
    const t = new FlowTable(16, 40);
    for (let i = 0; i < 40; i++) t.insert(i, 0, 6, i, i + 1, 0);
    expect(t.isFull()).toBe(true);
    expect(t.capacity).toBe(40);
    for (let i = 0; i < 40; i++) expect(t.find(i, 0, 6, i, i + 1, 0)).toBeGreaterThanOrEqual(0);
  });
});
