/** The conntrack state a packet would show to `-m conntrack --ctstate` (docs/research/conntrack-tcp.md §7). */
export const Verdict = {
  NEW: 0,
  ESTABLISHED: 1,
  RELATED: 2,
  INVALID: 3,
} as const;

export const VERDICT_NAMES = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'] as const;

/** Why conntrack would call a packet INVALID (what `nf_conntrack_log_invalid` would say). */
export const enum InvalidReason {
  NONE = 0,
  /** tcp_error: a flag combination conntrack rejects (NULL, Xmas, SYN+FIN, FIN without ACK...). */
  BAD_TCP_FLAGS = 1,
  /** No entry, and this packet cannot create one (SYN+ACK, FIN, RST; ACK with loose=0). */
  NO_ENTRY = 2,
  /** The transition table says invalid in the entry's state (e.g. an ACK in SYN_SENT). */
  BAD_STATE = 3,
  /** tcp_in_window: sequence or acknowledgment outside the window. */
  OUT_OF_WINDOW = 4,
  /** A RST below what the peer already acknowledged. */
  RST_SEQ = 5,
  /** An ICMP error about a connection with no entry (or not sent back to its sender). */
  ICMP_NO_ENTRY = 6,
  /** An ICMP echo (or other query) reply without a request. */
  ICMP_REPLY_NO_REQUEST = 7,
  /** An ICMP type conntrack cannot track, or an error whose quote is unreadable. */
  ICMP_UNTRACKABLE = 8,
  /** udp_error: a UDP length that does not fit. */
  UDP_BAD_LENGTH = 9,
  /** tcp_error: a TCP header shorter than 20 bytes or longer than the segment. */
  BAD_TCP_HEADER = 10,
  /** No entry, and nf_conntrack_tcp_loose=0 forbids picking a connection up mid-stream (an ACK, data). */
  NO_PICKUP = 11,
}

export const INVALID_REASON_NAMES = [
  'none',
  'bad TCP flags',
  'no conntrack entry',
  'invalid in the entry state',
  'out of window',
  'RST below the acknowledged sequence',
  'ICMP error without an entry',
  'ICMP reply without a request',
  'untrackable ICMP',
  'bad UDP length',
  'bad TCP header length',
  'no entry, mid-stream pickup off',
] as const;

/**
 * What Linux 6.x writes to its log for a TCP packet of each reason, once
 * `net.netfilter.nf_conntrack_log_invalid=6`: "nf_ct_proto_6: " followed by one of these, where
 * "…" stands for numbers or a state name. "invalid new", "invalid rst", "packet … invalid, state
 * …" and "SEQ is over upper bound" are in the kernel's own log of the lab
 * (captures/conntrack-log.nflog.pcap, test/flows/kernel-conntrack-log.test.ts); "ACK is over
 * upper bound" and the flag message are from its source (docs/research/conntrack-tcp.md). None
 * where neither says: a mid-stream packet refused with nf_conntrack_tcp_loose=0 is not logged.
 * (Nor were the lab's two INVALID ICMP packets, an error without an entry and a reply without a
 * request; this table is TCP only.)
 */
export const KERNEL_LOG_MESSAGES: Readonly<Partial<Record<number, readonly string[]>>> = {
  [InvalidReason.BAD_TCP_FLAGS]: ['invalid tcp flag combination'],
  [InvalidReason.NO_ENTRY]: ['invalid new'],
  [InvalidReason.BAD_STATE]: ['packet (index …) in dir … invalid, state …'],
  [InvalidReason.OUT_OF_WINDOW]: ['SEQ is over upper bound …', 'ACK is over upper bound …'],
  [InvalidReason.RST_SEQ]: ['invalid rst'],
};

/** Whether a kernel log message (without "nf_ct_proto_6: ") is the one a KERNEL_LOG_MESSAGES template names. */
export function matchesKernelLog(template: string, message: string): boolean {
  const pattern = template
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}`).test(message);
}
