/**
 * The registry of anomaly events. Readers and decoders never throw on bad bytes: they record one of
 * these events (a dotted name, layer first) and a counter goes up. Detectors and the report judge
 * what the counts mean; decoding never decides what a finding is.
 *
 * Ids are array indices so the hot path bumps `counts[id]` with no string or Map lookup.
 */
const EVENT_DEFS = [
  // Capture file level (src/capture): the file is readable but a record looks odd.
  ['PCAP_TS_FRACTION_OVERFLOW', 'capture.pcap.ts_fraction_overflow', 'record timestamp fraction is >= 1 s (µs >= 1e6 or ns >= 1e9); carried into the seconds'],
  ['PCAP_CAPLEN_EXCEEDS_WIRELEN', 'capture.record.caplen_exceeds_wirelen', 'captured length is larger than the original (wire) length'],
  ['PCAP_CAPLEN_EXCEEDS_SNAPLEN', 'capture.record.caplen_exceeds_snaplen', 'captured length is larger than the snapshot length the file declares'],
  ['TS_BACKWARDS', 'capture.record.time_went_backwards', 'a record is timestamped earlier than the one before it'],
  ['PCAPNG_SPB_NO_TIMESTAMP', 'capture.pcapng.simple_packet_no_timestamp', 'simple packet block has no timestamp; the previous frame time was used'],
  ['PCAPNG_UNKNOWN_BLOCK', 'capture.pcapng.unknown_block_skipped', 'a pcapng block of a type this reader does not use was skipped'],
  ['PCAPNG_CUSTOM_BLOCK', 'capture.pcapng.custom_block_skipped', 'a pcapng custom block was skipped'],
  ['PCAPNG_BAD_OPTION', 'capture.pcapng.bad_option', 'a pcapng option runs past its block; the rest of the options were ignored'],
  ['PCAPNG_BAD_TSRESOL', 'capture.pcapng.bad_tsresol', 'if_tsresol is out of range; microseconds were assumed'],
  ['LINK_UNSUPPORTED', 'decoder.link.unsupported_linktype', 'frame of a link type this decoder does not handle (counted per link type)'],

  // Link layer.
  ['ETH_TRUNCATED', 'decoder.ethernet.truncated', 'frame shorter than an Ethernet header'],
  ['ETH_INVALID_TYPE', 'decoder.ethernet.invalid_type', 'type/length field between 1501 and 1535: neither a length nor an EtherType'],
  ['ETH_LENGTH_MISMATCH', 'decoder.ethernet.bad_8023_length', '802.3 length field is larger than the bytes that follow'],
  ['VLAN_TRUNCATED', 'decoder.vlan.truncated', 'frame ends inside a VLAN tag'],
  ['VLAN_TOO_DEEP', 'decoder.vlan.too_deep', 'more stacked VLAN tags than the decoder follows'],
  ['SLL_TRUNCATED', 'decoder.sll.truncated', 'frame shorter than a Linux cooked (SLL/SLL2) header'],
  ['NULL_TRUNCATED', 'decoder.null.truncated', 'frame shorter than the 4-byte NULL/LOOP header'],
  ['NULL_UNKNOWN_FAMILY', 'decoder.null.unknown_family', 'NULL/LOOP address family is neither IPv4 nor IPv6'],
  ['RAW_UNKNOWN_VERSION', 'decoder.raw.unknown_version', 'RAW frame whose IP version nibble is neither 4 nor 6'],
  ['NFLOG_TRUNCATED', 'decoder.nflog.truncated', 'frame ends inside the NFLOG header or a TLV header'],
  ['NFLOG_BAD_TLV', 'decoder.nflog.bad_tlv_length', 'NFLOG TLV whose length is shorter than its own 4-byte header'],
  ['NFLOG_NO_PAYLOAD', 'decoder.nflog.no_payload', 'NFLOG record without the logged packet (no NFULA_PAYLOAD TLV in the captured bytes)'],
  ['LLC_TRUNCATED', 'decoder.llc.truncated', 'frame ends inside the 802.2 LLC or SNAP header'],
  ['STP_TRUNCATED', 'decoder.stp.truncated', 'frame ends inside an STP BPDU'],
  ['STP_BAD_PROTOCOL', 'decoder.stp.bad_protocol_id', 'BPDU protocol identifier is not 0'],

  // ARP.
  ['ARP_TRUNCATED', 'decoder.arp.truncated', 'frame ends inside an ARP packet'],
  ['ARP_NOT_ETHER_IPV4', 'decoder.arp.not_ethernet_ipv4', 'ARP for another hardware or protocol type (only Ethernet/IPv4 is decoded)'],
  ['ARP_BAD_OPCODE', 'decoder.arp.bad_opcode', 'ARP opcode is 0 or above the IANA-assigned range'],

  // IPv4.
  ['IPV4_TRUNCATED', 'decoder.ipv4.truncated', 'frame ends inside the IPv4 header'],
  ['IPV4_BAD_VERSION', 'decoder.ipv4.bad_version', 'IPv4 version field is not 4'],
  ['IPV4_BAD_HEADER_LENGTH', 'decoder.ipv4.bad_header_length', 'IPv4 header length is below 20 bytes'],
  ['IPV4_BAD_TOTAL_LENGTH', 'decoder.ipv4.bad_total_length', 'IPv4 total length is below the header length'],
  ['IPV4_TOTAL_LENGTH_EXCEEDS_FRAME', 'decoder.ipv4.total_length_exceeds_frame', 'IPv4 total length is larger than the frame on the wire'],
  ['IPV4_TSO_ZERO_LENGTH', 'decoder.ipv4.tso_zero_length', 'IPv4 total length 0: a segmentation-offload frame captured before the NIC split it'],
  ['IPV4_BAD_CHECKSUM', 'decoder.ipv4.bad_checksum', 'IPv4 header checksum does not verify (counted, never used to drop)'],
  ['IPV4_FRAGMENT', 'decoder.ipv4.fragment', 'IPv4 fragment other than the first: its L4 header is in another frame (not an error, but it hides ports)'],

  // IPv6 is recognized, not decoded.
  ['IPV6_TRUNCATED', 'decoder.ipv6.truncated', 'frame ends inside the IPv6 header'],

  // TCP.
  ['TCP_TRUNCATED', 'decoder.tcp.truncated', 'frame ends inside the TCP header'],
  ['TCP_BAD_HEADER_LENGTH', 'decoder.tcp.bad_header_length', 'TCP data offset is below 5 words or beyond the IP payload'],
  ['TCP_BAD_OPTION', 'decoder.tcp.bad_option', 'a TCP option length is impossible; option parsing stopped there'],

  // UDP.
  ['UDP_TRUNCATED', 'decoder.udp.truncated', 'frame ends inside the UDP header'],
  ['UDP_BAD_LENGTH', 'decoder.udp.bad_length', 'UDP length is below 8 or beyond the IP payload'],

  // ICMP.
  ['ICMP_TRUNCATED', 'decoder.icmp.truncated', 'frame ends inside the ICMP header'],
  ['ICMP_QUOTE_TRUNCATED', 'decoder.icmp.quote_truncated', 'ICMP error quotes fewer bytes than an IPv4 header plus 8'],
  ['ICMP_QUOTE_BAD_HEADER', 'decoder.icmp.quote_bad_header', 'ICMP error quotes an impossible IPv4 header'],
] as const;

type EventKey = (typeof EVENT_DEFS)[number][0];

/** Numeric event ids, e.g. `Ev.IPV4_BAD_HEADER_LENGTH`. */
export const Ev = Object.fromEntries(EVENT_DEFS.map((d, i) => [d[0], i])) as { readonly [K in EventKey]: number };

export const EVENT_COUNT = EVENT_DEFS.length;

/** Dotted name of an event id, e.g. `decoder.ipv4.bad_header_length`. */
export function eventName(id: number): string {
  const def = EVENT_DEFS[id];
  return def ? def[1] : `event.${id}`;
}

/** One-line explanation of an event id. */
export function eventDescription(id: number): string {
  const def = EVENT_DEFS[id];
  return def ? def[2] : '';
}

/** Counters for every event, indexed by id. Float64 so they never wrap. */
export function newEventCounters(): Float64Array {
  return new Float64Array(EVENT_COUNT);
}

/** Non-zero counters as `{ "decoder.ipv4.bad_checksum": 3 }`, in registry order. */
export function eventCountsToObject(counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] !== 0) out[eventName(i)] = counts[i];
  }
  return out;
}
