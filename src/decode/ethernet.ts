import { mac48, u16be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';
import { EtherType } from './ethertypes.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeTypeField } from './network.js';

export const ETHERNET_HEADER_BYTES = 14;

/** Ethernet II and 802.3 framing: two MACs, then a type or length field. */
export function decodeEthernet(f: Frame, b: Uint8Array, off: number, end: number): void {
  const avail = end - off;
  if (avail < ETHERNET_HEADER_BYTES) {
    // Decode the MACs if they are there: a cut frame still says who sent it.
    if (avail >= 12) {
      f.dstMac = mac48(b, off);
      f.srcMac = mac48(b, off + 6);
      f.layers |= Layer.ETHERNET;
    }
    f.noteTruncated(Ev.ETH_TRUNCATED);
    return;
  }
  f.layers |= Layer.ETHERNET;
  f.dstMac = mac48(b, off);
  f.srcMac = mac48(b, off + 6);
  const type = u16be(b, off + 12);
  f.outerEtherType = type;
  // Most frames are untagged IPv4: straight there (what decodeTypeField would do for this type).
  if (type === EtherType.IPV4) {
    f.etherType = type;
    decodeIpv4(f, b, off + ETHERNET_HEADER_BYTES, end);
    return;
  }
  decodeTypeField(f, b, off + ETHERNET_HEADER_BYTES, end, type);
}

/** True for a group (multicast or broadcast) MAC: the I/G bit of the first octet. */
export function isGroupMac(mac: number): boolean {
  return Math.floor(mac / 0x10000000000) % 2 === 1;
}

export const BROADCAST_MAC = 0xffffffffffff;
