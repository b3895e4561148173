/**
 * Link-layer header types (the `network` field of a pcap header, the LinkType of a pcapng
 * interface). A wire value stays a plain number so that any value can be counted and reported.
 * See https://www.tcpdump.org/linktypes.html.
 */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_BSD12: 12, // DLT_RAW on most BSDs, written as-is by some old libpcap builds
  RAW_OPENBSD14: 14, // DLT_RAW on OpenBSD
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

/**
 * Records that are frames in Wireshark's numbering but carry no packet. Negative so they can
 * never collide with a real link type.
 */
export const NonPacketLinkType = {
  PCAPNG_CUSTOM_BLOCK: -1,
  SYSTEMD_JOURNAL_EXPORT: -2,
} as const;

const NAMES: Record<number, string> = {
  [-1]: 'PCAPNG_CUSTOM_BLOCK',
  [-2]: 'SYSTEMD_JOURNAL_EXPORT',
  0: 'NULL',
  1: 'ETHERNET',
  6: 'IEEE802_5',
  8: 'SLIP',
  9: 'PPP',
  10: 'FDDI',
  12: 'RAW',
  14: 'RAW',
  50: 'PPP_HDLC',
  51: 'PPP_ETHER',
  100: 'ATM_RFC1483',
  101: 'RAW',
  104: 'C_HDLC',
  105: 'IEEE802_11',
  107: 'FRELAY',
  108: 'LOOP',
  113: 'LINUX_SLL',
  119: 'PRISM_HEADER',
  127: 'IEEE802_11_RADIOTAP',
  129: 'ARCNET_LINUX',
  138: 'APPLE_IP_OVER_IEEE1394',
  139: 'MTP2_WITH_PHDR',
  140: 'MTP2',
  141: 'MTP3',
  142: 'SCCP',
  143: 'DOCSIS',
  147: 'USER0',
  161: 'USER14',
  163: 'IEEE802_11_AVS',
  165: 'BACNET_MS_TP',
  166: 'PPP_PPPD',
  187: 'BLUETOOTH_HCI_H4',
  189: 'USB_LINUX',
  192: 'PPI',
  195: 'IEEE802_15_4_WITHFCS',
  197: 'ERF',
  201: 'BLUETOOTH_HCI_H4_WITH_PHDR',
  220: 'USB_LINUX_MMAPPED',
  224: 'FC_2',
  227: 'CAN_SOCKETCAN',
  228: 'IPV4',
  229: 'IPV6',
  230: 'IEEE802_15_4_NOFCS',
  231: 'DBUS',
  239: 'NFLOG',
  240: 'NETANALYZER',
  249: 'USBPCAP',
  252: 'WIRESHARK_UPPER_PDU',
  263: 'NORDIC_BLE',
  276: 'LINUX_SLL2',
  281: 'DSA_TAG_BRCM',
  282: 'DSA_TAG_BRCM_PREPEND',
  284: 'DSA_TAG_DSA',
  285: 'DSA_TAG_EDSA',
};

/** e.g. "ETHERNET(1)", "LINUX_SLL2(276)", "LINKTYPE(1234)". */
export function linkTypeName(linkType: number): string {
  return `${NAMES[linkType] ?? 'LINKTYPE'}(${linkType})`;
}
