import { Ev } from '../events.js';
import { decodeArp } from './arp.js';
import { EtherType, MAX_8023_LENGTH, MIN_ETHERTYPE } from './ethertypes.js';
import type { Frame } from './frame.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeLlc } from './llc.js';
import { decodeVlanTags, vlanOut } from './vlan.js';

/**
 * Everything after a type/length field (Ethernet, SLL, SNAP): VLAN tags, then the 802.3 length
 * case (LLC follows), the invalid 1501-1535 range, or an EtherType.
 */
export function decodeTypeField(f: Frame, b: Uint8Array, off: number, end: number, type: number): void {
  if (type > MAX_8023_LENGTH && type < MIN_ETHERTYPE) {
    f.invalidType = 1;
    f.etherType = type;
    f.note(Ev.ETH_INVALID_TYPE);
    return;
  }
  if (type >= MIN_ETHERTYPE) {
    off = decodeVlanTags(f, b, off, end, type);
    if (off < 0) return;
    type = vlanOut.type;
    if (type > MAX_8023_LENGTH && type < MIN_ETHERTYPE) {
      f.invalidType = 1;
      f.etherType = type;
      f.note(Ev.ETH_INVALID_TYPE);
      return;
    }
  }
  if (type <= MAX_8023_LENGTH) {
    // 802.3: the field is the length of the LLC data; bytes after it are padding.
    f.lengthField = type;
    f.etherType = 0;
    const wireLeft = wireBytesFrom(f, off);
    if (type > wireLeft) f.note(Ev.ETH_LENGTH_MISMATCH);
    else if (off + type < end) end = off + type;
    decodeLlc(f, b, off, end);
    return;
  }
  f.etherType = type;
  decodeEtherType(f, b, off, end, type);
}

/** Dispatches on an EtherType once tags are gone. Unknown types stop here; detectors judge them. */
export function decodeEtherType(f: Frame, b: Uint8Array, off: number, end: number, type: number): void {
  switch (type) {
    case EtherType.IPV4:
      decodeIpv4(f, b, off, end);
      return;
    case EtherType.ARP:
    case EtherType.RARP:
      decodeArp(f, b, off, end);
      return;
    case EtherType.IPV6:
      decodeIpv6(f, b, off, end);
      return;
    default:
      return;
  }
}

/**
 * Bytes the frame had on the wire from `off` on (more than captured when a snaplen cut it). A
 * record that claims fewer wire bytes than it captured is odd (counted by the reader); the bytes
 * are there, so they count.
 */
export function wireBytesFrom(f: Frame, off: number): number {
  return Math.max(f.wireLen, f.capLen) - (off - f.off);
}
