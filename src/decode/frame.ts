import { CaptureRecord } from '../capture/record.js';

/**
 * The decoded view of the current frame. One instance per thread is reset and refilled for every
 * frame: no allocation per packet, every field a number. Offsets point into `buf`, the reader's
 * chunk, which is only valid while the frame is being handled.
 *
 * MAC addresses are exact 48-bit integers; IPv4 addresses unsigned 32-bit integers. Formatting
 * happens only when a report is printed.
 */

/** Bits of `Frame.layers`: which headers were decoded (fully or, if `truncated`, partly). */
export const Layer = {
  ETHERNET: 1 << 0,
  SLL: 1 << 1,
  VLAN: 1 << 2,
  LLC: 1 << 3,
  STP: 1 << 4,
  ARP: 1 << 5,
  IPV4: 1 << 6,
  IPV6: 1 << 7,
  TCP: 1 << 8,
  UDP: 1 << 9,
  ICMP: 1 << 10,
  /** An IPv4 fragment other than the first: no L4 header in this frame. */
  FRAGMENT: 1 << 11,
  /** The link type is not one the decoder handles. */
  UNSUPPORTED_LINK: 1 << 12,
  /** Link layer without an EtherType field (RAW, IPV4, NULL, LOOP). */
  RAW_IP: 1 << 13,
  /** An ICMP error whose quoted IPv4 header (and L4 ports) were decoded. */
  ICMP_QUOTE: 1 << 14,
  /** An NFLOG record whose header was read: nflogGroup and nflogPrefix* are set. */
  NFLOG: 1 << 15,
} as const;

/** TCP flag bits as in the header's 12-bit flags field (low 8 bits of byte 13, NS/AE in byte 12). */
export const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  /** NS (RFC 3540), now AE (accurate ECN). */
  NS: 0x100,
} as const;

export const MAX_VLAN_DEPTH = 4;

export class Frame extends CaptureRecord {
  /** Event counters (see events.ts), shared with the reader. */
  constructor(readonly eventCounts: Float64Array) {
    super();
  }

  // The record's fields (buf, off, capLen, wireLen, linkType, frameNo, tsSec, tsNs, hasTimestamp,
  // ifIndex, fileOffset) come from CaptureRecord: the decoder copies them from the record, or
  // finds them in place when the reader filled the frame itself (RecordHandler.record).

  /** Bit set of `Layer`. */
  layers = 0;
  /** 1 when the frame ended before a header it started was complete. */
  truncated = 0;
  /** First event the decoder recorded for this frame (see events.ts), or -1. */
  event = -1;

  // Link layer. For SLL the destination is unknown (0) and the source is the SLL address.
  dstMac = 0;
  srcMac = 0;
  /** The first type/length field after the MACs (0x8100 for a tagged frame). */
  outerEtherType = 0;
  /** The EtherType after any VLAN tags; 0 for an 802.3 length frame; for RAW/NULL, the implied type. */
  etherType = 0;
  /** Type value 1501-1535: neither a length nor an EtherType. */
  invalidType = 0;
  /** 802.3 length-field value (0 for Ethernet II). */
  lengthField = 0;
  vlanDepth = 0;
  /** VLAN ids, outermost first (tag order on the wire). */
  vlan0 = 0;
  vlan1 = 0;
  vlan2 = 0;
  vlan3 = 0;
  /** Linux cooked capture packet type (0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing), or -1. */
  sllPacketType = -1;

  // NFLOG (valid with Layer.NFLOG).
  /** The log group (--nflog-group) the rule logged to. */
  nflogGroup = 0;
  /**
   * Where the rule's log prefix (--nflog-prefix) starts in `buf`, and its bytes (no NUL); -1 and 0
   * without a prefix TLV. Linux always sends one, empty for a rule without a prefix.
   */
  nflogPrefixOff = -1;
  nflogPrefixLen = 0;
  /** 1 when the snap length cut the prefix: only its first nflogPrefixLen bytes were captured. */
  nflogPrefixCut = 0;

  // 802.2 LLC / SNAP.
  llcDsap = 0;
  llcSsap = 0;
  llcControl = 0;
  snapOui = -1;
  snapPid = -1;

  // STP / RSTP BPDU.
  stpVersion = 0;
  stpType = 0;
  stpFlags = 0;
  stpRootPriority = 0;
  stpRootMac = 0;
  stpRootPathCost = 0;
  stpBridgePriority = 0;
  stpBridgeMac = 0;
  stpPortId = 0;
  /** In 1/256 s, as on the wire. */
  stpMessageAge = 0;
  stpMaxAge = 0;
  stpHelloTime = 0;
  stpForwardDelay = 0;

  // ARP (Ethernet/IPv4 only).
  arpOp = 0;
  arpSenderMac = 0;
  arpSenderIp = 0;
  arpTargetMac = 0;
  arpTargetIp = 0;

  // IPv4.
  /** Offset of the IP header (IPv4 or IPv6). */
  ipOff = -1;
  ipHeaderLen = 0;
  /** Total length field as on the wire. */
  ipTotalLen = 0;
  /** Bytes of the IP datagram: total length, or the frame's wire bytes for a TSO frame (total length 0). */
  ipLen = 0;
  ipProto = -1;
  ipSrc = 0;
  ipDst = 0;
  ipTtl = 0;
  ipId = 0;
  ipTos = 0;
  ipDf = 0;
  ipMf = 0;
  /** Fragment offset in bytes. */
  ipFragOffset = 0;
  /** 1 verified, 0 bad, -1 not checked (header not fully captured). */
  ipChecksumOk = -1;

  /** Offset of the L4 header, or -1. */
  l4Off = -1;
  /** Bytes of L4 header + payload according to the IP header. */
  l4Len = 0;

  // TCP / UDP.
  srcPort = 0;
  dstPort = 0;
  tcpSeq = 0;
  tcpAck = 0;
  /** 12-bit flags field (see TcpFlag). */
  tcpFlags = 0;
  tcpWindow = 0;
  tcpHeaderLen = 0;
  /** Payload bytes according to the IP total length (not the captured length). */
  tcpPayloadLen = 0;
  tcpUrgent = 0;
  udpLen = 0;

  // ICMP.
  icmpType = -1;
  icmpCode = -1;
  /** Echo request/reply identifier and sequence. */
  icmpId = 0;
  icmpSeq = 0;
  // The datagram an ICMP error quotes (its IPv4 header and first 8 bytes of L4).
  quoteProto = -1;
  quoteSrc = 0;
  quoteDst = 0;
  quoteSrcPort = 0;
  quoteDstPort = 0;
  /** TCP sequence number of the quoted segment. */
  quoteTcpSeq = 0;
  quoteIpId = 0;
  /** For a quoted ICMP message: its type (an error about an error is untrackable), else -1. */
  quoteIcmpType = -1;

  /** Takes the record's fields, unless the reader filled this frame as the record itself. */
  takeRecord(rec: CaptureRecord): void {
    if (rec === this) return;
    if (this.buf !== rec.buf) this.buf = rec.buf; // a pointer store costs a write barrier; the chunk rarely changes
    this.off = rec.off;
    this.capLen = rec.capLen;
    this.wireLen = rec.wireLen;
    this.linkType = rec.linkType;
    this.ifIndex = rec.ifIndex;
    this.frameNo = rec.frameNo;
    this.fileOffset = rec.fileOffset;
    this.tsSec = rec.tsSec;
    this.tsNs = rec.tsNs;
    this.hasTimestamp = rec.hasTimestamp;
  }

  /** Clears what the previous frame left; called by the decoder before each frame. */
  reset(): void {
    this.clearUncommon();
    this.layers = 0;
    this.dstMac = 0;
    this.srcMac = 0;
    this.outerEtherType = 0;
    this.etherType = 0;
    this.ipOff = -1;
    this.ipProto = -1;
    this.ipLen = 0;
    this.ipChecksumOk = -1;
    this.l4Off = -1;
    this.l4Len = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.tcpPayloadLen = 0;
  }

  /**
   * The part of `reset` for what the common frame (untagged Ethernet, IPv4, TCP or UDP, whole) does
   * not have: the fast path (fast-path.ts) calls it and sets every other field `reset` clears. A
   * field cleared by `reset` belongs here unless the fast path writes it.
   */
  clearUncommon(): void {
    this.truncated = 0;
    this.event = -1;
    this.invalidType = 0;
    this.lengthField = 0;
    this.vlanDepth = 0;
    this.vlan0 = 0;
    this.vlan1 = 0;
    this.vlan2 = 0;
    this.vlan3 = 0;
    this.sllPacketType = -1;
    this.snapOui = -1;
    this.snapPid = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.quoteProto = -1;
  }

  /** Records an anomaly: counted, and kept as the frame's event if it is the first. */
  note(eventId: number): void {
    this.eventCounts[eventId]++;
    if (this.event < 0) this.event = eventId;
  }

  /** Records that the frame ends inside a header: counted and marked. */
  noteTruncated(eventId: number): void {
    this.truncated = 1;
    this.note(eventId);
  }

  /** The n-th VLAN id (0 = outermost). */
  vlanId(n: number): number {
    switch (n) {
      case 0:
        return this.vlan0;
      case 1:
        return this.vlan1;
      case 2:
        return this.vlan2;
      default:
        return this.vlan3;
    }
  }
}
