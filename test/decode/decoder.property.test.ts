/**
 * Property tests of the decoder. (a) Any bytes, any link type: it never throws, never reads a
 * byte outside the captured window, and every field stays within its wire range. (b) Frames built
 * with test/helpers/packets.ts (written from the RFCs, independently of the decoder) decode to
 * exactly what was built, and cutting them anywhere marks the cut header as truncated.
 * Seeded (FC_SEED overrides) so that CI runs are reproducible.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureRecord } from '../../src/capture/record.js';
import { decodeRecord } from '../../src/decode/decoder.js';
import { Frame, Layer } from '../../src/decode/frame.js';
import { readTcpOptions } from '../../src/decode/tcp.js';
import { EVENT_COUNT, Ev, eventName, newEventCounters } from '../../src/events.js';
import { ipArb, macArb, u16Arb as u16, u32Arb as u32 } from '../helpers/arbitraries.js';
import { arp, concat, ethernet, icmpEcho, icmpError, ipNumber, ipv4, macNumber, sll, sll2, stpBpdu, synOptions, tcp, udp } from '../helpers/packets.js';

const SEED = Number(process.env.FC_SEED ?? 0xdec0de);
/** Shrinking can take long; stop after this, failing with the best counterexample so far (a hang guard only). */
const FC_LIMITS = { interruptAfterTimeLimit: 120_000, markInterruptAsFailure: true };

// ---------------------------------------------------------------------------------------------
// Decoding helpers

interface Decoded {
  /** Every numeric field of the Frame; ipOff and l4Off relative to the record's first byte. */
  fields: Record<string, number>;
  /** Non-zero event counters by name. */
  events: Record<string, number>;
}

/** Frame fields copied from the record rather than decoded. */
const RECORD_FIELDS = ['off', 'capLen', 'wireLen', 'linkType', 'ifIndex', 'frameNo', 'fileOffset', 'tsSec', 'tsNs', 'hasTimestamp'] as const;

function makeRecord(buf: Uint8Array, off: number, capLen: number, wireLen: number, linkType: number): CaptureRecord {
  const rec = new CaptureRecord();
  rec.buf = buf;
  rec.off = off;
  rec.capLen = capLen;
  rec.wireLen = wireLen;
  rec.linkType = linkType;
  rec.frameNo = 7;
  rec.tsSec = 1_700_000_000;
  rec.tsNs = 123_456_789;
  rec.hasTimestamp = 1;
  return rec;
}

function snapshot(f: Frame): Decoded {
  const fields: Record<string, number> = {};
  for (const [k, v] of Object.entries(f)) {
    if (k === 'buf' || k === 'eventCounts' || k === 'off') continue;
    fields[k] = v as number;
  }
  if (f.ipOff >= 0) fields['ipOff'] = f.ipOff - f.off;
  if (f.l4Off >= 0) fields['l4Off'] = f.l4Off - f.off;
  if (f.nflogPrefixOff >= 0) fields['nflogPrefixOff'] = f.nflogPrefixOff - f.off;
  const events: Record<string, number> = {};
  f.eventCounts.forEach((n, i) => {
    if (n !== 0) events[eventName(i)] = n;
  });
  return { fields, events };
}

/** Decodes into `frame` (a fresh one by default) and returns the frame. */
function decode(rec: CaptureRecord, frame = new Frame(newEventCounters())): Frame {
  decodeRecord(frame, rec);
  return frame;
}

/**
 * Decodes `data[0..capLen)` from three buffers: inside a larger buffer filled with one canary,
 * inside one filled with another canary at another offset, and from an exact-size copy (where an
 * out-of-bounds read yields undefined). A decoder that reads outside the captured window gives
 * different results for the three.
 */
function decodeThreeWays(data: Uint8Array, capLen: number, wireLen: number, linkType: number, pre: number): { frame: Frame; rec: CaptureRecord; views: Decoded[] } {
  const views: Decoded[] = [];
  let first: { frame: Frame; rec: CaptureRecord } | null = null;
  for (const [canary, before] of [
    [0xa5, pre],
    [0x5a, pre + 13],
  ] as const) {
    const big = new Uint8Array(before + capLen + 64).fill(canary);
    big.set(data.subarray(0, capLen), before);
    const rec = makeRecord(big, before, capLen, wireLen, linkType);
    const frame = decode(rec);
    views.push(snapshot(frame));
    first ??= { frame, rec };
  }
  const exact = data.slice(0, capLen);
  views.push(snapshot(decode(makeRecord(exact, 0, capLen, wireLen, linkType))));
  return { ...first!, views };
}

// ---------------------------------------------------------------------------------------------
// Wire ranges of every Frame field

const U8: [number, number] = [0, 0xff];
const U16: [number, number] = [0, 0xffff];
const U32: [number, number] = [0, 0xffffffff];
const MAC: [number, number] = [0, 2 ** 48 - 1];
const BIT: [number, number] = [0, 1];

/** Inclusive ranges; `wire` stands for max(65535, the record's wire length). */
const RANGES: Record<string, [number, number | 'wire']> = {
  layers: [0, 2 ** 16 - 1],
  truncated: BIT,
  event: [-1, EVENT_COUNT - 1],
  dstMac: MAC,
  srcMac: MAC,
  outerEtherType: U16,
  etherType: U16,
  invalidType: BIT,
  lengthField: [0, 1500],
  vlanDepth: [0, 4],
  vlan0: [0, 4095],
  vlan1: [0, 4095],
  vlan2: [0, 4095],
  vlan3: [0, 4095],
  sllPacketType: [-1, 0xffff],
  nflogGroup: U16,
  nflogPrefixOff: [-1, 'wire'], // checked against the captured window below
  nflogPrefixLen: [0, 'wire'],
  nflogPrefixCut: BIT,
  llcDsap: U8,
  llcSsap: U8,
  llcControl: U16,
  snapOui: [-1, 0xffffff],
  snapPid: [-1, 0xffff],
  stpVersion: U8,
  stpType: U8,
  stpFlags: U8,
  stpRootPriority: U16,
  stpRootMac: MAC,
  stpRootPathCost: U32,
  stpBridgePriority: U16,
  stpBridgeMac: MAC,
  stpPortId: U16,
  stpMessageAge: U16,
  stpMaxAge: U16,
  stpHelloTime: U16,
  stpForwardDelay: U16,
  arpOp: U16,
  arpSenderMac: MAC,
  arpSenderIp: U32,
  arpTargetMac: MAC,
  arpTargetIp: U32,
  ipOff: [-1, 'wire'], // checked against the captured window below
  ipHeaderLen: [0, 60],
  ipTotalLen: U16,
  ipLen: [0, 'wire'],
  ipProto: [-1, 255],
  ipSrc: U32,
  ipDst: U32,
  ipTtl: U8,
  ipId: U16,
  ipTos: U8,
  ipDf: BIT,
  ipMf: BIT,
  ipFragOffset: [0, 8191 * 8],
  ipChecksumOk: [-1, 1],
  l4Off: [-1, 'wire'], // checked against the captured window below
  l4Len: [0, 'wire'],
  srcPort: U16,
  dstPort: U16,
  tcpSeq: U32,
  tcpAck: U32,
  tcpFlags: [0, 0xfff],
  tcpWindow: U16,
  tcpHeaderLen: [0, 60],
  tcpPayloadLen: [0, 'wire'],
  tcpUrgent: U16,
  udpLen: U16,
  icmpType: [-1, 255],
  icmpCode: [-1, 255],
  icmpId: U16,
  icmpSeq: U16,
  quoteProto: [-1, 255],
  quoteSrc: U32,
  quoteDst: U32,
  quoteSrcPort: U16,
  quoteDstPort: U16,
  quoteTcpSeq: U32,
  quoteIpId: U16,
  quoteIcmpType: [-1, 255],
};

/** Every field an integer within its range, offsets inside the captured window, record fields copied. */
function checkRanges(f: Frame, rec: CaptureRecord): string[] {
  const bad: string[] = [];
  const wire = Math.max(0xffff, rec.wireLen);
  for (const [k, v] of Object.entries(f)) {
    if (k === 'buf' || k === 'eventCounts') continue;
    if (typeof v !== 'number') {
      bad.push(`${k} is a ${typeof v}`);
      continue;
    }
    if ((RECORD_FIELDS as readonly string[]).includes(k)) {
      if (v !== rec[k as (typeof RECORD_FIELDS)[number]]) bad.push(`${k} is ${v}, the record says ${rec[k as (typeof RECORD_FIELDS)[number]]}`);
      continue;
    }
    const range = RANGES[k];
    if (!range) {
      // A field added since this test was written (the test below asks for its range).
      if (!Number.isFinite(v)) bad.push(`${k} = ${v}, not a finite number`);
      continue;
    }
    const hi = range[1] === 'wire' ? wire : range[1];
    if (!Number.isInteger(v) || v < range[0] || v > hi) bad.push(`${k} = ${v}, outside [${range[0]}, ${hi}]`);
  }
  const start = rec.off;
  const end = rec.off + rec.capLen;
  if (f.ipOff !== -1 && (f.ipOff < start || f.ipOff >= end)) bad.push(`ipOff ${f.ipOff} outside the captured window [${start}, ${end})`);
  if (f.l4Off !== -1 && (f.l4Off < start || f.l4Off > end)) bad.push(`l4Off ${f.l4Off} outside the captured window [${start}, ${end}]`);
  if ((f.layers & Layer.NFLOG) !== 0 && f.nflogPrefixOff !== -1 && (f.nflogPrefixOff < start || f.nflogPrefixOff + f.nflogPrefixLen > end)) {
    bad.push(`NFLOG prefix [${f.nflogPrefixOff}, +${f.nflogPrefixLen}) outside the captured window [${start}, ${end})`);
  }
  const l4Min: Array<[number, number, string]> = [
    [Layer.TCP, 20, 'TCP'],
    [Layer.UDP, 8, 'UDP'],
    [Layer.ICMP, 4, 'ICMP'],
  ];
  for (const [bit, min, name] of l4Min) {
    if ((f.layers & bit) !== 0 && (f.l4Off < start || f.l4Off + min > end)) bad.push(`${name} layer set but its ${min}-byte header at ${f.l4Off} is not inside [${start}, ${end})`);
  }
  if ((f.layers & Layer.IPV4) !== 0 && (f.ipOff < start || f.ipOff + 20 > end)) bad.push(`IPV4 layer set but its header at ${f.ipOff} is not inside [${start}, ${end})`);
  return bad;
}

// ---------------------------------------------------------------------------------------------
// Structured frames (the oracle side): a spec, its bytes from packets.ts, and what must decode

const payloadArb = fc.uint8Array({ maxLength: 80 });
/** IPv4 or TCP options: 0..40 bytes, a multiple of 4 (their content is not decoded). */
const optionsArb = fc.integer({ min: 0, max: 10 }).chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }));

interface TcpGen {
  kind: 'tcp';
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  /** SYN options with known values (checked with readTcpOptions), random bytes, or none. */
  syn: { mss: number; wscale: number; tsVal: number; tsEcr: number } | null;
  rawOptions: Uint8Array;
  payload: Uint8Array;
}
interface UdpGen {
  kind: 'udp';
  sport: number;
  dport: number;
  payload: Uint8Array;
}
interface EchoGen {
  kind: 'echo';
  type: 0 | 8;
  id: number;
  seq: number;
  payload: Uint8Array;
}
interface OtherL4Gen {
  kind: 'other';
  proto: number;
  payload: Uint8Array;
}
type QuotedL4 = TcpGen | UdpGen | EchoGen | OtherL4Gen;
interface IcmpErrGen {
  kind: 'icmperr';
  type: number;
  code: number;
  quoted: IpGen & { l4: QuotedL4 };
}
interface IpGen {
  kind: 'ip';
  src: string;
  dst: string;
  ttl: number;
  id: number;
  tos: number;
  df: boolean;
  mf: boolean;
  /** Bytes, a multiple of 8; non-zero makes a non-first fragment. */
  fragOffset: number;
  options: Uint8Array;
  l4: TcpGen | UdpGen | EchoGen | IcmpErrGen | OtherL4Gen;
}
interface ArpGen {
  kind: 'arp';
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  rarp: boolean;
}
interface StpGen {
  kind: 'stp';
  version: number;
  type: number;
  flags: number;
  rootPriority: number;
  rootMac: string;
  rootPathCost: number;
  bridgePriority: number;
  bridgeMac: string;
  portId: number;
  messageAge: number;
  maxAge: number;
  helloTime: number;
  forwardDelay: number;
}
type L3Gen = IpGen | ArpGen | StpGen;

type LinkGen =
  | { kind: 'eth'; dst: string; src: string; vlans: Array<{ id: number; tpid: number }> }
  | { kind: 'sll'; packetType: number; src: string }
  | { kind: 'sll2'; packetType: number; src: string; ifIndex: number }
  | { kind: 'raw'; linkType: 101 | 12 | 14 | 228 }
  | { kind: 'null'; bigEndian: boolean }
  | { kind: 'loop' }
  | { kind: 'nflog'; littleEndian: boolean; prefix: Uint8Array };

interface FrameGen {
  link: LinkGen;
  l3: L3Gen;
}

const tcpArb: fc.Arbitrary<TcpGen> = fc.record({
  kind: fc.constant('tcp' as const),
  sport: u16,
  dport: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xfff }),
  window: u16,
  urgent: u16,
  syn: fc.option(fc.record({ mss: u16, wscale: fc.integer({ min: 0, max: 14 }), tsVal: u32, tsEcr: u32 }), { nil: null }),
  rawOptions: optionsArb,
  payload: payloadArb,
});
const udpArb: fc.Arbitrary<UdpGen> = fc.record({ kind: fc.constant('udp' as const), sport: u16, dport: u16, payload: payloadArb });
const echoArb: fc.Arbitrary<EchoGen> = fc.record({ kind: fc.constant('echo' as const), type: fc.constantFrom(0 as const, 8 as const), id: u16, seq: u16, payload: fc.uint8Array({ maxLength: 56 }) });
const otherL4Arb: fc.Arbitrary<OtherL4Gen> = fc.record({
  kind: fc.constant('other' as const),
  proto: fc.integer({ min: 0, max: 255 }).filter((p) => p !== 1 && p !== 6 && p !== 17),
  payload: payloadArb,
});

function ipArbWith<T extends IpGen['l4']>(l4: fc.Arbitrary<T>, fragments: boolean): fc.Arbitrary<IpGen & { l4: T }> {
  return fc.record({
    kind: fc.constant('ip' as const),
    src: ipArb,
    dst: ipArb,
    ttl: fc.integer({ min: 0, max: 255 }),
    id: u16,
    tos: fc.integer({ min: 0, max: 255 }),
    df: fc.boolean(),
    mf: fc.boolean(),
    fragOffset: fragments ? fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 8191 }).map((x) => x * 8) }) : fc.constant(0),
    options: optionsArb,
    l4,
  });
}

const icmpErrArb: fc.Arbitrary<IcmpErrGen> = fc.record({
  kind: fc.constant('icmperr' as const),
  type: fc.constantFrom(3, 4, 5, 11, 12),
  code: fc.integer({ min: 0, max: 255 }),
  // The quote holds the L4 header's first 8 bytes (RFC 792): other protocols need that much payload.
  quoted: ipArbWith(fc.oneof(tcpArb, udpArb, echoArb, otherL4Arb.filter((o) => o.payload.length >= 8)) as fc.Arbitrary<QuotedL4>, false),
});

const ipGenArb: fc.Arbitrary<IpGen> = ipArbWith(fc.oneof(tcpArb, udpArb, echoArb, icmpErrArb, otherL4Arb) as fc.Arbitrary<IpGen['l4']>, true);

const arpArb: fc.Arbitrary<ArpGen> = fc.record({
  kind: fc.constant('arp' as const),
  op: fc.integer({ min: 0, max: 30 }),
  senderMac: macArb,
  senderIp: ipArb,
  targetMac: macArb,
  targetIp: ipArb,
  rarp: fc.boolean(),
});

const stpArb: fc.Arbitrary<StpGen> = fc
  .record({
    version: fc.constantFrom(0, 2, 3),
    tcn: fc.boolean(),
    flags: fc.integer({ min: 0, max: 255 }),
    rootPriority: u16,
    rootMac: macArb,
    rootPathCost: u32,
    bridgePriority: u16,
    bridgeMac: macArb,
    portId: u16,
    messageAge: fc.integer({ min: 0, max: 255 }),
    maxAge: fc.integer({ min: 0, max: 255 }),
    helloTime: fc.integer({ min: 0, max: 255 }),
    forwardDelay: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ tcn, ...s }) => ({ kind: 'stp' as const, ...s, type: tcn ? 0x80 : s.version >= 2 ? 0x02 : 0x00 }));

const VLAN_TPIDS = [0x8100, 0x88a8, 0x9100, 0x9200, 0x9300];

const frameGenArb: fc.Arbitrary<FrameGen> = fc.oneof(
  // Ethernet (with 0-4 VLAN tags): IPv4, ARP/RARP, or 802.3 LLC + STP.
  fc.record({
    link: fc.record({
      kind: fc.constant('eth' as const),
      dst: macArb,
      src: macArb,
      vlans: fc.array(fc.record({ id: fc.integer({ min: 0, max: 4095 }), tpid: fc.constantFrom(...VLAN_TPIDS) }), { maxLength: 4 }),
    }),
    l3: fc.oneof({ weight: 4, arbitrary: ipGenArb }, { weight: 1, arbitrary: arpArb }, { weight: 1, arbitrary: stpArb }) as fc.Arbitrary<L3Gen>,
  }),
  // Linux cooked v1 and v2: IPv4, ARP, or 802.2 LLC (protocol 4) + STP.
  fc.record({
    link: fc.oneof(
      fc.record({ kind: fc.constant('sll' as const), packetType: fc.integer({ min: 0, max: 4 }), src: macArb }),
      fc.record({ kind: fc.constant('sll2' as const), packetType: fc.integer({ min: 0, max: 4 }), src: macArb, ifIndex: u32 }),
    ) as fc.Arbitrary<LinkGen>,
    l3: fc.oneof({ weight: 4, arbitrary: ipGenArb }, { weight: 1, arbitrary: arpArb }, { weight: 1, arbitrary: stpArb }) as fc.Arbitrary<L3Gen>,
  }),
  // Link types without an EtherType: IPv4 only.
  fc.record({
    link: fc.oneof(
      fc.record({ kind: fc.constant('raw' as const), linkType: fc.constantFrom(101 as const, 12 as const, 14 as const, 228 as const) }),
      fc.record({ kind: fc.constant('null' as const), bigEndian: fc.boolean() }),
      fc.record({ kind: fc.constant('loop' as const) }),
      fc.record({ kind: fc.constant('nflog' as const), littleEndian: fc.boolean(), prefix: fc.uint8Array({ maxLength: 13 }) }),
    ) as fc.Arbitrary<LinkGen>,
    l3: ipGenArb as fc.Arbitrary<L3Gen>,
  }),
);

function l4Bytes(l4: IpGen['l4']): Uint8Array {
  switch (l4.kind) {
    case 'tcp': {
      const options = l4.syn ? synOptions(l4.syn.mss, l4.syn.wscale, l4.syn.tsVal, l4.syn.tsEcr) : l4.rawOptions;
      return tcp({ sport: l4.sport, dport: l4.dport, seq: l4.seq, ack: l4.ack, flags: l4.flags, window: l4.window, urgent: l4.urgent, options, payload: l4.payload });
    }
    case 'udp':
      return udp({ sport: l4.sport, dport: l4.dport, payload: l4.payload });
    case 'echo':
      return icmpEcho({ type: l4.type, id: l4.id, seq: l4.seq, payload: l4.payload });
    case 'icmperr':
      return icmpError({ type: l4.type, code: l4.code }, ipBytes(l4.quoted));
    case 'other':
      return l4.payload;
  }
}

function ipProto(l4: IpGen['l4']): number {
  return l4.kind === 'tcp' ? 6 : l4.kind === 'udp' ? 17 : l4.kind === 'other' ? l4.proto : 1;
}

function ipBytes(ip: IpGen): Uint8Array {
  return ipv4(
    { src: ip.src, dst: ip.dst, proto: ipProto(ip.l4), ttl: ip.ttl, id: ip.id, tos: ip.tos, df: ip.df, mf: ip.mf, fragOffset: ip.fragOffset, options: ip.options },
    l4Bytes(ip.l4),
  );
}

/** The LLC header and BPDU of an STP spec. */
function bpduBytes(s: StpGen): Uint8Array {
  return stpBpdu({
    version: s.version,
    type: s.type,
    flags: s.flags,
    rootPriority: s.rootPriority,
    rootMac: s.rootMac,
    rootPathCost: s.rootPathCost,
    bridgePriority: s.bridgePriority,
    bridgeMac: s.bridgeMac,
    portId: s.portId,
    messageAge: s.messageAge,
    maxAge: s.maxAge,
    helloTime: s.helloTime,
    forwardDelay: s.forwardDelay,
  });
}

function l3Bytes(l3: L3Gen): Uint8Array {
  if (l3.kind === 'ip') return ipBytes(l3);
  if (l3.kind === 'arp') return arp({ op: l3.op, senderMac: l3.senderMac, senderIp: l3.senderIp, targetMac: l3.targetMac, targetIp: l3.targetIp });
  return bpduBytes(l3);
}

/** EtherType (or SLL protocol) that announces the L3 payload. */
function l3Type(l3: L3Gen): number {
  if (l3.kind === 'ip') return 0x0800;
  if (l3.kind === 'arp') return l3.rarp ? 0x8035 : 0x0806;
  return 0x0004; // SLL: 802.2 LLC follows
}

interface Built {
  bytes: Uint8Array;
  linkType: number;
  /** Length of the link-layer header, VLAN tags included. */
  linkHeader: number;
}

function buildFrame(g: FrameGen): Built {
  const payload = l3Bytes(g.l3);
  const link = g.link;
  switch (link.kind) {
    case 'eth': {
      // 802.3 for STP: the type field is the LLC length (after any VLAN tags).
      const type = g.l3.kind === 'stp' ? payload.length : l3Type(g.l3);
      const bytes = ethernet({ dst: link.dst, src: link.src, vlans: link.vlans.map((v) => v.id), tpids: link.vlans.map((v) => v.tpid), type }, payload);
      return { bytes, linkType: 1, linkHeader: 14 + 4 * link.vlans.length };
    }
    case 'sll':
      return { bytes: sll({ packetType: link.packetType, srcMac: link.src, protocol: l3Type(g.l3) }, payload), linkType: 113, linkHeader: 16 };
    case 'sll2':
      return { bytes: sll2({ packetType: link.packetType, srcMac: link.src, protocol: l3Type(g.l3), ifIndex: link.ifIndex }, payload), linkType: 276, linkHeader: 20 };
    case 'raw':
      return { bytes: payload, linkType: link.linkType, linkHeader: 0 };
    case 'null': {
      const family = link.bigEndian ? Uint8Array.of(0, 0, 0, 2) : Uint8Array.of(2, 0, 0, 0);
      return { bytes: concat(family, payload), linkType: 0, linkHeader: 4 };
    }
    case 'loop':
      return { bytes: concat(Uint8Array.of(0, 0, 0, 2), payload), linkType: 108, linkHeader: 4 };
    case 'nflog': {
      // Header (AF_INET, version 0, group 6), a prefix TLV (10) padded to 4 bytes, the payload TLV (9).
      const tlvHead = (type: number, valueLen: number): Uint8Array => {
        const h = new Uint8Array(4);
        new DataView(h.buffer).setUint16(0, 4 + valueLen, link.littleEndian);
        new DataView(h.buffer).setUint16(2, type, link.littleEndian);
        return h;
      };
      const prefix = concat(tlvHead(10, link.prefix.length), link.prefix, new Uint8Array(((link.prefix.length + 3) & ~3) - link.prefix.length));
      const head = concat(Uint8Array.of(2, 0, 0, 6), prefix, tlvHead(9, payload.length));
      return { bytes: concat(head, payload), linkType: 239, linkHeader: head.length };
    }
  }
}

/** What the built frame must decode to: the layers, the first event, and field values. */
interface Oracle {
  layers: number;
  event: number;
  fields: Record<string, number>;
  /** Offset just past the deepest header the decoder reads. */
  headerEnd: number;
}

function l4Oracle(l4: QuotedL4 | IcmpErrGen, at: number, l4Len: number, o: Oracle): void {
  const f = o.fields;
  switch (l4.kind) {
    case 'tcp': {
      const hdr = 20 + (l4.syn ? 20 : l4.rawOptions.length);
      o.layers |= Layer.TCP;
      Object.assign(f, {
        srcPort: l4.sport,
        dstPort: l4.dport,
        tcpSeq: l4.seq,
        tcpAck: l4.ack,
        tcpFlags: l4.flags,
        tcpWindow: l4.window,
        tcpUrgent: l4.urgent,
        tcpHeaderLen: hdr,
        tcpPayloadLen: l4Len - hdr,
      });
      o.headerEnd = at + hdr;
      return;
    }
    case 'udp':
      o.layers |= Layer.UDP;
      Object.assign(f, { srcPort: l4.sport, dstPort: l4.dport, udpLen: 8 + l4.payload.length });
      o.headerEnd = at + 8;
      return;
    case 'echo':
      o.layers |= Layer.ICMP;
      Object.assign(f, { icmpType: l4.type, icmpCode: 0, icmpId: l4.id, icmpSeq: l4.seq });
      o.headerEnd = at + 8;
      return;
    case 'icmperr': {
      const q = l4.quoted;
      const qHdr = 20 + q.options.length;
      o.layers |= Layer.ICMP | Layer.ICMP_QUOTE;
      Object.assign(f, { icmpType: l4.type, icmpCode: l4.code, quoteProto: ipProto(q.l4), quoteSrc: ipNumber(q.src), quoteDst: ipNumber(q.dst), quoteIpId: q.id });
      // Ports (and the TCP sequence number) of the quoted datagram; for a quoted echo, its id.
      if (q.l4.kind === 'tcp') Object.assign(f, { quoteSrcPort: q.l4.sport, quoteDstPort: q.l4.dport, quoteTcpSeq: q.l4.seq });
      else if (q.l4.kind === 'udp') Object.assign(f, { quoteSrcPort: q.l4.sport, quoteDstPort: q.l4.dport });
      else if (q.l4.kind === 'echo') Object.assign(f, { quoteIcmpType: q.l4.type, quoteSrcPort: q.l4.id, quoteDstPort: 0 });
      // ICMP header, then the quoted IPv4 header and 8 bytes of its L4 header (RFC 792).
      o.headerEnd = at + 8 + qHdr + 8;
      return;
    }
    case 'other':
      o.headerEnd = at;
      return;
  }
}

function oracle(g: FrameGen, b: Built): Oracle {
  const o: Oracle = { layers: 0, event: -1, fields: {}, headerEnd: 0 };
  const f = o.fields;
  const link = g.link;
  const at = b.linkHeader;
  // Link layer.
  if (link.kind === 'eth') {
    o.layers |= Layer.ETHERNET;
    const innerType = g.l3.kind === 'stp' ? bpduBytes(g.l3).length : l3Type(g.l3);
    Object.assign(f, { dstMac: macNumber(link.dst), srcMac: macNumber(link.src), outerEtherType: link.vlans.length > 0 ? link.vlans[0]!.tpid : innerType, vlanDepth: link.vlans.length });
    link.vlans.forEach((v, i) => (f[`vlan${i}`] = v.id));
    if (link.vlans.length > 0) o.layers |= Layer.VLAN;
    if (g.l3.kind === 'stp') Object.assign(f, { lengthField: innerType, etherType: 0 });
    else f['etherType'] = innerType;
  } else if (link.kind === 'sll' || link.kind === 'sll2') {
    o.layers |= Layer.SLL;
    const protocol = l3Type(g.l3);
    Object.assign(f, { srcMac: macNumber(link.src), dstMac: 0, sllPacketType: link.packetType, outerEtherType: protocol, etherType: protocol === 0x0004 ? 0 : protocol });
  } else {
    o.layers |= Layer.RAW_IP;
    f['etherType'] = 0x0800;
    if (link.kind === 'nflog') {
      // Group 6; the prefix TLV's value starts after the 4-byte header and the TLV header, up to a NUL.
      o.layers |= Layer.NFLOG;
      const nul = link.prefix.indexOf(0);
      Object.assign(f, { nflogGroup: 6, nflogPrefixOff: 8, nflogPrefixLen: nul < 0 ? link.prefix.length : nul, nflogPrefixCut: 0 });
    }
  }
  // L3 and L4.
  const l3 = g.l3;
  if (l3.kind === 'arp') {
    o.layers |= Layer.ARP;
    Object.assign(f, { arpOp: l3.op, arpSenderMac: macNumber(l3.senderMac), arpSenderIp: ipNumber(l3.senderIp), arpTargetMac: macNumber(l3.targetMac), arpTargetIp: ipNumber(l3.targetIp) });
    if (l3.op === 0 || l3.op > 25) o.event = Ev.ARP_BAD_OPCODE;
    o.headerEnd = at + 28;
  } else if (l3.kind === 'stp') {
    o.layers |= Layer.LLC | Layer.STP;
    Object.assign(f, { llcDsap: 0x42, llcSsap: 0x42, llcControl: 0x03, stpVersion: l3.version, stpType: l3.type });
    if (l3.type !== 0x80) {
      Object.assign(f, {
        stpFlags: l3.flags,
        stpRootPriority: l3.rootPriority,
        stpRootMac: macNumber(l3.rootMac),
        stpRootPathCost: l3.rootPathCost,
        stpBridgePriority: l3.bridgePriority,
        stpBridgeMac: macNumber(l3.bridgeMac),
        stpPortId: l3.portId,
        stpMessageAge: l3.messageAge * 256,
        stpMaxAge: l3.maxAge * 256,
        stpHelloTime: l3.helloTime * 256,
        stpForwardDelay: l3.forwardDelay * 256,
      });
    }
    // LLC (3 bytes), then the BPDU: 4 bytes for a TCN, 35 for a configuration BPDU (the RST
    // BPDU's 36th byte, Version 1 Length, is not decoded).
    o.headerEnd = at + 3 + (l3.type === 0x80 ? 4 : 35);
  } else {
    const hdr = 20 + l3.options.length;
    const total = ipBytes(l3).length;
    o.layers |= Layer.IPV4;
    Object.assign(f, {
      ipOff: at,
      ipHeaderLen: hdr,
      ipTotalLen: total,
      ipLen: total,
      ipProto: ipProto(l3.l4),
      ipSrc: ipNumber(l3.src),
      ipDst: ipNumber(l3.dst),
      ipTtl: l3.ttl,
      ipId: l3.id,
      ipTos: l3.tos,
      ipDf: l3.df ? 1 : 0,
      ipMf: l3.mf ? 1 : 0,
      ipFragOffset: l3.fragOffset,
      ipChecksumOk: 1,
    });
    o.headerEnd = at + hdr;
    if (l3.fragOffset !== 0) {
      o.layers |= Layer.FRAGMENT;
      o.event = Ev.IPV4_FRAGMENT;
      f['l4Off'] = -1;
    } else {
      Object.assign(f, { l4Off: at + hdr, l4Len: total - hdr });
      l4Oracle(l3.l4, at + hdr, total - hdr, o);
    }
  }
  return o;
}

/** Fills every numeric field with junk, as a previous frame would have left it. */
function dirty(f: Frame, junk: number): Frame {
  for (const k of Object.keys(f)) {
    if (k === 'buf' || k === 'eventCounts') continue;
    (f as unknown as Record<string, number>)[k] = junk;
  }
  return f;
}

function truncationEvents(events: Float64Array): string[] {
  const out: string[] = [];
  events.forEach((n, i) => {
    if (n > 0 && /truncated$/.test(eventName(i))) out.push(eventName(i));
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

const DECODED_LINK_TYPES = [1, 113, 276, 101, 228, 0, 108, 12, 14, 229, 239];
/** Unsupported link types, including the negative pseudo types of non-packet records. */
const OTHER_LINK_TYPES = [9, 105, 127, 147, 65535, -1, -2];

/** Random bytes, or a structured frame with bytes overwritten and cut (reaching the inner decoders with garbage). */
const fuzzFrameArb: fc.Arbitrary<{ data: Uint8Array; linkType: number | null }> = fc.oneof(
  fc.record({ data: fc.uint8Array({ maxLength: 200 }), linkType: fc.constant(null) }),
  fc
    .tuple(
      frameGenArb,
      fc.array(fc.tuple(fc.nat(), fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0xff, 0x45, 0x4f, 0x08, 0x81, 0x06, 0x11, 0x01, 0xaa, 0x42))), { minLength: 1, maxLength: 6 }),
    )
    .map(([g, edits]) => {
      const b = buildFrame(g);
      const data = b.bytes.slice();
      for (const [at, v] of edits) if (data.length > 0) data[at % data.length] = v;
      return { data, linkType: b.linkType };
    }),
);

describe('decodeRecord on arbitrary bytes', () => {
  it('knows the wire range of every Frame field', () => {
    const f = new Frame(newEventCounters());
    const missing = Object.keys(f).filter((k) => k !== 'buf' && k !== 'eventCounts' && !(RECORD_FIELDS as readonly string[]).includes(k) && !(k in RANGES));
    expect(missing, 'Frame fields without a range in RANGES (add them, so the fuzz test checks them)').toEqual([]);
  });

  const linkTypeArb = fc.constantFrom(...DECODED_LINK_TYPES, ...OTHER_LINK_TYPES);

  it('never throws, never reads outside the captured bytes, and keeps every field in its wire range', () => {
    fc.assert(
      fc.property(fuzzFrameArb, linkTypeArb, fc.nat(), fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 0xffffffff })), fc.integer({ min: 0, max: 40 }), (input, anyLinkType, capSeed, wireExtra, pre) => {
        // Half the structured frames keep the link type they were built for.
        const linkType = input.linkType !== null && capSeed % 2 === 0 ? input.linkType : anyLinkType;
        const capLen = capSeed % (input.data.length + 1);
        const wireLen = Math.min(0xffffffff, capLen + wireExtra);
        let result: ReturnType<typeof decodeThreeWays>;
        expect(() => (result = decodeThreeWays(input.data, capLen, wireLen, linkType, pre)), 'decodeRecord threw').not.toThrow();
        const { frame, rec, views } = result!;
        expect(views[1], 'decoded fields with another canary around the captured bytes (an out-of-bounds read)').toEqual(views[0]);
        expect(views[2], 'decoded fields from an exact-size buffer (an out-of-bounds read)').toEqual(views[0]);
        expect(checkRanges(frame, rec), `fields of link type ${linkType}, capLen ${capLen}, wireLen ${wireLen}`).toEqual([]);
        if (frame.event !== -1) expect(views[0]!.events[eventName(frame.event)], 'the frame event is counted').toBeGreaterThan(0);
        if (linkType < 0) expect(views[0]!.events, 'non-packet records count no event').toEqual({});
      }),
      { seed: SEED, numRuns: 3000, ...FC_LIMITS },
    );
  });

  it('on records whose captured length exceeds the wire length (real files have them): never throws, reads nothing outside, numbers stay integers', () => {
    // Only integrality here, not the ranges: with wireLen < capLen the decoder trims the datagram to
    // the wire length and can report a negative l4Len (see the report).
    fc.assert(
      fc.property(fuzzFrameArb, linkTypeArb, fc.nat(), fc.nat(), (input, anyLinkType, capSeed, wireSeed) => {
        const linkType = input.linkType !== null && capSeed % 2 === 0 ? input.linkType : anyLinkType;
        const capLen = capSeed % (input.data.length + 1);
        const wireLen = wireSeed % (capLen + 1);
        let result: ReturnType<typeof decodeThreeWays>;
        expect(() => (result = decodeThreeWays(input.data, capLen, wireLen, linkType, 3)), 'decodeRecord threw').not.toThrow();
        const { frame, views } = result!;
        expect(views[1], 'decoded fields with another canary around the captured bytes (an out-of-bounds read)').toEqual(views[0]);
        expect(views[2], 'decoded fields from an exact-size buffer (an out-of-bounds read)').toEqual(views[0]);
        const notInteger = Object.entries(views[0]!.fields).filter(([, v]) => !Number.isInteger(v));
        expect(notInteger, `fields of link type ${linkType}, capLen ${capLen}, wireLen ${wireLen}`).toEqual([]);
        expect(frame.event === -1 || (frame.event >= 0 && frame.event < EVENT_COUNT), `event ${frame.event}`).toBe(true);
      }),
      { seed: SEED, numRuns: 1500, ...FC_LIMITS },
    );
  });

  it('gives every structured frame kind a deep decode (the generator reaches the inner decoders)', () => {
    // Guards the fuzz generator above: without deep frames, (a) would only test the link layer.
    const seen = new Set<string>();
    for (const [data, linkType] of fc.sample(fuzzFrameArb, { seed: SEED, numRuns: 3000 }).filter((x) => x.linkType !== null).map((x) => [x.data, x.linkType!] as const)) {
      const f = decode(makeRecord(data, 0, data.length, data.length, linkType));
      for (const [name, bit] of Object.entries(Layer)) if ((f.layers & bit) !== 0) seen.add(name);
    }
    const needed = ['ARP', 'ETHERNET', 'FRAGMENT', 'ICMP', 'ICMP_QUOTE', 'IPV4', 'LLC', 'NFLOG', 'RAW_IP', 'SLL', 'STP', 'TCP', 'UDP', 'VLAN'];
    expect(needed.filter((l) => !seen.has(l)), 'layers the fuzz inputs never reach').toEqual([]);
  });
});

describe('decodeRecord on frames built from the RFC layouts', () => {
  it('decodes exactly the fields that were built, into a reused frame full of stale values', () => {
    fc.assert(
      fc.property(frameGenArb, fc.integer({ min: -0x7fffffff, max: 0x7fffffff }), (g, junk) => {
        const b = buildFrame(g);
        const o = oracle(g, b);
        const frame = dirty(new Frame(newEventCounters()), junk);
        decode(makeRecord(b.bytes, 0, b.bytes.length, b.bytes.length, b.linkType), frame);
        const got: Record<string, number> = {};
        for (const k of Object.keys(o.fields)) got[k] = (frame as unknown as Record<string, number>)[k]!;
        expect(got, 'decoded fields').toEqual(o.fields);
        expect(layerNames(frame.layers), 'layers').toEqual(layerNames(o.layers));
        expect(frame.truncated, 'truncated').toBe(0);
        expect(eventLabel(frame.event), 'event').toBe(eventLabel(o.event));
        // TCP options: the SYN options written are the ones read.
        if (g.l3.kind === 'ip' && g.l3.fragOffset === 0 && g.l3.l4.kind === 'tcp' && g.l3.l4.syn) {
          const syn = g.l3.l4.syn;
          const opts = readTcpOptions(frame);
          expect({ ...opts }, 'TCP options').toMatchObject({ present: true, mss: syn.mss, windowScale: syn.wscale, sackPermitted: true, timestamps: true, tsVal: syn.tsVal, tsEcr: syn.tsEcr, malformed: false });
        }
      }),
      { seed: SEED, numRuns: 1500, ...FC_LIMITS },
    );
  });

  it('cut at any length: never throws; truncated exactly when a header is cut; unchanged when only payload is cut', () => {
    fc.assert(
      fc.property(frameGenArb, (g) => {
        const b = buildFrame(g);
        const o = oracle(g, b);
        const whole = snapshot(decode(makeRecord(b.bytes, 0, b.bytes.length, b.bytes.length, b.linkType)));
        for (let cut = 0; cut < b.bytes.length; cut++) {
          // The bytes after the cut were never captured: a canary stands in for them.
          const buf = new Uint8Array(b.bytes.length + 8).fill(0xa5);
          buf.set(b.bytes.subarray(0, cut));
          const events = newEventCounters();
          const rec = makeRecord(buf, 0, cut, b.bytes.length, b.linkType);
          const f = new Frame(events);
          expect(() => decodeRecord(f, rec), `cut at ${cut}: decodeRecord threw`).not.toThrow();
          expect(checkRanges(f, rec), `cut at ${cut}: fields`).toEqual([]);
          if (cut < o.headerEnd) {
            expect(f.truncated, `cut at ${cut} inside the headers (they end at ${o.headerEnd}): truncated`).toBe(1);
            expect(truncationEvents(events).length, `cut at ${cut}: one *.truncated event`).toBe(1);
            expect(f.layers & ~o.layers, `cut at ${cut}: layers not in the whole frame`).toBe(0);
          } else {
            const cutView = snapshot(f);
            expect({ ...cutView.fields, capLen: b.bytes.length }, `cut at ${cut}, after the headers (they end at ${o.headerEnd}): same decode as the whole frame`).toEqual(whole.fields);
            expect(cutView.events, `cut at ${cut}: same events as the whole frame`).toEqual(whole.events);
          }
        }
      }),
      { seed: SEED, numRuns: 400, ...FC_LIMITS },
    );
  });
});

function layerNames(layers: number): string[] {
  return Object.entries(Layer)
    .filter(([, bit]) => (layers & bit) !== 0)
    .map(([name]) => name);
}

function eventLabel(id: number): string {
  return id < 0 ? 'none' : eventName(id);
}
