import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { B, D, FlowTable, HISTORY_MAX, MAC_SET_SIZE, SLOT_BYTES, U } from '../../src/flows/flow-table.js';

describe('FlowTable slot layout', () => {
  it('keeps every field of a slot apart, aligned, inside SLOT_BYTES', () => {
    expect(U.STRIDE * 4).toBe(SLOT_BYTES);
    expect(D.STRIDE * 8).toBe(SLOT_BYTES);
    expect(B.STRIDE).toBe(SLOT_BYTES);
    expect(SLOT_BYTES % 16).toBe(0);
    // [name, first byte, bytes]: every field with its element count, as the tracker uses it.
    const u = (name: string, at: number, n = 1): [string, number, number] => [name, at * 4, n * 4];
    const d = (name: string, at: number, n = 1): [string, number, number] => [name, at * 8, n * 8];
    const b = (name: string, at: number, n = 1): [string, number, number] => [name, at, n];
    const fields = [
      u('VLAN', U.VLAN), u('IP_A', U.IP_A), u('IP_B', U.IP_B), u('PORTS', U.PORTS), u('HASH', U.HASH),
      u('CT_LAST_SEQ', U.CT_LAST_SEQ), u('CT_LAST_ACK', U.CT_LAST_ACK), u('CT_LAST_END', U.CT_LAST_END),
      u('CT_LAST_WIN', U.CT_LAST_WIN), u('TD_END', U.TD_END, 2), u('TD_MAXEND', U.TD_MAXEND, 2),
      u('TD_MAXWIN', U.TD_MAXWIN, 2), u('TD_MAXACK', U.TD_MAXACK, 2), u('Z_SEEN', U.Z_SEEN),
      u('LAST_FRAME', U.LAST_FRAME), u('LAST_SEC', U.LAST_SEC), u('LAST_NS', U.LAST_NS), u('TTLS', U.TTLS, 2),
      u('Z_LAST_SEQ', U.Z_LAST_SEQ, 2), u('VERDICTS', U.VERDICTS, 4), u('Z_LOG', U.Z_LOG, 4),
      u('EV_HEAD', U.EV_HEAD), u('EV_TAIL', U.EV_TAIL), u('Z_LAST_SYN', U.Z_LAST_SYN, 2),
      u('Z_LAST_FIN', U.Z_LAST_FIN, 2), u('Z_LAST_RST', U.Z_LAST_RST, 2), u('FIRST_FRAME', U.FIRST_FRAME),
      u('FIRST_SEC', U.FIRST_SEC), u('FIRST_NS', U.FIRST_NS), u('EV_DROPPED', U.EV_DROPPED),
      u('ICMP_ERRORS', U.ICMP_ERRORS), u('CT_ENTRIES', U.CT_ENTRIES),
      d('LAST_TIME', D.LAST_TIME), d('CT_EXPIRES', D.CT_EXPIRES), d('PKTS', D.PKTS, 2),
      d('IP_BYTES', D.IP_BYTES, 2), d('PAYLOAD_BYTES', D.PAYLOAD_BYTES, 2), d('Z_PAYLOAD', D.Z_PAYLOAD, 2),
      d('MACS', D.MACS, 2 * MAC_SET_SIZE), d('CT_CREATED', D.CT_CREATED),
      b('PROTO', B.PROTO), b('USED', B.USED), b('CT_ORIG_IS_A', B.CT_ORIG_IS_A), b('CT_STATE', B.CT_STATE),
      b('CT_STATUS', B.CT_STATUS), b('CT_LAST_INDEX', B.CT_LAST_INDEX), b('CT_LAST_DIR', B.CT_LAST_DIR),
      b('CT_LAST_FLAGS', B.CT_LAST_FLAGS), b('CT_LAST_WSCALE', B.CT_LAST_WSCALE), b('CT_RETRANS', B.CT_RETRANS),
      b('TD_SCALE', B.TD_SCALE, 2), b('TD_FLAGS', B.TD_FLAGS, 2), b('Z_ORIG_IS_A', B.Z_ORIG_IS_A),
      b('Z_STATE', B.Z_STATE, 2), b('Z_HAS', B.Z_HAS, 2), b('Z_HIST_LEN', B.Z_HIST_LEN), b('EV_COUNT', B.EV_COUNT),
      b('EV_FLAGS', B.EV_FLAGS), b('MAC_COUNT', B.MAC_COUNT, 2), b('TTL_COUNT', B.TTL_COUNT, 2),
      b('MAC_OVERFLOW', B.MAC_OVERFLOW), b('Z_HIST', B.Z_HIST, HISTORY_MAX),
    ];
    const owner = new Array<string | undefined>(SLOT_BYTES);
    for (const [name, at, bytes] of fields) {
      expect(at + bytes, name).toBeLessThanOrEqual(SLOT_BYTES);
      for (let i = at; i < at + bytes; i++) {
        expect(owner[i], `${name} overlaps ${owner[i]} at byte ${i}`).toBeUndefined();
        owner[i] = name;
      }
    }
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

  it('lists its live slots in storage order, and fails loudly when its live count is out of step', () => {
    const t = new FlowTable(16, 1000);
    const slots: number[] = [];
    for (let i = 0; i < 40; i++) slots.push(t.insert(i, 0, 6, i, i + 1, 0));
    for (let i = 0; i < 40; i += 3) t.remove(slots[i]!);
    expect([...t.liveSlots()]).toEqual(slots.filter((_, i) => i % 3 !== 0).sort((a, b) => a - b));
    // A typed array drops writes past its end: a wrong count would lose flows without a word.
    t.live--;
    expect(() => t.liveSlots()).toThrow(/slots in use/);
  });

  it('stays at its initial size while it fits, then moves once into its reservation and is not copied again', () => {
    const t = new FlowTable(16, 100_000, 5000);
    for (let i = 0; i < 16; i++) t.insert(i, 0, 6, i, i + 1, 0);
    expect(t.capacity).toBe(16);
    t.insert(16, 0, 6, 16, 17, 0);
    expect(t.capacity).toBe(5000);
    const storage = t.u8.buffer;
    for (let i = 17; i < 5000; i++) t.insert(i, 0, 6, i, i + 1, 0);
    expect(t.u8.buffer).toBe(storage);
    // Beyond the reservation it grows by half, keeping every flow.
    t.insert(5000, 0, 6, 5000, 5001, 0);
    expect(t.capacity).toBe(7500);
    for (let i = 0; i <= 5000; i++) expect(t.find(i, 0, 6, i, i + 1, 0)).toBeGreaterThanOrEqual(0);
  });

  it('grows up to its maximum and says when it is full', () => {
    const t = new FlowTable(16, 40);
    for (let i = 0; i < 40; i++) t.insert(i, 0, 6, i, i + 1, 0);
    expect(t.isFull()).toBe(true);
    expect(t.capacity).toBe(40);
    for (let i = 0; i < 40; i++) expect(t.find(i, 0, 6, i, i + 1, 0)).toBeGreaterThanOrEqual(0);
  });

  it('agrees with a Map on any mix of inserts, removals and lookups, with full 32-bit hashes that collide', () => {
    // Hashes share their low bits (so they probe the same entries) and some are above 2^31.
    const hashArb = fc.constantFrom(0x0000_0005, 0x8000_0005, 0xffff_fff5, 0x7fff_0005, 0x1234_5675, 0xdead_beef);
    const opArb = fc.tuple(fc.constantFrom('insert', 'remove', 'find'), hashArb, fc.integer({ min: 0, max: 12 }));
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        const t = new FlowTable(16, 10_000);
        const model = new Map<string, number>();
        const key = (hash: number, k: number): string => `${hash}/${k}`;
        for (const [op, hash, k] of ops) {
          const name = key(hash, k);
          const found = t.find(hash, k % 2, 6, 10 + k, 20, k);
          expect(found).toBe(model.get(name) ?? -1);
          if (op === 'insert' && found < 0) model.set(name, t.insert(hash, k % 2, 6, 10 + k, 20, k));
          else if (op === 'remove' && found >= 0) {
            t.remove(found);
            model.delete(name);
          }
        }
        expect(t.live).toBe(model.size);
        for (const [name, slot] of model) {
          const [hash, k] = name.split('/').map(Number) as [number, number];
          expect(t.find(hash, k % 2, 6, 10 + k, 20, k)).toBe(slot);
        }
      }),
      { seed: 0x7ab1e, numRuns: 500 },
    );
  });
});
