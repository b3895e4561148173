import { u32be, u32le } from '../bytes.js';
import { Ev } from '../events.js';
import { EtherType } from './ethertypes.js';
import { Layer, type Frame } from './frame.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';

/** Address families seen in NULL/LOOP headers: IPv4 everywhere, IPv6 differs per OS. */
const AF_INET = 2;
const AF_INET6_LINUX = 10;
const AF_INET6_WINDOWS = 23;
const AF_INET6_BSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;

/**
 * BSD loopback encapsulation: a 4-byte address family. For LINKTYPE_NULL it is in the byte
 * order of the machine that captured (so both are tried: a family fits in the low 16 bits);
 * for LINKTYPE_LOOP it is in network byte order.
 */
export function decodeLoopback(f: Frame, b: Uint8Array, off: number, end: number, networkOrder: boolean): void {
  if (end - off < 4) {
    f.noteTruncated(Ev.NULL_TRUNCATED);
    return;
  }
  let family = networkOrder ? u32be(b, off) : u32le(b, off);
  if (!networkOrder && (family & 0xffff0000) !== 0) family = u32be(b, off);
  f.layers |= Layer.RAW_IP;
  off += 4;
  if (family === AF_INET) {
    f.etherType = EtherType.IPV4;
    decodeIpv4(f, b, off, end);
  } else if (family === AF_INET6_LINUX || family === AF_INET6_WINDOWS || family === AF_INET6_BSD || family === AF_INET6_FREEBSD || family === AF_INET6_DARWIN) {
    f.etherType = EtherType.IPV6;
    decodeIpv6(f, b, off, end);
  } else {
    f.note(Ev.NULL_UNKNOWN_FAMILY);
  }
}

/** A raw IP link type: the version nibble says IPv4 or IPv6. */
export function decodeRawIp(f: Frame, b: Uint8Array, off: number, end: number): void {
  f.layers |= Layer.RAW_IP;
  if (end - off < 1) {
    f.noteTruncated(Ev.IPV4_TRUNCATED);
    return;
  }
  const version = b[off] >> 4;
  if (version === 4) {
    f.etherType = EtherType.IPV4;
    decodeIpv4(f, b, off, end);
  } else if (version === 6) {
    f.etherType = EtherType.IPV6;
    decodeIpv6(f, b, off, end);
  } else {
    f.note(Ev.RAW_UNKNOWN_VERSION);
  }
}
