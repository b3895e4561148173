/**
 * Byte builders for test frames: Ethernet (with VLAN tags), 802.3/LLC, STP BPDUs, ARP, IPv4,
 * TCP, UDP and ICMP. Written from the RFCs and IEEE layouts, independently of the decoder, so the
 * decoder can be tested against them.
 */

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(':').map((h) => parseInt(h, 16));
  if (parts.length !== 6 || parts.some((p) => Number.isNaN(p))) throw new Error(`bad MAC ${mac}`);
  return Uint8Array.from(parts);
}

export function ipBytes(ip: string): Uint8Array {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4) throw new Error(`bad IPv4 ${ip}`);
  return Uint8Array.from(parts);
}

export function ipNumber(ip: string): number {
  const b = ipBytes(ip);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function macNumber(mac: string): number {
  const b = macBytes(mac);
  return ((b[0]! << 8) | b[1]!) * 0x100000000 + (((b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!) >>> 0);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function be16(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
}

function be32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** One's-complement checksum of `data` (RFC 1071). */
export function inetChecksum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface EthernetSpec {
  src: string;
  dst: string;
  /** VLAN ids, outermost first; each tag uses `tpids[i]` or 0x8100. */
  vlans?: number[];
  tpids?: number[];
  type: number;
  /** Pad to the 60-byte Ethernet minimum (default true), as a NIC would. */
  pad?: boolean;
}

export function ethernet(spec: EthernetSpec, payload: Uint8Array): Uint8Array {
  const tags: Uint8Array[] = [];
  const vlans = spec.vlans ?? [];
  vlans.forEach((vid, i) => {
    const next = i + 1 < vlans.length ? (spec.tpids?.[i + 1] ?? 0x8100) : spec.type;
    tags.push(concat(be16(vid & 0x0fff), be16(next)));
  });
  const firstType = vlans.length > 0 ? (spec.tpids?.[0] ?? 0x8100) : spec.type;
  let frame = concat(macBytes(spec.dst), macBytes(spec.src), be16(firstType), ...tags, payload);
  if (spec.pad !== false && frame.length < 60) frame = concat(frame, new Uint8Array(60 - frame.length));
  return frame;
}

/** An 802.3 frame: the type field is the LLC length. */
export function ieee8023(spec: { src: string; dst: string }, llcPayload: Uint8Array, pad = true): Uint8Array {
  let frame = concat(macBytes(spec.dst), macBytes(spec.src), be16(llcPayload.length), llcPayload);
  if (pad && frame.length < 60) frame = concat(frame, new Uint8Array(60 - frame.length));
  return frame;
}

export interface BpduSpec {
  version?: number; // 0 STP, 2 RSTP
  type?: number; // 0 config, 0x80 TCN, 2 RST
  flags?: number;
  rootPriority?: number;
  rootMac: string;
  rootPathCost?: number;
  bridgePriority?: number;
  bridgeMac: string;
  portId?: number;
  messageAge?: number;
  maxAge?: number;
  helloTime?: number;
  forwardDelay?: number;
}

/** LLC (42 42 03) + a configuration or RST BPDU. */
export function stpBpdu(spec: BpduSpec): Uint8Array {
  const version = spec.version ?? 0;
  const type = spec.type ?? (version >= 2 ? 0x02 : 0x00);
  const llc = Uint8Array.of(0x42, 0x42, 0x03);
  if (type === 0x80) return concat(llc, Uint8Array.of(0, 0, version, type));
  const body = concat(
    Uint8Array.of(0, 0, version, type, spec.flags ?? 0),
    be16(spec.rootPriority ?? 32768),
    macBytes(spec.rootMac),
    be32(spec.rootPathCost ?? 0),
    be16(spec.bridgePriority ?? 32768),
    macBytes(spec.bridgeMac),
    be16(spec.portId ?? 0x8001),
    be16((spec.messageAge ?? 0) * 256),
    be16((spec.maxAge ?? 20) * 256),
    be16((spec.helloTime ?? 2) * 256),
    be16((spec.forwardDelay ?? 15) * 256),
  );
  return concat(llc, body, version >= 2 ? Uint8Array.of(0) : new Uint8Array(0));
}

export interface ArpSpec {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export function arp(spec: ArpSpec): Uint8Array {
  return concat(
    be16(1),
    be16(0x0800),
    Uint8Array.of(6, 4),
    be16(spec.op),
    macBytes(spec.senderMac),
    ipBytes(spec.senderIp),
    macBytes(spec.targetMac),
    ipBytes(spec.targetIp),
  );
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  tos?: number;
  /** Override the total length field (e.g. 0 for a TSO frame). */
  totalLength?: number;
  /** IP options bytes (multiple of 4). */
  options?: Uint8Array;
  /** Write a wrong header checksum. */
  badChecksum?: boolean;
}

export function ipv4(spec: Ipv4Spec, payload: Uint8Array): Uint8Array {
  const opts = spec.options ?? new Uint8Array(0);
  const hdrLen = 20 + opts.length;
  const h = new Uint8Array(hdrLen);
  h[0] = 0x40 | (hdrLen / 4);
  h[1] = spec.tos ?? 0;
  h.set(be16(spec.totalLength ?? hdrLen + payload.length), 2);
  h.set(be16(spec.id ?? 0), 4);
  const frag = (spec.df ? 0x4000 : 0) | (spec.mf ? 0x2000 : 0) | ((spec.fragOffset ?? 0) / 8);
  h.set(be16(frag), 6);
  h[8] = spec.ttl ?? 64;
  h[9] = spec.proto;
  h.set(ipBytes(spec.src), 12);
  h.set(ipBytes(spec.dst), 16);
  h.set(opts, 20);
  let ck = inetChecksum(h);
  if (spec.badChecksum) ck = (ck + 1) & 0xffff;
  h.set(be16(ck), 10);
  return concat(h, payload);
}

/** TCP flags by letter: F S R P A U E C N. */
export function tcpFlags(text: string): number {
  const bits: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80, N: 0x100 };
  let v = 0;
  for (const ch of text) {
    const b = bits[ch];
    if (b === undefined) throw new Error(`unknown TCP flag ${ch}`);
    v |= b;
  }
  return v;
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** Letters ("SA", "R", "FA", "PA") or the 12-bit value. */
  flags: string | number;
  window?: number;
  urgent?: number;
  options?: Uint8Array;
  payload?: Uint8Array;
}

export function tcp(spec: TcpSpec): Uint8Array {
  const opts = spec.options ?? new Uint8Array(0);
  const padded = opts.length % 4 === 0 ? opts : concat(opts, new Uint8Array(4 - (opts.length % 4)));
  const hdrLen = 20 + padded.length;
  const flags = typeof spec.flags === 'string' ? tcpFlags(spec.flags) : spec.flags;
  const h = new Uint8Array(hdrLen);
  h.set(be16(spec.sport), 0);
  h.set(be16(spec.dport), 2);
  h.set(be32(spec.seq ?? 0), 4);
  h.set(be32(spec.ack ?? 0), 8);
  h.set(be16(((hdrLen / 4) << 12) | (flags & 0x0fff)), 12);
  h.set(be16(spec.window ?? 64240), 14);
  h.set(be16(spec.urgent ?? 0), 18);
  h.set(padded, 20);
  return concat(h, spec.payload ?? new Uint8Array(0));
}

/** Common SYN options: MSS, SACK permitted, timestamps, NOP, window scale. */
export function synOptions(mss = 1460, wscale = 7, tsVal = 1000, tsEcr = 0): Uint8Array {
  return concat(
    Uint8Array.of(2, 4),
    be16(mss),
    Uint8Array.of(4, 2),
    Uint8Array.of(8, 10),
    be32(tsVal),
    be32(tsEcr),
    Uint8Array.of(1, 3, 3, wscale),
  );
}

export function udp(spec: { sport: number; dport: number; payload?: Uint8Array; length?: number }): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  return concat(be16(spec.sport), be16(spec.dport), be16(spec.length ?? 8 + payload.length), be16(0), payload);
}

export function icmpEcho(spec: { type: 0 | 8; id: number; seq: number; payload?: Uint8Array }): Uint8Array {
  const body = concat(Uint8Array.of(spec.type, 0, 0, 0), be16(spec.id), be16(spec.seq), spec.payload ?? new Uint8Array(8));
  body.set(be16(inetChecksum(body)), 2);
  return body;
}

/** An ICMP error quoting `quoted` (an IPv4 datagram; its header + first 8 bytes are kept). */
export function icmpError(spec: { type: number; code: number }, quoted: Uint8Array): Uint8Array {
  const ihl = (quoted[0]! & 0x0f) * 4;
  const body = concat(Uint8Array.of(spec.type, spec.code, 0, 0, 0, 0, 0, 0), quoted.subarray(0, ihl + 8));
  body.set(be16(inetChecksum(body)), 2);
  return body;
}

/** Linux cooked v1 header in front of a payload. */
export function sll(spec: { packetType?: number; srcMac: string; protocol: number }, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(16);
  h.set(be16(spec.packetType ?? 0), 0);
  h.set(be16(1), 2);
  h.set(be16(6), 4);
  h.set(macBytes(spec.srcMac), 6);
  h.set(be16(spec.protocol), 14);
  return concat(h, payload);
}

/** Linux cooked v2 header in front of a payload. */
export function sll2(spec: { packetType?: number; srcMac: string; protocol: number; ifIndex?: number }, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(20);
  h.set(be16(spec.protocol), 0);
  h.set(be32(spec.ifIndex ?? 1), 4);
  h.set(be16(1), 8);
  h[10] = spec.packetType ?? 0;
  h[11] = 6;
  h.set(macBytes(spec.srcMac), 12);
  return concat(h, payload);
}

// LINKTYPE_NFLOG records (see src/decode/nflog.ts).
export const NFULA_PAYLOAD = 9;
export const NFULA_PREFIX = 10;
export const NFULA_TIMESTAMP = 3;

/** An NFLOG TLV: length (header + value, no padding) and type in the given byte order, the value padded to 4 bytes. */
export function nflogTlv(type: number, value: Uint8Array, littleEndian: boolean, lengthOverride?: number): Uint8Array {
  const padded = (value.length + 3) & ~3;
  const b = new Uint8Array(4 + padded);
  const v = new DataView(b.buffer);
  v.setUint16(0, lengthOverride ?? 4 + value.length, littleEndian);
  v.setUint16(2, type, littleEndian);
  b.set(value, 4);
  return b;
}

/** The NFLOG header: address family, version 0, the group (resource id) in network byte order. */
export function nflogHeader(family: number, group = 6): Uint8Array {
  return Uint8Array.of(family, 0, group >> 8, group & 0xff);
}

/** A record as Linux writes it: the prefix (when given, NUL-terminated), then the IPv4 packet. */
export function nflogRecord(spec: { group: number; prefix?: string; littleEndian?: boolean }, packet: Uint8Array): Uint8Array {
  const le = spec.littleEndian ?? true;
  const parts = [nflogHeader(2, spec.group)];
  if (spec.prefix !== undefined) parts.push(nflogTlv(NFULA_PREFIX, new TextEncoder().encode(`${spec.prefix}\0`), le));
  parts.push(nflogTlv(NFULA_PAYLOAD, packet, le));
  return concat(...parts);
}
