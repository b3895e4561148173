/**
 * LINKTYPE_NFLOG (239): what `tcpdump -i nflog:N` records, the packets an iptables/nftables NFLOG
 * rule logged. A 4-byte header (address family, version, resource id = the log group) is followed
 * by TLVs: a 16-bit length (header included, padding excluded) and a 16-bit type, the value padded
 * to 4 bytes. The logged packet itself is the NFULA_PAYLOAD TLV: an IPv4 or IPv6 datagram, no
 * link header. The group and the rule's log prefix (NFULA_PREFIX, before the payload as Linux
 * writes them) are kept in the frame, to tell which rule logged the packet; other TLVs (marks,
 * timestamps, interfaces, the hardware header) are skipped.
 *
 * The TLV length and type are in the byte order of the machine that captured, which the record
 * does not say. The first TLV's type decides: the attribute types are small numbers (1 to about
 * 20), so read the wrong way one reads 256 or more (Wireshark's dissector checks the same). Only
 * when both readings look like types does its length decide: little-endian it must fit the frame.
 * (The length alone misleads: 8 read the wrong way is 2048, which a large packet's record holds.)
 */
import { u16be, u16le } from '../bytes.js';
import { Ev } from '../events.js';
import { EtherType } from './ethertypes.js';
import { Layer, type Frame } from './frame.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeRawIp } from './loopback.js';

const HEADER_BYTES = 4;
const TLV_HEADER_BYTES = 4;
/** The TLV carrying the logged packet (linux/netfilter/nfnetlink_log.h). */
const NFULA_PAYLOAD = 9;
/** The rule's log prefix, a NUL-terminated string. */
const NFULA_PREFIX = 10;
/** Netlink attribute flags in the type's top bits (nested, byte order): not part of the type. */
const NLA_TYPE_MASK = 0x3fff;
/** Above any NFULA_* type Linux defines (NFULA_VLAN is 20, NFULA_L2HDR 21). */
const MAX_ATTRIBUTE_TYPE = 0xff;
const AF_INET = 2;
const AF_INET6 = 10;

export function decodeNflog(f: Frame, b: Uint8Array, off: number, end: number): void {
  f.layers |= Layer.RAW_IP;
  // Valid with Layer.NFLOG only, but no earlier record's values are left behind either way.
  f.nflogGroup = 0;
  f.nflogPrefixOff = -1;
  f.nflogPrefixLen = 0;
  f.nflogPrefixCut = 0;
  if (end - off < HEADER_BYTES) {
    f.noteTruncated(Ev.NFLOG_TRUNCATED);
    return;
  }
  const family = b[off]!;
  f.layers |= Layer.NFLOG;
  // The resource id, in network byte order whatever the machine's.
  f.nflogGroup = u16be(b, off + 2);
  let at = off + HEADER_BYTES;
  if (end - at < TLV_HEADER_BYTES) {
    // A header and nothing after it, on the wire too: a record without TLVs.
    if (at === end && f.capLen >= f.wireLen) f.note(Ev.NFLOG_NO_PAYLOAD);
    else f.noteTruncated(Ev.NFLOG_TRUNCATED);
    return;
  }
  const leTypeOk = isAttributeType(u16le(b, at + 2));
  const beTypeOk = isAttributeType(u16be(b, at + 2));
  const firstLe = u16le(b, at);
  const littleEndian = leTypeOk !== beTypeOk ? leTypeOk : firstLe >= TLV_HEADER_BYTES && firstLe <= end - at;
  while (end - at >= TLV_HEADER_BYTES) {
    const len = littleEndian ? u16le(b, at) : u16be(b, at);
    const type = (littleEndian ? u16le(b, at + 2) : u16be(b, at + 2)) & NLA_TYPE_MASK;
    if (len < TLV_HEADER_BYTES) {
      f.note(Ev.NFLOG_BAD_TLV);
      return;
    }
    if (type === NFULA_PREFIX) notePrefix(f, b, at + TLV_HEADER_BYTES, Math.min(end, at + len), at + len > end);
    else if (type === NFULA_PAYLOAD) {
      // A snap length may cut the datagram: its decoder sees what was captured.
      decodePayload(f, family, b, at + TLV_HEADER_BYTES, Math.min(end, at + len));
      return;
    }
    // The next TLV starts on a 4-byte boundary.
    at += (len + 3) & ~3;
  }
  // Past the end, a TLV header cut, or a record shorter than on the wire: the snap length took the
  // rest, payload included.
  if (at !== end || f.capLen < f.wireLen) f.noteTruncated(Ev.NFLOG_TRUNCATED);
  else f.note(Ev.NFLOG_NO_PAYLOAD);
}

/** Keeps where the prefix string lies: up to its NUL, within what was captured (`cut`: the TLV goes on past it). */
function notePrefix(f: Frame, b: Uint8Array, off: number, end: number, cut: boolean): void {
  let n = 0;
  while (off + n < end && b[off + n] !== 0) n++;
  f.nflogPrefixOff = off;
  f.nflogPrefixLen = n;
  f.nflogPrefixCut = cut && off + n === end ? 1 : 0;
}

/** True for a plausible NFULA_* attribute type (flag bits aside). */
function isAttributeType(type: number): boolean {
  const t = type & NLA_TYPE_MASK;
  return t >= 1 && t <= MAX_ATTRIBUTE_TYPE;
}

function decodePayload(f: Frame, family: number, b: Uint8Array, off: number, end: number): void {
  if (family === AF_INET) {
    f.etherType = EtherType.IPV4;
    decodeIpv4(f, b, off, end);
  } else if (family === AF_INET6) {
    f.etherType = EtherType.IPV6;
    decodeIpv6(f, b, off, end);
  } else {
    // Another family (an NFLOG rule in an ARP or bridge table, or AF_UNSPEC): the version nibble says.
    decodeRawIp(f, b, off, end);
  }
}
