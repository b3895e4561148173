/**
 * The JSON document `pcapscan --json` prints and `analyze()` returns. Field names are a stable
 * interface: add fields, never rename or remove them.
 */

export interface CaptureErrorJson {
  kind: string;
  /** "<file>: frame N, byte offset M: <problem>" */
  message: string;
  /** Byte offset of the damaged header or record in the (decompressed) capture. */
  offset: number;
  /** 1-based number of the frame that could not be read, 0 for the file header. */
  frame: number;
}

export interface CaptureReport {
  file: string;
  /** "pcap-us-le", "pcap-ns-be", "pcapng-le", "pcapng-mixed", with "+gzip" when compressed. */
  format: string;
  frames: number;
  /** Sum of the frames' lengths on the wire. */
  bytes: number;
  /** Sum of the captured lengths (smaller than `bytes` when a snaplen cut frames). */
  capturedBytes: number;
  /** Earliest and latest frame time, ISO 8601 UTC with nanoseconds; null without frames. */
  start: string | null;
  end: string | null;
  durationSeconds: number;
  /** Frames per link type, e.g. { "ETHERNET(1)": 120, "LINUX_SLL(113)": 4 }. */
  linkTypes: Record<string, number>;
  /** Frames per EtherType ("0x0800"), "802.3" for length frames (LLC). */
  etherTypes: Record<string, number>;
  /** IPv4 frames per IP protocol name ("TCP", "UDP", "ICMP", "proto 253"). */
  ipProtocols: Record<string, number>;
  /** STP/RSTP BPDUs. */
  stp: number;
  /** Frames with at least one VLAN tag. */
  vlanFrames: number;
  /** Frames that ended inside a header they started. */
  truncatedFrames: number;
  /** Reader and decoder events by dotted name, e.g. { "decoder.ipv4.bad_checksum": 2 }. */
  events: Record<string, number>;
  /** Packets the capturing tool reported as dropped (pcapng statistics), or null if unknown. */
  droppedByCapture: number | null;
  /** Why reading stopped before the end of the file, or null. Frames before it are analyzed. */
  error: CaptureErrorJson | null;
  /** Flow totals (IPv4 flows as conntrack and Zeek see them). */
  flows: FlowSummary;
  findings: Finding[];
}

export interface FlowSummary {
  /** Flows (conntrack-entry lifetimes; see the README for how they are cut). */
  total: number;
  /** Flows per Zeek conn_state (S0, S1, SF, REJ, ...). */
  connStates: Record<string, number>;
  /** Packets per conntrack verdict (NEW, ESTABLISHED, RELATED, INVALID). */
  verdicts: Record<string, number>;
  /** Flows per protocol (tcp, udp, icmp, other). */
  protocols: Record<string, number>;
  /** Flows dropped from the table because --max-flows was reached (their later packets start new flows). */
  evictions: number;
  /** Conntrack entries the capture would have created. */
  conntrackEntries: number;
  /** ICMP errors that quote a connection the capture does not show. */
  orphanIcmpErrors: number;
  /** Frames given to the flow tracker, and frames it cannot hold (not IPv4, non-first fragments, cut headers). */
  trackedFrames: number;
  untrackedFrames: number;
}

export type Severity = 'info' | 'low' | 'medium' | 'high';

export interface Evidence {
  /** 1-based frame number, as Wireshark shows it. */
  frame: number;
  /** ISO 8601 with nanoseconds. */
  time: string;
  /** What this frame shows, in a few words. */
  what: string;
  srcMac?: string;
  dstMac?: string;
  src?: string;
  dst?: string;
}

export interface Finding {
  /** Dotted, layer first: "tcp.conflicting_responses". */
  id: string;
  severity: Severity;
  /** Who is affected: "10.0.0.5:22", a MAC, "EtherType 0xfe68". */
  subject: string;
  /** One line, with the numbers. */
  summary: string;
  /** Occurrences folded into the finding; counts of one id add up across findings. */
  count: number;
  first: string | null;
  last: string | null;
  /** A bounded sample of frames; `evidenceTotal` says how many there were in all. */
  evidence: Evidence[];
  evidenceTotal: number;
  explanation: string;
  remediation: string;
  /** Detector-specific numbers (e.g. periods, counts per MAC), stable per id. */
  details?: Record<string, unknown>;
}

export interface AnalysisDocument {
  tool: 'pcapscan';
  version: string;
  captures: CaptureReport[];
}
