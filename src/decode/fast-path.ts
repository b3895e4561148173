import type { CaptureRecord } from '../capture/record.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';
import { EtherType } from './ethertypes.js';
import { IpProto } from './ipproto.js';

/**
 * The common case in one flat pass: an untagged Ethernet II frame carrying an unfragmented IPv4
 * datagram with a 20-byte header and a complete TCP or UDP header, all within what was captured
 * and what the lengths declare: most frames of most captures (all but 1 % of the benchmark's).
 *
 * The general decoder walks the same headers through a chain of calls (link, EtherType, IPv4, L4)
 * that V8 cannot inline whole, and re-reads the header bytes to verify the checksum. Here every
 * header byte is loaded once, the checksum is summed from the words already in registers, and the
 * frame's fields are written once each: about twice as fast (see the README's performance notes).
 *
 * The result must be exactly what the general decoder leaves in the frame, field for field; the
 * test `fast-path.test.ts` checks this against `decodeRecordGeneral` on random and mutated frames. Anything
 * unusual (a tag, IP options, a fragment, a length that disagrees, a cut header, another protocol)
 * returns false before a field is written, and the general decoder takes the frame.
 */
export function decodeEthernetIpv4Fast(f: Frame, rec: CaptureRecord): boolean {
  const b = rec.buf;
  const off = rec.off;
  const capLen = rec.capLen;
  // Ethernet (14) + IPv4 without options (20) + at least a UDP header (8). A record that claims
  // bytes past its buffer (never from the readers) goes to the general decoder, which reads
  // undefined there instead of throwing as a DataView would.
  if (capLen < ETH_IP_BYTES + UDP_BYTES || off + capLen > b.length) return false;
  // One DataView per chunk: a big-endian word is one bounds check and one load, not four.
  let v = chunkView;
  if (chunkViewOf !== b) {
    chunkViewOf = b;
    v = chunkView = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  const ip = off + ETH_BYTES;
  const w0 = v.getUint16(ip); // version 4, header length 5 words, and the TOS byte
  if (v.getUint16(off + 12) !== EtherType.IPV4 || w0 >> 8 !== 0x45) return false;
  const totalLen = v.getUint16(ip + 2);
  const wireLen = rec.wireLen;
  // Bytes the datagram had on the wire: as in wireBytesFrom, the larger of the two lengths counts.
  const wireLeft = (wireLen > capLen ? wireLen : capLen) - ETH_BYTES;
  if (totalLen > wireLeft) return false;
  const fragField = v.getUint16(ip + 6);
  if ((fragField & 0x1fff) !== 0) return false; // a later fragment: no L4 header here
  const w4 = v.getUint16(ip + 8);
  const proto = w4 & 0xff;
  // One past the last byte of the datagram that was captured (link padding cut off).
  const end = off + (capLen < ETH_BYTES + totalLen ? capLen : ETH_BYTES + totalLen);
  const l4 = ip + IP_BYTES;
  const l4Len = totalLen - IP_BYTES;
  let tcpHeaderLen = 0;
  let tcpOffFlags = 0;
  let udpLen = 0;
  if (proto === IpProto.TCP) {
    if (end - l4 < TCP_BYTES) return false;
    tcpOffFlags = v.getUint16(l4 + 12);
    tcpHeaderLen = (tcpOffFlags >> 12) * 4;
    // Too short or longer than the segment is an event; a header cut by the snaplen is truncation.
    if (tcpHeaderLen < TCP_BYTES || tcpHeaderLen > l4Len || end - l4 < tcpHeaderLen) return false;
  } else if (proto === IpProto.UDP) {
    if (end - l4 < UDP_BYTES) return false;
    udpLen = v.getUint16(l4 + 4);
    if (udpLen < UDP_BYTES || udpLen > l4Len) return false;
  } else {
    return false;
  }

  // The one's-complement sum of the ten header words, from the words the fields need anyway.
  const id = v.getUint16(ip + 4);
  const checksum = v.getUint16(ip + 10);
  const src = v.getUint32(ip + 12);
  const dst = v.getUint32(ip + 16);
  let sum = w0 + totalLen + id + fragField + w4 + checksum + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const ttl = w4 >> 8;

  f.takeRecord(rec);
  f.clearUncommon(); // what Frame.reset clears and this path does not set below
  // Ethernet.
  f.dstMac = v.getUint16(off) * 0x100000000 + v.getUint32(off + 2);
  f.srcMac = v.getUint16(off + 6) * 0x100000000 + v.getUint32(off + 8);
  f.outerEtherType = EtherType.IPV4;
  f.etherType = EtherType.IPV4;
  // IPv4.
  f.ipOff = ip;
  f.ipHeaderLen = IP_BYTES;
  f.ipTos = w0 & 0xff;
  f.ipTotalLen = totalLen;
  f.ipId = id;
  f.ipDf = (fragField >> 14) & 1;
  f.ipMf = (fragField >> 13) & 1;
  f.ipFragOffset = 0;
  f.ipTtl = ttl;
  f.ipProto = proto;
  f.ipSrc = src;
  f.ipDst = dst;
  f.ipLen = totalLen;
  f.l4Off = l4;
  f.l4Len = l4Len;
  f.srcPort = v.getUint16(l4);
  f.dstPort = v.getUint16(l4 + 2);
  if (proto === IpProto.TCP) {
    f.layers = Layer.ETHERNET | Layer.IPV4 | Layer.TCP;
    f.tcpSeq = v.getUint32(l4 + 4);
    f.tcpAck = v.getUint32(l4 + 8);
    f.tcpFlags = tcpOffFlags & 0x0fff;
    f.tcpWindow = v.getUint16(l4 + 14);
    f.tcpUrgent = v.getUint16(l4 + 18);
    f.tcpHeaderLen = tcpHeaderLen;
    f.tcpPayloadLen = l4Len - tcpHeaderLen;
  } else {
    f.layers = Layer.ETHERNET | Layer.IPV4 | Layer.UDP;
    f.tcpFlags = 0;
    f.tcpPayloadLen = 0;
    f.udpLen = udpLen;
  }
  if (sum === 0xffff) {
    f.ipChecksumOk = 1;
  } else {
    f.ipChecksumOk = 0;
    f.note(BAD_CHECKSUM);
  }
  return true;
}

/** The DataView over the chunk of the last record (made again when the chunk changes). */
let chunkViewOf: Uint8Array = new Uint8Array(0);
let chunkView: DataView = new DataView(chunkViewOf.buffer);

const ETH_BYTES = 14;
const IP_BYTES = 20;
const ETH_IP_BYTES = ETH_BYTES + IP_BYTES;
const TCP_BYTES = 20;
const UDP_BYTES = 8;
/** Read once: `Ev` is built at run time and is a dictionary, slow to look up per frame. */
const BAD_CHECKSUM = Ev.IPV4_BAD_CHECKSUM;
