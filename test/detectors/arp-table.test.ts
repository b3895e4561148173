import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Frame, Layer } from '../../src/decode/frame.js';
import { ArpTable } from '../../src/detectors/arp-table.js';
import { newEventCounters } from '../../src/events.js';

const MAC0 = 0x020000000000; // above 2^32: MACs are doubles
const IP0 = 0x0a050000;

/** One ARP frame as the decoder leaves it: only the fields the table reads are set. */
interface Claim {
  op: number;
  vlan: number;
  sender: number;
  senderMac: number;
  /** 0: 0.0.0.0; 1: the sender's own address (gratuitous); else another address. */
  target: number;
  targetMac: number;
  link: number;
  gapMs: number;
}

const claimArb: fc.Arbitrary<Claim> = fc.record({
  op: fc.constantFrom(1, 1, 2, 2, 3),
  vlan: fc.constantFrom(0, 0, 0, 5),
  sender: fc.constantFrom(0, 1, 1, 2, 2, 3),
  senderMac: fc.constantFrom(0, 1, 1, 1, 1, 2, 3),
  target: fc.constantFrom(0, 1, 2, 3, 4),
  targetMac: fc.constantFrom(0, 7, 8),
  link: fc.constantFrom(0, 0, 0, 1, 2), // Ethernet, Linux cooked, none
  // Within the one-second answer window, around the 60 s conflict window, and far beyond.
  gapMs: fc.constantFrom(0, 1, 300, 2000, 59_000, 61_000, 3_600_000),
});

function frameOf(c: Claim, i: number, ms: number): Frame {
  const f = new Frame(newEventCounters());
  f.frameNo = i + 1;
  f.tsSec = 1_700_000_000 + Math.floor(ms / 1000);
  f.tsNs = (ms % 1000) * 1e6 + (i % 1000);
  f.layers = [Layer.ETHERNET, Layer.SLL, 0][c.link]! | Layer.ARP;
  f.vlanDepth = c.vlan === 0 ? 0 : 1;
  f.vlan0 = c.vlan;
  f.srcMac = c.link === 2 ? 0 : c.senderMac === 0 ? MAC0 + 99 : MAC0 + c.senderMac;
  f.dstMac = c.link === 0 ? 0xffffffffffff : 0;
  f.arpOp = c.op;
  f.arpSenderIp = c.sender === 0 ? 0 : IP0 + c.sender;
  f.arpSenderMac = c.senderMac === 0 ? 0 : MAC0 + c.senderMac;
  f.arpTargetIp = c.target === 0 ? 0 : c.target === 1 ? f.arpSenderIp : IP0 + c.target;
  f.arpTargetMac = c.targetMac === 0 ? 0 : MAC0 + c.targetMac;
  return f;
}

describe('ArpTable', () => {
  it('keeps a quiet binding as a row that wakes into the very binding the object path builds (random ARP sequences)', () => {
    fc.assert(
      fc.property(fc.array(claimArb, { maxLength: 200, size: 'max' }), fc.integer({ min: 1, max: 5 }), (claims, maxIps) => {
        const rows = new ArpTable(60, maxIps);
        const objects = new ArpTable(60, maxIps, false);
        let ms = 0;
        let last: Frame | null = null;
        claims.forEach((c, i) => {
          ms += c.gapMs;
          last = frameOf(c, i, ms);
          rows.onArp(last);
          objects.onArp(last);
        });
        expect(rows.size).toBe(objects.bindings.size);
        expect(rows.ignoredClaims).toBe(objects.ignoredClaims);
        // What the detectors report: the bindings something happened to, field by field.
        expect(rows.sorted()).toEqual(objects.sorted().filter((b) => rows.bindings.has(b.key)));
        // The quiet ones, woken now, equal their objects too (every count, span and sample).
        const quiet = (rows as unknown as { quietRows: Map<number, number> }).quietRows;
        for (const [key, r] of [...quiet]) {
          const woken = (rows as unknown as { wake(key: number, r: number, f: Frame): unknown }).wake(key, r, last!);
          expect(woken).toEqual(objects.bindings.get(key));
        }
      }),
      { numRuns: 300, seed: 20261121 },
    );
  });
});
