import { mac48, u16be, u32be } from '../bytes.js';
import { Ev } from '../events.js';
import { EtherType } from './ethertypes.js';
import { Layer, type Frame } from './frame.js';

export const ArpOp = {
  REQUEST: 1,
  REPLY: 2,
  RARP_REQUEST: 3,
  RARP_REPLY: 4,
} as const;

const HTYPE_ETHERNET = 1;
const HTYPE_IEEE802 = 6;
const ARP_ETHER_IPV4_BYTES = 28;
/** Highest opcode IANA has assigned (MAPOS-UNARP is 23, OP_EXP2 is 25). */
const MAX_ASSIGNED_OPCODE = 25;

/** ARP (and RARP) for Ethernet/IPv4: opcode, sender and target MAC and IPv4 address. */
export function decodeArp(f: Frame, b: Uint8Array, off: number, end: number): void {
  const avail = end - off;
  if (avail < 8) {
    f.noteTruncated(Ev.ARP_TRUNCATED);
    return;
  }
  const htype = u16be(b, off);
  const ptype = u16be(b, off + 2);
  const hlen = b[off + 4];
  const plen = b[off + 5];
  if ((htype !== HTYPE_ETHERNET && htype !== HTYPE_IEEE802) || ptype !== EtherType.IPV4 || hlen !== 6 || plen !== 4) {
    f.note(Ev.ARP_NOT_ETHER_IPV4);
    return;
  }
  f.arpOp = u16be(b, off + 6);
  if (f.arpOp === 0 || f.arpOp > MAX_ASSIGNED_OPCODE) f.note(Ev.ARP_BAD_OPCODE);
  if (avail < ARP_ETHER_IPV4_BYTES) {
    f.noteTruncated(Ev.ARP_TRUNCATED);
    return;
  }
  f.layers |= Layer.ARP;
  f.arpSenderMac = mac48(b, off + 8);
  f.arpSenderIp = u32be(b, off + 14);
  f.arpTargetMac = mac48(b, off + 18);
  f.arpTargetIp = u32be(b, off + 24);
}

/**
 * A gratuitous ARP announces the sender's own address: sender and target IP are equal (request
 * or reply, RFC 5227 "ARP announcement").
 */
export function isGratuitousArp(f: Frame): boolean {
  return (f.layers & Layer.ARP) !== 0 && f.arpSenderIp === f.arpTargetIp && f.arpSenderIp !== 0;
}

/** An ARP probe (RFC 5227) asks whether an address is in use: a request from sender IP 0.0.0.0. */
export function isArpProbe(f: Frame): boolean {
  return (f.layers & Layer.ARP) !== 0 && f.arpOp === ArpOp.REQUEST && f.arpSenderIp === 0;
}
