import { mac48, u16be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';
import { decodeLlc } from './llc.js';
import { decodeTypeField } from './network.js';

/**
 * Bytes of a MAC-48 address. Every Linux device type with a 6-byte link-layer address (Ethernet,
 * IEEE 802, FDDI, 802.11, the loopback device, ...) uses a MAC-48 there, so a 6-byte SLL address
 * is taken as the source MAC whatever the ARPHRD type (as tshark and tcpdump show it).
 */
const MAC_BYTES = 6;

/** SLL protocol values below 0x0600 that are not EtherTypes (linux/if_ether.h). */
const LINUX_SLL_P_802_3 = 0x0001; // Novell 802.3 frames without an 802.2 header
const LINUX_SLL_P_802_2 = 0x0004; // frames with an 802.2 LLC header

export const SLL_HEADER_BYTES = 16;
export const SLL2_HEADER_BYTES = 20;

/**
 * Linux cooked capture v1 (LINKTYPE_LINUX_SLL): packet type, ARPHRD type, address length, up to 8
 * address bytes (the sender's MAC when the address has 6 bytes), protocol. No destination MAC is recorded.
 */
export function decodeSll(f: Frame, b: Uint8Array, off: number, end: number): void {
  if (end - off < SLL_HEADER_BYTES) {
    f.noteTruncated(Ev.SLL_TRUNCATED);
    return;
  }
  f.layers |= Layer.SLL;
  f.sllPacketType = u16be(b, off);
  const halen = u16be(b, off + 4);
  if (halen === MAC_BYTES) f.srcMac = mac48(b, off + 6);
  sllPayload(f, b, off + SLL_HEADER_BYTES, end, u16be(b, off + 14));
}

/**
 * Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): protocol, reserved, interface index, ARPHRD
 * type, packet type, address length, up to 8 address bytes.
 */
export function decodeSll2(f: Frame, b: Uint8Array, off: number, end: number): void {
  if (end - off < SLL2_HEADER_BYTES) {
    f.noteTruncated(Ev.SLL_TRUNCATED);
    return;
  }
  f.layers |= Layer.SLL;
  f.sllPacketType = b[off + 10];
  const halen = b[off + 11];
  if (halen === MAC_BYTES) f.srcMac = mac48(b, off + 12);
  sllPayload(f, b, off + SLL2_HEADER_BYTES, end, u16be(b, off));
}

function sllPayload(f: Frame, b: Uint8Array, off: number, end: number, protocol: number): void {
  f.outerEtherType = protocol;
  if (protocol === LINUX_SLL_P_802_2) {
    f.etherType = 0;
    decodeLlc(f, b, off, end);
    return;
  }
  if (protocol < 0x0600) {
    // Novell raw 802.3, CAN, and other Linux pseudo-protocols: nothing we decode.
    f.etherType = protocol === LINUX_SLL_P_802_3 ? 0 : protocol;
    return;
  }
  decodeTypeField(f, b, off, end, protocol);
}
