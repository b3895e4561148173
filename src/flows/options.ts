/**
 * Settings of the conntrack emulation, named after the Linux sysctls they mirror
 * (net.netfilter.nf_conntrack_*; see docs/research/conntrack-tcp.md §5). Times in seconds.
 */
export interface ConntrackOptions {
  tcpTimeoutSynSent: number;
  tcpTimeoutSynRecv: number;
  tcpTimeoutEstablished: number;
  tcpTimeoutFinWait: number;
  tcpTimeoutCloseWait: number;
  tcpTimeoutLastAck: number;
  tcpTimeoutTimeWait: number;
  tcpTimeoutClose: number;
  /** SYN_SENT2 has no sysctl; it shares SYN_SENT's default. */
  tcpTimeoutSynSent2: number;
  tcpTimeoutMaxRetrans: number;
  tcpTimeoutUnacknowledged: number;
  tcpMaxRetrans: number;
  /** nf_conntrack_tcp_loose: a mid-stream packet may create an entry. */
  tcpLoose: boolean;
  /** nf_conntrack_tcp_be_liberal: only out-of-window RSTs are INVALID. */
  tcpBeLiberal: boolean;
  tcpIgnoreInvalidRst: boolean;
  udpTimeout: number;
  udpTimeoutStream: number;
  icmpTimeout: number;
  genericTimeout: number;
}

export const DEFAULT_CONNTRACK: Readonly<ConntrackOptions> = {
  tcpTimeoutSynSent: 120,
  tcpTimeoutSynRecv: 60,
  tcpTimeoutEstablished: 432000,
  tcpTimeoutFinWait: 120,
  tcpTimeoutCloseWait: 60,
  tcpTimeoutLastAck: 30,
  tcpTimeoutTimeWait: 120,
  tcpTimeoutClose: 10,
  tcpTimeoutSynSent2: 120,
  tcpTimeoutMaxRetrans: 300,
  tcpTimeoutUnacknowledged: 300,
  tcpMaxRetrans: 3,
  tcpLoose: true,
  tcpBeLiberal: false,
  tcpIgnoreInvalidRst: false,
  udpTimeout: 30,
  udpTimeoutStream: 120,
  icmpTimeout: 30,
  genericTimeout: 600,
};

/** Settings of the flow tracker itself. */
export interface TrackerOptions {
  conntrack: ConntrackOptions;
  /** Most flows held at once (all shards together); the least recently seen is evicted beyond, and counted. */
  maxFlows: number;
  /**
   * How long a flow record outlives its conntrack entry when conntrack deleted the entry early
   * (a RST before any reply): late answers to the same SYN still land in the same flow.
   */
  lingerSeconds: number;
  /** Ports Zeek's base scripts consider likely server ports (for who-is-originator flips). */
  zeekLikelyServerPorts: ReadonlyArray<number>;
  /** Keep per-flow records for --flows export. */
  exportFlows: boolean;
}

/**
 * Ports Zeek's default scripts add to `likely_server_ports` (HTTP, FTP, SSH, SMTP, DNS, SMB,
 * SSL/TLS, RDP, SIP, ...). Zeek's exact set depends on the loaded scripts; this is an option.
 */
export const DEFAULT_ZEEK_SERVER_PORTS: ReadonlyArray<number> = [
  21, 22, 23, 25, 53, 80, 81, 88, 110, 111, 123, 135, 137, 138, 139, 143, 161, 162, 389, 443, 445, 465, 502, 514, 563, 585, 587, 614, 631, 636, 989,
  990, 992, 993, 994, 995, 1080, 1194, 1701, 1812, 1813, 2049, 2123, 2152, 3128, 3306, 3389, 4789, 5060, 5061, 5223, 5353, 5355, 6081, 8000, 8080,
  8443, 8888, 20000,
];

export function defaultTrackerOptions(): TrackerOptions {
  return {
    conntrack: { ...DEFAULT_CONNTRACK },
    maxFlows: 2_000_000,
    lingerSeconds: DEFAULT_CONNTRACK.tcpTimeoutClose,
    zeekLikelyServerPorts: DEFAULT_ZEEK_SERVER_PORTS,
    exportFlows: false,
  };
}
