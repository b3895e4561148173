import { u16, u32 } from '../bytes.js';
import { Ev } from '../events.js';
import { CaptureError } from './errors.js';
import { CaptureRecord, type RecordHandler } from './record.js';
import { MICROSECONDS, ticksToTime, tsOut, tsResolutionFromOption, type TsResolution } from './timestamp.js';
import { NonPacketLinkType } from './linktypes.js';
import { MAX_STANDARD_PACKET, MAX_UNIT_BYTES, type UnitParser } from './unit-parser.js';

/** pcapng block types (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng). */
export const BlockType = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  PACKET_OBSOLETE: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  NAME_RESOLUTION: 0x00000004,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
  DECRYPTION_SECRETS: 0x0000000a,
  SYSTEMD_JOURNAL_EXPORT: 0x00000009,
  CUSTOM_COPIED: 0x00000bad,
  CUSTOM_NOT_COPIED: 0x40000bad,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes used here. */
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const IF_TSOFFSET = 14;
const ISB_IFDROP = 5;
const ISB_OSDROP = 7;

/** What one interface description block says. */
export interface PcapngInterface {
  linkType: number;
  snapLen: number;
  tsResolution: TsResolution;
  /** if_tsoffset: seconds added to every timestamp of this interface. */
  tsOffsetSec: number;
  /** if_fcslen, or -1 when not given. */
  fcsLen: number;
  /** Packets dropped, from the last interface statistics block (isb_ifdrop + isb_osdrop), or -1. */
  dropped: number;
}

/**
 * The pcapng reader: a sequence of blocks, each `type, total length, body, total length`. A new
 * section header block may change the byte order and starts a new list of interfaces.
 */
export class PcapngParser implements UnitParser {
  error: CaptureError | null = null;
  consumed = 0;
  frames = 0;
  sections = 0;
  /** Interfaces of the current section. */
  interfaces: PcapngInterface[] = [];
  /** Every interface of every section, in order, for the report. */
  readonly allInterfaces: PcapngInterface[] = [];
  /** Byte orders seen, for the format name. */
  private sawLittle = false;
  private sawBig = false;

  private le = true;
  /** Time of the previous packet, for simple packet blocks, which carry none. */
  private lastSec = 0;
  private lastNs = 0;
  private readonly rec: CaptureRecord;

  constructor(
    private readonly file: string,
    private readonly handler: RecordHandler,
    private readonly events: Float64Array,
  ) {
    this.rec = handler.record ?? new CaptureRecord();
  }

  formatName(): string {
    if (this.sawLittle && this.sawBig) return 'pcapng-mixed';
    return this.sawBig ? 'pcapng-be' : 'pcapng-le';
  }

  unitLength(b: Uint8Array, off: number, avail: number): number {
    if (avail < 8) return -8;
    const type = u32(b, off, this.le);
    let le = this.le;
    if (type === BlockType.SECTION_HEADER) {
      // The length of a section header is in the byte order the block itself declares.
      if (avail < 12) return -12;
      const order = this.byteOrderAt(b, off + 8);
      if (order === null) {
        this.failBlock('corrupt_header', `corrupt section header: byte-order magic is 0x${u32(b, off + 8, true).toString(16)}, expected 0x1a2b3c4d`);
        return 0;
      }
      le = order;
    }
    const len = u32(b, off + 4, le);
    if (len < 12 || len % 4 !== 0 || len > MAX_UNIT_BYTES) {
      this.failBlock('corrupt_record', `corrupt block header: block type 0x${type.toString(16)} has total length ${len} (must be a multiple of 4, at least 12 and at most ${MAX_UNIT_BYTES})`);
      return 0;
    }
    return len;
  }

  parse(b: Uint8Array, pos: number, end: number): number {
    for (;;) {
      if (this.error) return pos;
      const avail = end - pos;
      const len = this.unitLength(b, pos, avail);
      if (len <= 0 || len > avail) return pos;
      // The section header type reads the same in both byte orders.
      const type = u32(b, pos, this.le);
      if (type === BlockType.SECTION_HEADER) {
        if (!this.sectionHeader(b, pos, len)) return pos;
      } else {
        const trailer = u32(b, pos + len - 4, this.le);
        if (trailer !== len) {
          this.failBlock('corrupt_record', `inconsistent block lengths: block type 0x${type.toString(16)} starts with length ${len} and ends with ${trailer}`);
          return pos;
        }
        if (!this.block(b, pos, len, type)) return pos;
      }
      pos += len;
      this.consumed += len;
    }
  }

  private byteOrderAt(b: Uint8Array, off: number): boolean | null {
    const v = u32(b, off, true);
    if (v === BYTE_ORDER_MAGIC) return true;
    if (u32(b, off, false) === BYTE_ORDER_MAGIC) return false;
    return null;
  }

  private sectionHeader(b: Uint8Array, pos: number, len: number): boolean {
    const le = this.byteOrderAt(b, pos + 8)!;
    if (len < 28) {
      this.failBlock('corrupt_header', `corrupt section header: total length ${len} is below the minimum 28`);
      return false;
    }
    if (u32(b, pos + len - 4, le) !== len) {
      this.failBlock('corrupt_header', `inconsistent block lengths: section header starts with length ${len} and ends with ${u32(b, pos + len - 4, le)}`);
      return false;
    }
    const major = u16(b, pos + 12, le);
    const minor = u16(b, pos + 14, le);
    // libpcap reads 1.0 and 1.2 (1.2 was written by some tools); anything else is another format.
    if (major !== 1 || (minor !== 0 && minor !== 2)) {
      this.failBlock('unsupported_version', `unsupported pcapng section version ${major}.${minor} (1.0 expected)`);
      return false;
    }
    this.le = le;
    if (le) this.sawLittle = true;
    else this.sawBig = true;
    this.sections++;
    this.interfaces = [];
    return true;
  }

  private block(b: Uint8Array, pos: number, len: number, type: number): boolean {
    switch (type) {
      case BlockType.ENHANCED_PACKET:
        return this.enhancedPacket(b, pos, len);
      case BlockType.SIMPLE_PACKET:
        return this.simplePacket(b, pos, len);
      case BlockType.PACKET_OBSOLETE:
        return this.obsoletePacket(b, pos, len);
      case BlockType.INTERFACE_DESCRIPTION:
        return this.interfaceDescription(b, pos, len);
      case BlockType.INTERFACE_STATISTICS:
        this.interfaceStatistics(b, pos, len);
        return true;
      case BlockType.NAME_RESOLUTION:
      case BlockType.DECRYPTION_SECRETS:
        return true;
      case BlockType.CUSTOM_COPIED:
      case BlockType.CUSTOM_NOT_COPIED:
        // Wireshark lists custom blocks as frames; counting them keeps our frame numbers equal to its.
        this.events[Ev.PCAPNG_CUSTOM_BLOCK]++;
        this.nonPacketRecord(b, pos, len, NonPacketLinkType.PCAPNG_CUSTOM_BLOCK);
        return true;
      case BlockType.SYSTEMD_JOURNAL_EXPORT:
        this.nonPacketRecord(b, pos, len, NonPacketLinkType.SYSTEMD_JOURNAL_EXPORT);
        return true;
      default:
        this.events[Ev.PCAPNG_UNKNOWN_BLOCK]++;
        return true;
    }
  }

  private interfaceDescription(b: Uint8Array, pos: number, len: number): boolean {
    if (len < 20) {
      this.failBlock('corrupt_record', `corrupt interface description block: total length ${len} is below the minimum 20`);
      return false;
    }
    const le = this.le;
    const iface: PcapngInterface = {
      linkType: u16(b, pos + 8, le),
      snapLen: u32(b, pos + 12, le),
      tsResolution: MICROSECONDS,
      tsOffsetSec: 0,
      fcsLen: -1,
      dropped: -1,
    };
    const end = pos + len - 4;
    for (let o = pos + 16; o + 4 <= end; ) {
      const code = u16(b, o, le);
      const optLen = u16(b, o + 2, le);
      if (code === OPT_ENDOFOPT) break;
      if (o + 4 + optLen > end) {
        this.events[Ev.PCAPNG_BAD_OPTION]++;
        break;
      }
      const v = o + 4;
      if (code === IF_TSRESOL && optLen >= 1) {
        const res = tsResolutionFromOption(b[v]);
        if (res) iface.tsResolution = res;
        else this.events[Ev.PCAPNG_BAD_TSRESOL]++;
      } else if (code === IF_TSOFFSET && optLen >= 8) {
        // A signed 64-bit count of seconds.
        const lo = u32(b, v + (le ? 0 : 4), le);
        const hi = u32(b, v + (le ? 4 : 0), le);
        iface.tsOffsetSec = (hi | 0) * 4294967296 + lo;
      } else if (code === IF_FCSLEN && optLen >= 1) {
        iface.fcsLen = b[v];
      }
      o += 4 + ((optLen + 3) & ~3);
    }
    this.interfaces.push(iface);
    this.allInterfaces.push(iface);
    return true;
  }

  private interfaceStatistics(b: Uint8Array, pos: number, len: number): void {
    if (len < 24) return;
    const le = this.le;
    const iface = this.interfaces[u32(b, pos + 8, le)];
    if (!iface) return;
    const end = pos + len - 4;
    let dropped = -1;
    for (let o = pos + 20; o + 4 <= end; ) {
      const code = u16(b, o, le);
      const optLen = u16(b, o + 2, le);
      if (code === OPT_ENDOFOPT || o + 4 + optLen > end) break;
      if ((code === ISB_IFDROP || code === ISB_OSDROP) && optLen >= 8) {
        const lo = u32(b, o + 4 + (le ? 0 : 4), le);
        const hi = u32(b, o + 4 + (le ? 4 : 0), le);
        dropped = Math.max(dropped, 0) + hi * 4294967296 + lo;
      }
      o += 4 + ((optLen + 3) & ~3);
    }
    if (dropped >= 0) iface.dropped = dropped;
  }

  private enhancedPacket(b: Uint8Array, pos: number, len: number): boolean {
    if (len < 32) {
      this.failBlock('corrupt_record', `corrupt enhanced packet block: total length ${len} is below the minimum 32`);
      return false;
    }
    const le = this.le;
    const ifIndex = u32(b, pos + 8, le);
    const capLen = u32(b, pos + 20, le);
    const wireLen = u32(b, pos + 24, le);
    const iface = this.packetInterface(ifIndex, capLen, len - 32);
    if (!iface) return false;
    ticksToTime(u32(b, pos + 12, le), u32(b, pos + 16, le), iface.tsResolution);
    this.emit(b, pos + 28, capLen, wireLen, ifIndex, iface, tsOut.sec + iface.tsOffsetSec, tsOut.ns);
    return true;
  }

  private obsoletePacket(b: Uint8Array, pos: number, len: number): boolean {
    if (len < 32) {
      this.failBlock('corrupt_record', `corrupt packet block: total length ${len} is below the minimum 32`);
      return false;
    }
    const le = this.le;
    const ifIndex = u16(b, pos + 8, le);
    const capLen = u32(b, pos + 20, le);
    const wireLen = u32(b, pos + 24, le);
    const iface = this.packetInterface(ifIndex, capLen, len - 32);
    if (!iface) return false;
    ticksToTime(u32(b, pos + 12, le), u32(b, pos + 16, le), iface.tsResolution);
    this.emit(b, pos + 28, capLen, wireLen, ifIndex, iface, tsOut.sec + iface.tsOffsetSec, tsOut.ns);
    return true;
  }

  private simplePacket(b: Uint8Array, pos: number, len: number): boolean {
    if (len < 16) {
      this.failBlock('corrupt_record', `corrupt simple packet block: total length ${len} is below the minimum 16`);
      return false;
    }
    const wireLen = u32(b, pos + 8, this.le);
    const iface = this.interfaces[0];
    if (!iface) {
      this.failBlock('corrupt_record', 'simple packet block before any interface description block');
      return false;
    }
    // The captured length is implicit: the original length, cut by the snaplen and the block.
    let capLen = Math.min(wireLen, len - 16);
    if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
    this.events[Ev.PCAPNG_SPB_NO_TIMESTAMP]++;
    this.emit(b, pos + 12, capLen, wireLen, 0, iface, this.lastSec, this.lastNs, 0);
    return true;
  }

  /** A block that is not a packet but that Wireshark numbers as a frame: a record with no interface. */
  private nonPacketRecord(b: Uint8Array, pos: number, len: number, linkType: number): void {
    const rec = this.rec;
    rec.buf = b;
    rec.off = pos + 8;
    rec.capLen = len - 12;
    rec.wireLen = len - 12;
    rec.linkType = linkType;
    rec.ifIndex = -1;
    rec.tsSec = this.lastSec;
    rec.tsNs = this.lastNs;
    rec.hasTimestamp = 0;
    rec.frameNo = ++this.frames;
    rec.fileOffset = this.consumed;
    this.handler.onRecord(rec);
  }

  /** The interface a packet block names, after checking its captured length; null on error. */
  private packetInterface(ifIndex: number, capLen: number, room: number): PcapngInterface | null {
    const iface = this.interfaces[ifIndex];
    if (!iface) {
      this.failBlock('corrupt_record', `packet block refers to interface ${ifIndex}, but the section has ${this.interfaces.length} interface(s)`);
      return null;
    }
    if (capLen > room) {
      this.failBlock('corrupt_record', `corrupt packet block: captured length ${capLen} is larger than the block's ${room} bytes of data`);
      return null;
    }
    const max = Math.max(iface.snapLen, MAX_STANDARD_PACKET);
    if (capLen > max) {
      this.failBlock('corrupt_record', `corrupt packet block: captured length ${capLen} is larger than the maximum ${max} (snaplen ${iface.snapLen})`);
      return null;
    }
    return iface;
  }

  private emit(b: Uint8Array, off: number, capLen: number, wireLen: number, ifIndex: number, iface: PcapngInterface, sec: number, ns: number, hasTimestamp = 1): void {
    const rec = this.rec;
    rec.hasTimestamp = hasTimestamp;
    if (capLen > wireLen) this.events[Ev.PCAP_CAPLEN_EXCEEDS_WIRELEN]++;
    if (iface.snapLen > 0 && capLen > iface.snapLen) this.events[Ev.PCAP_CAPLEN_EXCEEDS_SNAPLEN]++;
    rec.buf = b;
    rec.off = off;
    rec.capLen = capLen;
    rec.wireLen = wireLen;
    rec.linkType = iface.linkType;
    rec.ifIndex = ifIndex;
    rec.tsSec = sec;
    rec.tsNs = ns;
    rec.frameNo = ++this.frames;
    rec.fileOffset = this.consumed;
    if (hasTimestamp) {
      this.lastSec = sec;
      this.lastNs = ns;
    }
    this.handler.onRecord(rec);
  }

  private failBlock(kind: CaptureError['kind'], problem: string): void {
    if (this.error) return;
    // The section header that opens the file is the file header: no frame number, as for pcap.
    const frame = this.consumed === 0 ? 0 : this.frames + 1;
    this.error = new CaptureError(kind, this.file, this.consumed, frame, problem);
  }
}
