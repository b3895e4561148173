/**
 * Writers for classic pcap and pcapng, used by the test capture builder and the benchmark
 * generator (and by anything that exports frames). They produce exactly what libpcap and
 * Wireshark read, so our reader can be checked against them.
 */

export interface PcapWriteOptions {
  linkType?: number;
  snapLen?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nanos?: boolean;
  bigEndian?: boolean;
}

export interface WriteFrame {
  data: Uint8Array;
  tsSec: number;
  tsNs: number;
  /** Length on the wire; defaults to data.length. */
  wireLen?: number;
  /** pcapng only: index of the interface (default 0). */
  ifIndex?: number;
}

/** Classic pcap file header (24 bytes). */
export function pcapFileHeader(opts: PcapWriteOptions = {}): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  const le = !opts.bigEndian;
  v.setUint32(0, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(8, 0, le);
  v.setUint32(12, 0, le);
  v.setUint32(16, opts.snapLen ?? 262144, le);
  v.setUint32(20, opts.linkType ?? 1, le);
  return h;
}

/** One classic pcap record: 16-byte header and the captured bytes. */
export function pcapRecord(frame: WriteFrame, opts: PcapWriteOptions = {}): Uint8Array {
  const le = !opts.bigEndian;
  const out = new Uint8Array(16 + frame.data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, frame.tsSec, le);
  v.setUint32(4, opts.nanos ? frame.tsNs : Math.floor(frame.tsNs / 1000), le);
  v.setUint32(8, frame.data.length, le);
  v.setUint32(12, frame.wireLen ?? frame.data.length, le);
  out.set(frame.data, 16);
  return out;
}

/** A whole classic pcap file. */
export function writePcap(frames: readonly WriteFrame[], opts: PcapWriteOptions = {}): Uint8Array {
  return concatBytes([pcapFileHeader(opts), ...frames.map((f) => pcapRecord(f, opts))]);
}

export interface PcapngInterfaceSpec {
  linkType: number;
  snapLen?: number;
  /** if_tsresol option byte (6 = µs default, 9 = ns, 0x80|n = 2^-n). Omitted when undefined. */
  tsResol?: number;
  /** if_tsoffset in seconds. */
  tsOffsetSec?: number;
}

export interface PcapngWriteOptions {
  bigEndian?: boolean;
  interfaces?: PcapngInterfaceSpec[];
}

/** Section header block. */
export function pcapngSectionHeader(le: boolean): Uint8Array {
  return pcapngBlock(0x0a0d0d0a, le, (body) => {
    body.u32(0x1a2b3c4d);
    body.u16(1);
    body.u16(0);
    body.u32(0xffffffff);
    body.u32(0xffffffff); // section length: unknown
  });
}

/** Interface description block with if_tsresol / if_tsoffset options as asked. */
export function pcapngInterface(spec: PcapngInterfaceSpec, le: boolean): Uint8Array {
  return pcapngBlock(0x00000001, le, (body) => {
    body.u16(spec.linkType);
    body.u16(0);
    body.u32(spec.snapLen ?? 262144);
    if (spec.tsResol !== undefined) {
      body.u16(9);
      body.u16(1);
      body.bytes(Uint8Array.of(spec.tsResol, 0, 0, 0));
    }
    if (spec.tsOffsetSec !== undefined) {
      body.u16(14);
      body.u16(8);
      body.u64(spec.tsOffsetSec);
    }
    if (spec.tsResol !== undefined || spec.tsOffsetSec !== undefined) {
      body.u16(0);
      body.u16(0);
    }
  });
}

/** Enhanced packet block; the timestamp is converted to the interface's resolution. */
export function pcapngEnhancedPacket(frame: WriteFrame, spec: PcapngInterfaceSpec, le: boolean): Uint8Array {
  const ticks = toTicks(frame.tsSec - (spec.tsOffsetSec ?? 0), frame.tsNs, spec.tsResol ?? 6);
  return pcapngBlock(0x00000006, le, (body) => {
    body.u32(frame.ifIndex ?? 0);
    body.u32(Number(ticks >> 32n));
    body.u32(Number(ticks & 0xffffffffn));
    body.u32(frame.data.length);
    body.u32(frame.wireLen ?? frame.data.length);
    body.bytes(frame.data);
    body.pad4();
  });
}

/** A whole pcapng file with one section. */
export function writePcapng(frames: readonly WriteFrame[], opts: PcapngWriteOptions = {}): Uint8Array {
  const le = !opts.bigEndian;
  const ifaces = opts.interfaces ?? [{ linkType: 1 }];
  const parts = [pcapngSectionHeader(le), ...ifaces.map((i) => pcapngInterface(i, le))];
  for (const f of frames) parts.push(pcapngEnhancedPacket(f, ifaces[f.ifIndex ?? 0]!, le));
  return concatBytes(parts);
}

function toTicks(sec: number, ns: number, tsResol: number): bigint {
  const totalNs = BigInt(sec) * 1000000000n + BigInt(ns);
  if ((tsResol & 0x80) === 0) {
    const exp = tsResol;
    return exp >= 9 ? totalNs * 10n ** BigInt(exp - 9) : totalNs / 10n ** BigInt(9 - exp);
  }
  const e = BigInt(tsResol & 0x7f);
  return (totalNs << e) / 1000000000n;
}

/** Little helper that writes a block body in the section's byte order. */
class BodyWriter {
  private readonly parts: number[] = [];
  constructor(private readonly le: boolean) {}
  u16(v: number): void {
    if (this.le) this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    else this.parts.push((v >>> 8) & 0xff, v & 0xff);
  }
  u32(v: number): void {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.parts.push(...(this.le ? b : b.reverse()));
  }
  u64(v: number): void {
    const big = BigInt.asUintN(64, BigInt(v));
    const lo = Number(big & 0xffffffffn);
    const hi = Number(big >> 32n);
    if (this.le) {
      this.u32(lo);
      this.u32(hi);
    } else {
      this.u32(hi);
      this.u32(lo);
    }
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.parts.push(x);
  }
  pad4(): void {
    while (this.parts.length % 4 !== 0) this.parts.push(0);
  }
  toBytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function pcapngBlock(type: number, le: boolean, fill: (body: BodyWriter) => void): Uint8Array {
  const body = new BodyWriter(le);
  fill(body);
  body.pad4();
  const inner = body.toBytes();
  const total = 12 + inner.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, total, le);
  out.set(inner, 8);
  v.setUint32(total - 4, total, le);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
