import { u16be, u32be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';
import { IpProto } from './ipproto.js';

export const IcmpType = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
  INFO_REQUEST: 15,
  INFO_REPLY: 16,
  ADDRESS_MASK: 17,
  ADDRESS_MASK_REPLY: 18,
} as const;

/** Destination-unreachable codes a firewall REJECT uses, among others. */
export const IcmpUnreachCode = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAG_NEEDED: 4,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  ADMIN_PROHIBITED: 13,
} as const;

/** ICMP errors: they quote the header of the datagram that caused them. */
export function isIcmpError(type: number): boolean {
  return (
    type === IcmpType.DEST_UNREACHABLE ||
    type === IcmpType.SOURCE_QUENCH ||
    type === IcmpType.REDIRECT ||
    type === IcmpType.TIME_EXCEEDED ||
    type === IcmpType.PARAMETER_PROBLEM
  );
}

/** Query messages that carry an identifier and sequence number. */
function hasIdAndSeq(type: number): boolean {
  return type === IcmpType.ECHO_REPLY || type === IcmpType.ECHO_REQUEST || (type >= IcmpType.TIMESTAMP && type <= IcmpType.ADDRESS_MASK_REPLY);
}

const ERROR_HEADER_BYTES = 8;
const QUOTED_L4_BYTES = 8;

/**
 * ICMP: type and code; id and sequence for echo and the other queries; for an error, the quoted
 * IPv4 header and the first 8 bytes of its L4 header (ports, and the TCP sequence number), so
 * the error can be tied to the flow it is about.
 */
export function decodeIcmp(f: Frame, b: Uint8Array, off: number, end: number): void {
  const avail = end - off;
  if (avail < 4) {
    f.noteTruncated(Ev.ICMP_TRUNCATED);
    return;
  }
  f.layers |= Layer.ICMP;
  f.icmpType = b[off];
  f.icmpCode = b[off + 1];
  // Only queries have these; zero them so a reused Frame does not keep the previous echo's.
  f.icmpId = 0;
  f.icmpSeq = 0;
  if (hasIdAndSeq(f.icmpType)) {
    if (avail < 8) {
      f.noteTruncated(Ev.ICMP_TRUNCATED);
      return;
    }
    f.icmpId = u16be(b, off + 4);
    f.icmpSeq = u16be(b, off + 6);
    return;
  }
  if (!isIcmpError(f.icmpType)) return;
  if (avail < ERROR_HEADER_BYTES) {
    f.noteTruncated(Ev.ICMP_TRUNCATED);
    return;
  }
  decodeQuote(f, b, off + ERROR_HEADER_BYTES, end);
}

function decodeQuote(f: Frame, b: Uint8Array, q: number, end: number): void {
  // What the quote may not have (ports, a TCP sequence number) must not be the previous quote's.
  f.quoteSrcPort = 0;
  f.quoteDstPort = 0;
  f.quoteTcpSeq = 0;
  f.quoteIcmpType = -1;
  const avail = end - q;
  if (avail < 20) {
    f.noteTruncated(Ev.ICMP_QUOTE_TRUNCATED);
    return;
  }
  const vihl = b[q];
  const hdrLen = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || hdrLen < 20) {
    f.note(Ev.ICMP_QUOTE_BAD_HEADER);
    return;
  }
  f.quoteIpId = u16be(b, q + 4);
  f.quoteProto = b[q + 9];
  f.quoteSrc = u32be(b, q + 12);
  f.quoteDst = u32be(b, q + 16);
  if (avail < hdrLen + QUOTED_L4_BYTES) {
    // RFC 792 guarantees 8 bytes of L4; fewer means a cut frame or a broken sender.
    f.noteTruncated(Ev.ICMP_QUOTE_TRUNCATED);
    return;
  }
  const l4 = q + hdrLen;
  if (f.quoteProto === IpProto.TCP || f.quoteProto === IpProto.UDP) {
    f.quoteSrcPort = u16be(b, l4);
    f.quoteDstPort = u16be(b, l4 + 2);
    if (f.quoteProto === IpProto.TCP) f.quoteTcpSeq = u32be(b, l4 + 4);
  } else if (f.quoteProto === IpProto.ICMP) {
    // An error about an echo: the quoted id identifies the echo flow; its type says which way it went.
    f.quoteIcmpType = b[l4];
    f.quoteSrcPort = u16be(b, l4 + 4);
    f.quoteDstPort = 0;
  }
  f.layers |= Layer.ICMP_QUOTE;
}
