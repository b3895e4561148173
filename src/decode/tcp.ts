import { u16be, u32be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';

const MIN_HEADER_BYTES = 20;

/**
 * TCP: ports, sequence and acknowledgment numbers, the 12-bit flags field (the nine flags plus
 * the three reserved bits), window and header length. The payload length comes from the IP
 * datagram length, so a frame cut by a snaplen still reports what was sent. Options are read on
 * demand by `readTcpOptions`.
 */
export function decodeTcp(f: Frame, b: Uint8Array, off: number, end: number): void {
  const avail = end - off;
  if (avail < MIN_HEADER_BYTES) {
    if (avail >= 4) {
      f.srcPort = u16be(b, off);
      f.dstPort = u16be(b, off + 2);
    }
    f.noteTruncated(Ev.TCP_TRUNCATED);
    return;
  }
  f.layers |= Layer.TCP;
  f.srcPort = u16be(b, off);
  f.dstPort = u16be(b, off + 2);
  f.tcpSeq = u32be(b, off + 4);
  f.tcpAck = u32be(b, off + 8);
  const offFlags = u16be(b, off + 12);
  const hdrLen = (offFlags >> 12) * 4;
  f.tcpFlags = offFlags & 0x0fff;
  f.tcpWindow = u16be(b, off + 14);
  f.tcpUrgent = u16be(b, off + 18);
  f.tcpHeaderLen = hdrLen;
  if (hdrLen < MIN_HEADER_BYTES || hdrLen > f.l4Len) {
    f.note(Ev.TCP_BAD_HEADER_LENGTH);
    f.tcpPayloadLen = 0;
    return;
  }
  f.tcpPayloadLen = f.l4Len - hdrLen;
  if (avail < hdrLen) f.noteTruncated(Ev.TCP_TRUNCATED);
}

/** TCP option kinds. */
export const TcpOption = {
  END: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;

/** The options of the current frame, filled by `readTcpOptions`: one reused object. */
export const tcpOptions = {
  /** Options present (header longer than 20 bytes). */
  present: false,
  /** MSS value, or -1. */
  mss: -1,
  /** Window scale shift, or -1. */
  windowScale: -1,
  sackPermitted: false,
  /** Timestamps option present. */
  timestamps: false,
  tsVal: 0,
  tsEcr: 0,
  /** SACK blocks present; `sackRightEdge` is the highest right edge among them (modulo 2^32). */
  sack: false,
  sackRightEdge: 0,
  /** An option with an impossible length was found (parsing stopped there). */
  malformed: false,
};

/**
 * Parses the current frame's TCP options into `tcpOptions`, without allocating. Cheap enough to
 * call for the packets that need it (SYN, SYN+ACK, RST); the decoder does not call it for all.
 */
export function readTcpOptions(f: Frame): typeof tcpOptions {
  const o = tcpOptions;
  o.present = false;
  o.mss = -1;
  o.windowScale = -1;
  o.sackPermitted = false;
  o.timestamps = false;
  o.tsVal = 0;
  o.tsEcr = 0;
  o.sack = false;
  o.sackRightEdge = 0;
  o.malformed = false;
  // A data offset beyond the IP payload (decoder.tcp.bad_header_length) has no options to read:
  // the bytes after the segment are padding or another packet's.
  if ((f.layers & Layer.TCP) === 0 || f.tcpHeaderLen <= MIN_HEADER_BYTES || f.tcpHeaderLen > f.l4Len) return o;
  o.present = true;
  const b = f.buf;
  const start = f.l4Off + MIN_HEADER_BYTES;
  // Only what was captured, and only within the header.
  const end = Math.min(f.l4Off + f.tcpHeaderLen, f.off + f.capLen);
  let p = start;
  while (p < end) {
    const kind = b[p];
    if (kind === TcpOption.END) break;
    if (kind === TcpOption.NOP) {
      p++;
      continue;
    }
    if (p + 1 >= end) break;
    const len = b[p + 1];
    if (len < 2 || p + len > f.l4Off + f.tcpHeaderLen) {
      o.malformed = true;
      f.note(Ev.TCP_BAD_OPTION);
      break;
    }
    if (p + len > end) break; // cut by the snaplen
    switch (kind) {
      case TcpOption.MSS:
        if (len === 4) o.mss = u16be(b, p + 2);
        break;
      case TcpOption.WINDOW_SCALE:
        if (len === 3) o.windowScale = b[p + 2];
        break;
      case TcpOption.SACK_PERMITTED:
        if (len === 2) o.sackPermitted = true;
        break;
      case TcpOption.SACK:
        // Blocks of (left, right) edges; keep the right edge furthest ahead, as conntrack does.
        for (let q = p + 2; q + 8 <= p + len; q += 8) {
          const right = u32be(b, q + 4);
          if (!o.sack || ((right - o.sackRightEdge) | 0) > 0) o.sackRightEdge = right;
          o.sack = true;
        }
        break;
      case TcpOption.TIMESTAMPS:
        if (len === 10) {
          o.timestamps = true;
          o.tsVal = u32be(b, p + 2);
          o.tsEcr = u32be(b, p + 6);
        }
        break;
      default:
        break;
    }
    p += len;
  }
  return o;
}
