/**
 * The fast path (src/decode/fast-path.ts) must leave the frame exactly as the general decoder
 * does, field for field and event for event, or decline the frame. Differential property test:
 * frames close to the fast path's case (Ethernet, IPv4, TCP or UDP) with every header field
 * random, then mutated (bytes overwritten, cut by a snaplen, odd wire lengths, a tag, options),
 * each decoded after a random previous frame so that stale fields would show.
 * Seeded (FC_SEED overrides) so that CI runs are reproducible.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureRecord } from '../../src/capture/record.js';
import { decodeRecord, decodeRecordGeneral } from '../../src/decode/decoder.js';
import { decodeEthernetIpv4Fast } from '../../src/decode/fast-path.js';
import { Frame, Layer } from '../../src/decode/frame.js';
import { Ev, newEventCounters } from '../../src/events.js';
import { ipArb, macArb, u8Arb as u8, u16Arb as u16, u32Arb as u32 } from '../helpers/arbitraries.js';
import { concat, ethernet, icmpError, ieee8023, ipv4, sll, stpBpdu, tcp, udp } from '../helpers/packets.js';

const SEED = Number(process.env.FC_SEED ?? 0xfa57);


/** A well-formed Ethernet/IPv4/TCP-or-UDP frame with random fields. */
const baseArb = fc.record({
  dst: macArb,
  src: macArb,
  vlan: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 4095 }) }),
  ipSrc: ipArb,
  ipDst: ipArb,
  tos: u8,
  id: u16,
  ttl: u8,
  df: fc.boolean(),
  mf: fc.boolean(),
  fragOffset: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0x1fff }).map((x) => x * 8) }),
  ipOptionWords: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 10 }) }),
  badChecksum: fc.boolean(),
  udp: fc.boolean(),
  sport: u16,
  dport: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xfff }),
  window: u16,
  urgent: u16,
  tcpOptionWords: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 10 }) }),
  payload: fc.uint8Array({ maxLength: 40 }),
  /** Ethernet padding or an FCS after the datagram. */
  trailer: fc.uint8Array({ maxLength: 8 }),
});

/** What happens to the built bytes and the record's lengths. */
const mutationArb = fc.record({
  /** Bytes overwritten at random offsets of the first 80. */
  pokes: fc.oneof({ weight: 2, arbitrary: fc.constant([] as Array<[number, number]>) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.integer({ min: 0, max: 79 }), u8), { minLength: 1, maxLength: 3 }) }),
  /** Captured length: the whole frame, or cut by a snaplen. */
  cut: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 90 }) }),
  /** Wire length relative to the captured length (a record may claim fewer bytes than it holds). */
  wireDelta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -20, max: 1500 }) }),
});

function build(g: Base): Uint8Array {
  const l4 = g.udp
    ? udp({ sport: g.sport, dport: g.dport, payload: g.payload })
    : tcp({ sport: g.sport, dport: g.dport, seq: g.seq, ack: g.ack, flags: g.flags, window: g.window, urgent: g.urgent, options: new Uint8Array(g.tcpOptionWords * 4).fill(1), payload: g.payload });
  const ip = ipv4(
    { src: g.ipSrc, dst: g.ipDst, proto: g.udp ? 17 : 6, ttl: g.ttl, id: g.id, tos: g.tos, df: g.df, mf: g.mf, fragOffset: g.fragOffset, options: new Uint8Array(g.ipOptionWords * 4).fill(1), badChecksum: g.badChecksum },
    l4,
  );
  const frame = ethernet({ dst: g.dst, src: g.src, vlans: g.vlan === null ? [] : [g.vlan], type: 0x0800 }, ip);
  return concat(frame, g.trailer);
}
type Base = typeof baseArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Previous frames that set the fields the fast path's frames do not have (SLL packet type, LLC and
 * SNAP, STP, tags, an ICMP quote, a truncation): a fast path that forgot to clear one shows.
 */
const RICH_PREVIOUS: Array<[Uint8Array, number]> = (() => {
  const seg = tcp({ sport: 1234, dport: 80, seq: 5, flags: 'S' });
  const quoted = ipv4({ src: '10.9.9.9', dst: '10.8.8.8', proto: 6 }, seg);
  const icmp = ipv4({ src: '10.0.0.254', dst: '10.9.9.9', proto: 1 }, icmpError({ type: 3, code: 3 }, quoted));
  const mac = { dst: '01:80:c2:00:00:00', src: '02:00:00:00:00:09' };
  const snap = concat(Uint8Array.of(0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00), new Uint8Array(20));
  return [
    [sll({ packetType: 4, srcMac: '02:00:00:00:00:07', protocol: 0x0800 }, icmp), 113],
    [ethernet({ ...mac, vlans: [100, 200, 300], tpids: [0x88a8, 0x8100, 0x8100], type: 0x0800 }, icmp), 1],
    [ieee8023(mac, stpBpdu({ version: 2, flags: 0x7c, rootMac: '02:00:00:00:00:01', bridgeMac: '02:00:00:00:00:02' })), 1],
    [ieee8023(mac, snap), 1],
    [ethernet({ ...mac, type: 0x0800 }, quoted).subarray(0, 30), 1],
  ];
})();

function record(bytes: Uint8Array, capLen: number, wireLen: number, frameNo: number, linkType = 1): CaptureRecord {
  // Inside a larger buffer, so that a read past the captured bytes would find filler, not undefined.
  const buf = new Uint8Array(bytes.length + 96).fill(0xa5);
  buf.set(bytes, 16);
  const rec = new CaptureRecord();
  rec.buf = buf;
  rec.off = 16;
  rec.capLen = capLen;
  rec.wireLen = wireLen;
  rec.linkType = linkType;
  rec.frameNo = frameNo;
  rec.tsSec = 1_700_000_000 + frameNo;
  rec.tsNs = 999_999_999 - frameNo;
  return rec;
}

/** Every field of the frame (the chunk reference aside) and every event counter. */
function state(f: Frame): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (k !== 'buf' && k !== 'eventCounts') out[k] = v;
  out['events'] = Array.from(f.eventCounts);
  return out;
}

describe('decodeEthernetIpv4Fast', () => {
  it('leaves every field and event exactly as the general decoder does, or declines the frame', () => {
    let taken = 0;
    let declined = 0;
    const previousArb = fc.oneof(
      fc.tuple(baseArb, mutationArb).map(([pg, pm]) => mutate(build(pg), pm, 1)),
      fc.constantFrom(...RICH_PREVIOUS).map(([bytes, linkType]) => record(bytes, bytes.length, bytes.length, 1, linkType)),
    );
    fc.assert(
      fc.property(previousArb, baseArb, mutationArb, (prev, g, m) => {
        const viaDispatch = new Frame(newEventCounters());
        const general = new Frame(newEventCounters());
        // A previous frame, decoded by each side its own way: what it leaves must not show.
        decodeRecord(viaDispatch, prev);
        decodeRecordGeneral(general, prev);
        const rec = mutate(build(g), m, 2);
        decodeRecord(viaDispatch, rec);
        decodeRecordGeneral(general, rec);
        expect(state(viaDispatch)).toEqual(state(general));
        if (decodeEthernetIpv4Fast(new Frame(newEventCounters()), rec)) taken++;
        else declined++;
      }),
      { seed: SEED, numRuns: 4000 },
    );
    // Both sides of the fast path were exercised, each often.
    expect(taken).toBeGreaterThan(800);
    expect(declined).toBeGreaterThan(800);
  });

  it('takes the plain TCP and UDP frames, with their fields and a bad checksum counted', () => {
    const f = new Frame(newEventCounters());
    const seg = ethernet(
      { dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', type: 0x0800 },
      ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, ttl: 63, id: 0x1234, df: true, badChecksum: true }, tcp({ sport: 40000, dport: 443, seq: 0xfffffff0, ack: 7, flags: 'SA', window: 1000 })),
    );
    expect(decodeEthernetIpv4Fast(f, record(seg, seg.length, seg.length, 5))).toBe(true);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
    expect([f.srcMac, f.dstMac, f.ipSrc, f.ipDst, f.ipTtl, f.ipId, f.ipDf]).toEqual([0x020000000002, 0x020000000001, 0x0a000001, 0x0a000002, 63, 0x1234, 1]);
    expect([f.srcPort, f.dstPort, f.tcpSeq, f.tcpAck, f.tcpFlags, f.tcpWindow, f.tcpPayloadLen]).toEqual([40000, 443, 0xfffffff0, 7, 0x12, 1000, 0]);
    expect(f.ipChecksumOk).toBe(0);
    expect(f.event).toBe(Ev.IPV4_BAD_CHECKSUM);
    expect(f.eventCounts[Ev.IPV4_BAD_CHECKSUM]).toBe(1);

    const dgram = ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', type: 0x0800 }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp({ sport: 53, dport: 5353, payload: new Uint8Array(3) })));
    const g = new Frame(newEventCounters());
    expect(decodeEthernetIpv4Fast(g, record(dgram, dgram.length, dgram.length, 6))).toBe(true);
    expect([g.layers, g.srcPort, g.dstPort, g.udpLen, g.ipChecksumOk, g.event]).toEqual([Layer.ETHERNET | Layer.IPV4 | Layer.UDP, 53, 5353, 11, 1, -1]);
  });

  it('declines what it does not handle: a tag, IP options, a later fragment, a cut header, ICMP', () => {
    const ip = (spec: Partial<Parameters<typeof ipv4>[0]>, l4: Uint8Array): Uint8Array => ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, ...spec }, l4);
    const seg = tcp({ sport: 1, dport: 2, flags: 'S' });
    const eth = (payload: Uint8Array, vlans: number[] = []): Uint8Array => ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', vlans, type: 0x0800 }, payload);
    const cases: Array<[string, Uint8Array, number?]> = [
      ['802.1Q tag', eth(ip({}, seg), [10])],
      ['IP options', eth(ip({ options: new Uint8Array(4).fill(1) }, seg))],
      ['later fragment', eth(ip({ fragOffset: 8 }, seg))],
      ['TCP header cut', eth(ip({}, seg)), 14 + 20 + 19],
      ['ICMP', eth(ip({ proto: 1 }, Uint8Array.of(8, 0, 0, 0, 0, 1, 0, 1)))],
    ];
    // A record claiming bytes past the end of its buffer: declined, and decodeRecord does not throw.
    const seg2 = eth(ip({}, seg));
    const beyond = record(seg2, seg2.length, seg2.length, 1);
    beyond.buf = beyond.buf.subarray(0, beyond.off + 40);
    expect(decodeEthernetIpv4Fast(new Frame(newEventCounters()), beyond)).toBe(false);
    expect(() => decodeRecord(new Frame(newEventCounters()), beyond)).not.toThrow();
    for (const [what, bytes, capLen] of cases) {
      expect(decodeEthernetIpv4Fast(new Frame(newEventCounters()), record(bytes, capLen ?? bytes.length, bytes.length, 1)), what).toBe(false);
    }
  });
});

function mutate(bytes: Uint8Array, m: { pokes: Array<[number, number]>; cut: number; wireDelta: number }, frameNo: number): CaptureRecord {
  const b = bytes.slice();
  for (const [at, value] of m.pokes) if (at < b.length) b[at] = value;
  const capLen = m.cut < 0 ? b.length : Math.min(m.cut, b.length);
  return record(b, capLen, Math.max(0, capLen + m.wireDelta), frameNo);
}
