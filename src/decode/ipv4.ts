import { u16be, u32be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';
import { decodeIcmp } from './icmp.js';
import { wireBytesFrom } from './network.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';
import { IpProto } from './ipproto.js';


const MIN_HEADER_BYTES = 20;

/**
 * IPv4: header length, total length, TTL, id, DF/MF, fragment offset, protocol and addresses.
 * The datagram length comes from the total length (trimming Ethernet padding); a total length of
 * 0 is a segmentation-offload frame and the wire length is used instead. The header checksum is
 * verified and counted, never used to drop. Non-first fragments get no L4 decoding.
 */
export function decodeIpv4(f: Frame, b: Uint8Array, off: number, end: number): void {
  const avail = end - off;
  if (avail < 1) {
    f.noteTruncated(Ev.IPV4_TRUNCATED);
    return;
  }
  const vihl = b[off];
  if (vihl >> 4 !== 4) {
    f.note(Ev.IPV4_BAD_VERSION);
    return;
  }
  const hdrLen = (vihl & 0x0f) * 4;
  if (hdrLen < MIN_HEADER_BYTES) {
    f.note(Ev.IPV4_BAD_HEADER_LENGTH);
    return;
  }
  if (avail < MIN_HEADER_BYTES) {
    f.noteTruncated(Ev.IPV4_TRUNCATED);
    return;
  }
  f.layers |= Layer.IPV4;
  f.ipOff = off;
  f.ipHeaderLen = hdrLen;
  f.ipTos = b[off + 1];
  const totalLen = u16be(b, off + 2);
  f.ipTotalLen = totalLen;
  f.ipId = u16be(b, off + 4);
  const fragField = u16be(b, off + 6);
  f.ipDf = (fragField >> 14) & 1;
  f.ipMf = (fragField >> 13) & 1;
  f.ipFragOffset = (fragField & 0x1fff) * 8;
  f.ipTtl = b[off + 8];
  f.ipProto = b[off + 9];
  f.ipSrc = u32be(b, off + 12);
  f.ipDst = u32be(b, off + 16);

  const wireLeft = wireBytesFrom(f, off);
  let ipLen: number;
  if (totalLen === 0) {
    f.note(Ev.IPV4_TSO_ZERO_LENGTH);
    ipLen = wireLeft;
  } else if (totalLen < hdrLen) {
    f.note(Ev.IPV4_BAD_TOTAL_LENGTH);
    return;
  } else if (totalLen > wireLeft) {
    f.note(Ev.IPV4_TOTAL_LENGTH_EXCEEDS_FRAME);
    ipLen = wireLeft;
  } else {
    ipLen = totalLen;
  }
  f.ipLen = ipLen;
  if (avail < hdrLen) {
    f.noteTruncated(Ev.IPV4_TRUNCATED);
    return;
  }
  f.ipChecksumOk = headerChecksumOk(b, off, hdrLen) ? 1 : 0;
  if (f.ipChecksumOk === 0) f.note(Ev.IPV4_BAD_CHECKSUM);

  if (f.ipFragOffset !== 0) {
    f.layers |= Layer.FRAGMENT;
    f.note(Ev.IPV4_FRAGMENT);
    return;
  }
  // Bytes past the datagram are link padding (or an FCS): not ours.
  if (off + ipLen < end) end = off + ipLen;
  const l4Off = off + hdrLen;
  f.l4Off = l4Off;
  f.l4Len = ipLen - hdrLen;
  switch (f.ipProto) {
    case IpProto.TCP:
      decodeTcp(f, b, l4Off, end);
      return;
    case IpProto.UDP:
      decodeUdp(f, b, l4Off, end);
      return;
    case IpProto.ICMP:
      decodeIcmp(f, b, l4Off, end);
      return;
    default:
      return;
  }
}

/**
 * The one's-complement sum of the header, checksum field included, is 0xffff when valid. The
 * high and low bytes of the 16-bit words are summed apart (the sum of words is hi * 256 + lo), and
 * the usual 20-byte header is summed in straight-line code: twice as fast as a loop of words.
 */
export function headerChecksumOk(b: Uint8Array, off: number, hdrLen: number): boolean {
  let hi = b[off] + b[off + 2] + b[off + 4] + b[off + 6] + b[off + 8] + b[off + 10] + b[off + 12] + b[off + 14] + b[off + 16] + b[off + 18];
  let lo = b[off + 1] + b[off + 3] + b[off + 5] + b[off + 7] + b[off + 9] + b[off + 11] + b[off + 13] + b[off + 15] + b[off + 17] + b[off + 19];
  for (let i = MIN_HEADER_BYTES; i < hdrLen; i += 2) {
    hi += b[off + i];
    lo += b[off + i + 1];
  }
  // At most 30 words of at most 0xffff: two folds bring the sum to 16 bits.
  let sum = hi * 256 + lo;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
