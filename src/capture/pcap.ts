import { u16, u32 } from '../bytes.js';
import { Ev } from '../events.js';
import { CaptureError } from './errors.js';
import { CaptureRecord, type RecordHandler } from './record.js';
import { MAX_STANDARD_PACKET, MAX_UNIT_BYTES, type UnitParser } from './unit-parser.js';

/** The magic numbers of classic pcap, as read in little-endian order. */
export const PcapMagic = {
  MICRO: 0xa1b2c3d4,
  NANO: 0xa1b23c4d,
  /** Alexey Kuznetzov's patched libpcap: 8 more bytes per record header (ifindex, protocol, pkt_type). */
  KUZNETZOV: 0xa1b2cd34,
} as const;

const FILE_HEADER_BYTES = 24;

/** Result of looking at the first four bytes of a file. */
export interface PcapVariant {
  littleEndian: boolean;
  nanos: boolean;
  recordHeaderBytes: number;
}

/** Recognizes a classic pcap magic in either byte order, or returns null. */
export function pcapVariant(magicLe: number): PcapVariant | null {
  const swapped = (((magicLe & 0xff) << 24) | ((magicLe & 0xff00) << 8) | ((magicLe >>> 8) & 0xff00) | (magicLe >>> 24)) >>> 0;
  for (const [value, le] of [
    [magicLe, true],
    [swapped, false],
  ] as const) {
    if (value === PcapMagic.MICRO) return { littleEndian: le, nanos: false, recordHeaderBytes: 16 };
    if (value === PcapMagic.NANO) return { littleEndian: le, nanos: true, recordHeaderBytes: 16 };
    if (value === PcapMagic.KUZNETZOV) return { littleEndian: le, nanos: false, recordHeaderBytes: 24 };
  }
  return null;
}

/**
 * Classic libpcap format: a 24-byte file header, then records of a 16-byte header (ts_sec,
 * ts_frac, incl_len, orig_len) and incl_len bytes.
 */
export class PcapParser implements UnitParser {
  error: CaptureError | null = null;
  consumed = 0;
  frames = 0;

  /** From the file header. */
  linkType = -1;
  snapLen = 0;
  versionMajor = 0;
  versionMinor = 0;
  /** FCS bytes at the end of each frame, when the header says so (LT_FCS_LENGTH). */
  fcsLen = 0;

  private headerDone = false;
  private readonly le: boolean;
  private readonly nanos: boolean;
  private readonly recHdr: number;
  /** Versions before 2.3 wrote orig_len before incl_len. */
  private lengthsSwapped = false;
  private maxCapLen = MAX_STANDARD_PACKET;
  private readonly rec: CaptureRecord;

  constructor(
    private readonly file: string,
    variant: PcapVariant,
    private readonly handler: RecordHandler,
    private readonly events: Float64Array,
  ) {
    this.rec = handler.record ?? new CaptureRecord();
    this.le = variant.littleEndian;
    this.nanos = variant.nanos;
    this.recHdr = variant.recordHeaderBytes;
  }

  formatName(): string {
    const precision = this.recHdr === 24 ? 'kuznetzov' : this.nanos ? 'ns' : 'us';
    return `pcap-${precision}-${this.le ? 'le' : 'be'}`;
  }

  unitLength(b: Uint8Array, off: number, avail: number): number {
    if (!this.headerDone) return avail >= FILE_HEADER_BYTES ? FILE_HEADER_BYTES : -FILE_HEADER_BYTES;
    if (avail < this.recHdr) return -this.recHdr;
    const capLen = u32(b, off + (this.lengthsSwapped ? 12 : 8), this.le);
    if (capLen > this.maxCapLen) {
      this.fail('corrupt_record', `corrupt record header: captured length ${capLen} is larger than the maximum ${this.maxCapLen} (snaplen ${this.snapLen})`);
      return 0;
    }
    return this.recHdr + capLen;
  }

  parse(b: Uint8Array, pos: number, end: number): number {
    if (!this.headerDone) {
      if (end - pos < FILE_HEADER_BYTES) return pos;
      if (!this.parseFileHeader(b, pos)) return pos;
      pos += FILE_HEADER_BYTES;
      this.consumed += FILE_HEADER_BYTES;
    }
    const le = this.le;
    const recHdr = this.recHdr;
    const capOff = this.lengthsSwapped ? 12 : 8;
    const wireOff = this.lengthsSwapped ? 8 : 12;
    const fracPerSec = this.nanos ? 1e9 : 1e6;
    const nsPerFrac = this.nanos ? 1 : 1000;
    const rec = this.rec;
    const handler = this.handler;
    const events = this.events;
    rec.buf = b;
    rec.linkType = this.linkType;
    // One DataView per chunk: a 32-bit field is one bounds check and one load, not four.
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    // Counted in locals, written back on the way out: fields of a parser would be loaded and
    // stored (the offset, a boxed double in a large file) for every record.
    let frames = this.frames;
    let consumed = this.consumed;
    const maxCapLen = this.maxCapLen;
    const snapLen = this.snapLen > 0 ? this.snapLen : Infinity;
    const kuznetzov = recHdr === 24;
    if (!kuznetzov) rec.ifIndex = 0;
    for (;;) {
      if (end - pos < recHdr) break;
      const capLen = v.getUint32(pos + capOff, le);
      if (capLen > maxCapLen) {
        this.frames = frames;
        this.consumed = consumed;
        this.fail('corrupt_record', `corrupt record header: captured length ${capLen} is larger than the maximum ${maxCapLen} (snaplen ${this.snapLen})`);
        return pos;
      }
      if (end - pos < recHdr + capLen) break;
      let tsSec = v.getUint32(pos, le);
      let frac = v.getUint32(pos + 4, le);
      if (frac >= fracPerSec) {
        // Some writers put garbage here; carry whole seconds so tsNs stays a fraction.
        const carry = Math.floor(frac / fracPerSec);
        tsSec += carry;
        frac -= carry * fracPerSec;
        events[Ev.PCAP_TS_FRACTION_OVERFLOW]++;
      }
      const wireLen = v.getUint32(pos + wireOff, le);
      if (capLen > wireLen || capLen > snapLen) {
        if (capLen > wireLen) events[Ev.PCAP_CAPLEN_EXCEEDS_WIRELEN]++;
        if (capLen > snapLen) events[Ev.PCAP_CAPLEN_EXCEEDS_SNAPLEN]++;
      }
      rec.off = pos + recHdr;
      rec.capLen = capLen;
      rec.wireLen = wireLen;
      rec.tsSec = tsSec;
      rec.tsNs = frac * nsPerFrac;
      if (kuznetzov) rec.ifIndex = v.getUint32(pos + 16, le);
      rec.frameNo = ++frames;
      rec.fileOffset = consumed;
      handler.onRecord(rec);
      pos += recHdr + capLen;
      consumed += recHdr + capLen;
    }
    this.frames = frames;
    this.consumed = consumed;
    return pos;
  }

  private parseFileHeader(b: Uint8Array, pos: number): boolean {
    const le = this.le;
    this.versionMajor = u16(b, pos + 4, le);
    this.versionMinor = u16(b, pos + 6, le);
    this.snapLen = u32(b, pos + 16, le);
    const rawLinkType = u32(b, pos + 20, le);
    if (this.versionMajor !== 2) {
      this.fail('unsupported_version', `unsupported pcap version ${this.versionMajor}.${this.versionMinor} (only 2.x exists)`, 0);
      return false;
    }
    // libpcap: the low 16 bits are the link type, bits 16-25 must be zero, bit 26 says whether the
    // top 4 bits give an FCS length.
    if ((rawLinkType & 0x03ff0000) !== 0) {
      this.fail('corrupt_header', `corrupt file header: reserved bits of the link type field are set (0x${rawLinkType.toString(16)})`, 0);
      return false;
    }
    this.linkType = rawLinkType & 0xffff;
    this.fcsLen = (rawLinkType & 0x04000000) !== 0 ? (rawLinkType >>> 28) * 2 : 0;
    this.lengthsSwapped = this.versionMinor < 3;
    // A header may declare any snaplen; accept records up to the larger of it and the standard
    // maximum, but never more than MAX_UNIT_BYTES so a lying header cannot make us allocate.
    this.maxCapLen = Math.min(Math.max(this.snapLen, MAX_STANDARD_PACKET), MAX_UNIT_BYTES);
    this.headerDone = true;
    return true;
  }

  private fail(kind: CaptureError['kind'], problem: string, frame = this.frames + 1): void {
    if (this.error) return;
    this.error = new CaptureError(kind, this.file, this.consumed, frame, problem);
  }
}
