/** IP protocol numbers (IANA). A wire value stays a plain number; these are the ones we name. */
export const IpProto = {
  ICMP: 1,
  IGMP: 2,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  OSPF: 89,
  PIM: 103,
  VRRP: 112,
  SCTP: 132,
} as const;

const NAMES: Record<number, string> = {
  0: 'HOPOPT',
  1: 'ICMP',
  2: 'IGMP',
  4: 'IPIP',
  6: 'TCP',
  8: 'EGP',
  17: 'UDP',
  33: 'DCCP',
  41: 'IPv6',
  46: 'RSVP',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  88: 'EIGRP',
  89: 'OSPF',
  103: 'PIM',
  112: 'VRRP',
  115: 'L2TP',
  132: 'SCTP',
  136: 'UDPLite',
  137: 'MPLS-in-IP',
};

/** e.g. "TCP", or "proto 253" when unnamed. */
export function ipProtoName(proto: number): string {
  return NAMES[proto] ?? `proto ${proto}`;
}

/** A flow's protocol as conn.log writes it: "tcp", "udp", "icmp", else "ip-proto-47". */
export function flowProtoName(proto: number): string {
  return proto === IpProto.TCP ? 'tcp' : proto === IpProto.UDP ? 'udp' : proto === IpProto.ICMP ? 'icmp' : `ip-proto-${proto}`;
}
