import { Layer, type Frame } from '../decode/frame.js';
import { IpProto } from '../decode/ipproto.js';
import { IcmpType, isIcmpError } from '../decode/icmp.js';
import { readTcpOptions } from '../decode/tcp.js';

/**
 * The compact, fixed-size packet record that crosses from the reader thread to the flow shards:
 * numbers only, RECORD_WORDS uint32 words per packet in a Uint32Array batch. It carries what
 * the flow tracker and flow-scope detectors need and nothing else (no packet bytes).
 *
 * The flow key is given in the packet's own orientation (KEY_SRC → KEY_DST). For an ICMP error it
 * is the quoted datagram's tuple, so the error lands in the flow it is about.
 */
export const enum R {
  FRAME = 0,
  TS_SEC = 1,
  TS_NS = 2,
  /** kind (bits 0-3) | key protocol << 8 | IP TTL << 16 | bit 24 truncated | bit 25 DF | bit 26 has timestamp. */
  INFO = 3,
  KEY_SRC_IP = 4,
  KEY_DST_IP = 5,
  /** key source port | key destination port << 16 (ICMP queries: the identifier on both sides). */
  KEY_PORTS = 6,
  SEQ = 7,
  ACK = 8,
  /** TCP flags (12 bits) | window << 16 */
  FLAGS_WIN = 9,
  /** L4 payload bytes per the IP header (TCP segment data, UDP data, ICMP body). */
  PAYLOAD = 10,
  /** Bytes of the IP datagram (total length). */
  IP_LEN = 11,
  /** source MAC high 16 bits | destination MAC high 16 bits << 16 */
  MAC_HI = 12,
  SRC_MAC_LO = 13,
  DST_MAC_LO = 14,
  /** outer VLAN id | inner VLAN id << 12 | tag count << 24 */
  VLAN = 15,
  /** IP id | TCP option bits << 16 (see OptBit) */
  IPID_OPTS = 16,
  /** Highest SACK right edge (valid when OptBit.SACK is set). */
  SACK_EDGE = 17,
  /** ICMP type | code << 8 */
  ICMP = 18,
  /** The IP addresses of the packet itself (differ from the key for ICMP errors). */
  IP_SRC = 19,
  IP_DST = 20,
  /** TCP sequence number quoted by an ICMP error. */
  QUOTE_SEQ = 21,
  /** Symmetric, seeded flow hash: the shard is chosen by it. */
  HASH = 22,
  /** First decode event of the frame + 1 (0: none). */
  EVENT = 23,
}

export const RECORD_WORDS = 24;

/** Records per batch, the unit in which records are handed to a shard. */
export const BATCH_RECORDS = 4096;

/** What kind of packet a record holds (INFO bits 0-3). */
export const enum Kind {
  TCP = 1,
  UDP = 2,
  /** Echo, timestamp, information and address-mask requests and replies. */
  ICMP_QUERY = 3,
  /** Destination unreachable, source quench, redirect, time exceeded, parameter problem. */
  ICMP_ERROR = 4,
  /** Other ICMP types: conntrack cannot track them. */
  ICMP_OTHER = 5,
  /** Any other IPv4 protocol (generic tracker, no ports). */
  OTHER_IP = 6,
}

/** TCP option bits in IPID_OPTS >>> 16. */
export const enum OptBit {
  PRESENT = 1 << 0,
  SACK_PERM = 1 << 1,
  WSCALE = 1 << 2,
  /** Window scale value in bits 3-6. */
  WSCALE_SHIFT = 3,
  SACK = 1 << 7,
}

export const enum Info {
  TRUNCATED = 1 << 24,
  DF = 1 << 25,
  HAS_TIMESTAMP = 1 << 26,
  /** TCP data offset below 5 words or beyond the segment: conntrack's tcp_error rejects it. */
  BAD_TCP_HEADER = 1 << 27,
  /** The IP datagram itself holds less than a TCP header (not a snaplen cut): no flow is made for it. */
  SHORT_TCP = 1 << 28,
  /** An ICMP query reply: the key is oriented from the requester, the packet goes the other way. */
  REPLY = 1 << 29,
}

/**
 * Packs the decoded frame into `out` at word `base`. Returns false (and writes nothing useful)
 * when the frame carries nothing a flow can hold: not IPv4, a non-first fragment, or a TCP/UDP
 * header that was not captured.
 */
export function packFrame(f: Frame, out: Uint32Array, base: number, seed: number): boolean {
  const layers = f.layers;
  if ((layers & Layer.IPV4) === 0 || (layers & Layer.FRAGMENT) !== 0) return false;
  let kind: number;
  let keyProto = f.ipProto;
  let keySrc = f.ipSrc;
  let keyDst = f.ipDst;
  let sport = 0;
  let dport = 0;
  let payload = 0;
  let seq = 0;
  let ack = 0;
  let flagsWin = 0;
  let optBits = 0;
  let sackEdge = 0;
  let icmp = 0;
  let quoteSeq = 0;
  /** Extra Info bits. */
  let flags = 0;
  switch (f.ipProto) {
    case IpProto.TCP: {
      if ((layers & Layer.TCP) === 0) {
        // Fewer than 20 bytes captured. Cut by a snaplen: nothing to track. Short on the wire
        // too: conntrack sees a malformed segment (INVALID), which belongs to its flow if the ports were captured.
        if (f.l4Len >= 20 || f.l4Off < 0 || f.l4Off + 4 > f.off + f.capLen) return false;
        kind = Kind.TCP;
        flags = Info.BAD_TCP_HEADER | Info.SHORT_TCP;
        sport = f.srcPort;
        dport = f.dstPort;
        break;
      }
      kind = Kind.TCP;
      if (f.tcpHeaderLen < 20 || f.tcpHeaderLen > f.l4Len) flags = Info.BAD_TCP_HEADER;
      sport = f.srcPort;
      dport = f.dstPort;
      seq = f.tcpSeq;
      ack = f.tcpAck;
      payload = f.tcpPayloadLen;
      flagsWin = f.tcpFlags | (f.tcpWindow << 16);
      if (f.tcpHeaderLen > 20) {
        const o = readTcpOptions(f);
        optBits = OptBit.PRESENT;
        if (o.sackPermitted) optBits |= OptBit.SACK_PERM;
        // Shifts above 14 mean 14 (RFC 7323; the kernel's TCP_MAX_WSCALE), which also fits the 4 bits.
        if (o.windowScale >= 0) optBits |= OptBit.WSCALE | (Math.min(o.windowScale, 14) << OptBit.WSCALE_SHIFT);
        if (o.sack) {
          optBits |= OptBit.SACK;
          sackEdge = o.sackRightEdge;
        }
      }
      break;
    }
    case IpProto.UDP:
      if ((layers & Layer.UDP) === 0) return false;
      kind = Kind.UDP;
      sport = f.srcPort;
      dport = f.dstPort;
      payload = f.udpLen >= 8 ? f.udpLen - 8 : 0;
      break;
    case IpProto.ICMP: {
      if ((layers & Layer.ICMP) === 0) return false;
      const type = f.icmpType;
      icmp = type | (f.icmpCode << 8);
      payload = f.l4Len >= 8 ? f.l4Len - 8 : 0;
      if (isIcmpError(type)) {
        if ((layers & Layer.ICMP_QUOTE) === 0) {
          kind = Kind.ICMP_OTHER; // a quote we cannot read cannot be tied to a flow
          break;
        }
        kind = Kind.ICMP_ERROR;
        keyProto = f.quoteProto;
        keySrc = f.quoteSrc;
        keyDst = f.quoteDst;
        sport = f.quoteSrcPort;
        dport = f.quoteDstPort;
        quoteSeq = f.quoteTcpSeq;
        if (keyProto === IpProto.ICMP) {
          // An error about an error is untrackable (§6.1); about an echo, it is keyed like the echo:
          // from the requester, whose side carries the id.
          if (isIcmpError(f.quoteIcmpType) || !isTrackableQuery(f.quoteIcmpType)) {
            kind = Kind.ICMP_OTHER;
            break;
          }
          if (!isQueryRequest(f.quoteIcmpType)) {
            keySrc = f.quoteDst;
            keyDst = f.quoteSrc;
          }
          dport = 0;
        }
      } else if (isTrackableQuery(type)) {
        // Keyed from the requester, as conntrack's tuple includes the type: two hosts pinging each
        // other with one id are two entries.
        kind = Kind.ICMP_QUERY;
        sport = f.icmpId;
        dport = 0;
        if (!isQueryRequest(type)) {
          keySrc = f.ipDst;
          keyDst = f.ipSrc;
          flags = Info.REPLY;
        }
      } else {
        kind = Kind.ICMP_OTHER;
      }
      break;
    }
    default:
      kind = Kind.OTHER_IP;
  }
  out[base + R.FRAME] = f.frameNo;
  out[base + R.TS_SEC] = f.tsSec;
  out[base + R.TS_NS] = f.tsNs;
  out[base + R.INFO] =
    kind | ((keyProto & 0xff) << 8) | (f.ipTtl << 16) | (f.truncated ? Info.TRUNCATED : 0) | (f.ipDf ? Info.DF : 0) | (f.hasTimestamp ? Info.HAS_TIMESTAMP : 0) | flags;
  out[base + R.KEY_SRC_IP] = keySrc;
  out[base + R.KEY_DST_IP] = keyDst;
  out[base + R.KEY_PORTS] = sport | (dport << 16);
  out[base + R.SEQ] = seq;
  out[base + R.ACK] = ack;
  out[base + R.FLAGS_WIN] = flagsWin;
  out[base + R.PAYLOAD] = payload;
  out[base + R.IP_LEN] = f.ipLen;
  const src = f.srcMac;
  const dst = f.dstMac;
  const srcHi = Math.floor(src / 0x100000000);
  const dstHi = Math.floor(dst / 0x100000000);
  out[base + R.MAC_HI] = srcHi | (dstHi << 16);
  out[base + R.SRC_MAC_LO] = src - srcHi * 0x100000000;
  out[base + R.DST_MAC_LO] = dst - dstHi * 0x100000000;
  out[base + R.VLAN] = f.vlan0 | (f.vlan1 << 12) | (f.vlanDepth << 24);
  out[base + R.IPID_OPTS] = f.ipId | (optBits << 16);
  out[base + R.SACK_EDGE] = sackEdge;
  out[base + R.ICMP] = icmp;
  out[base + R.IP_SRC] = f.ipSrc;
  out[base + R.IP_DST] = f.ipDst;
  out[base + R.QUOTE_SEQ] = quoteSeq;
  out[base + R.HASH] = flowHash(seed, f.vlan0 | (f.vlan1 << 12), keyProto, keySrc, sport, keyDst, dport);
  out[base + R.EVENT] = f.event + 1;
  return true;
}

/** The query types that ask (echo, timestamp, information and address-mask requests). */
export function isQueryRequest(type: number): boolean {
  return type === IcmpType.ECHO_REQUEST || type === IcmpType.TIMESTAMP || type === IcmpType.INFO_REQUEST || type === IcmpType.ADDRESS_MASK;
}

/** ICMP queries conntrack tracks (request types create entries, reply types match them). */
function isTrackableQuery(type: number): boolean {
  return (
    type === IcmpType.ECHO_REQUEST ||
    type === IcmpType.ECHO_REPLY ||
    type === IcmpType.TIMESTAMP ||
    type === IcmpType.TIMESTAMP_REPLY ||
    type === IcmpType.INFO_REQUEST ||
    type === IcmpType.INFO_REPLY ||
    type === IcmpType.ADDRESS_MASK ||
    type === IcmpType.ADDRESS_MASK_REPLY
  );
}

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A hash of the flow key that is the same in both directions (so both directions meet in one
 * shard) and seeded per run, so a crafted capture cannot aim at one bucket.
 */
export function flowHash(seed: number, vlan: number, proto: number, ipA: number, portA: number, ipB: number, portB: number): number {
  const a = mix32(ipA ^ Math.imul(portA + 1, 0x9e3779b1) ^ seed);
  const b = mix32(ipB ^ Math.imul(portB + 1, 0x9e3779b1) ^ seed);
  return mix32((a + b) ^ Math.imul(a ^ b, 0x27d4eb2d) ^ (proto << 24) ^ vlan ^ seed);
}

/** The source MAC address of a record as a 48-bit integer. */
export function recordSrcMac(r: Uint32Array, base: number): number {
  return (r[base + R.MAC_HI] & 0xffff) * 0x100000000 + r[base + R.SRC_MAC_LO];
}

