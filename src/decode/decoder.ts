import type { CaptureRecord } from '../capture/record.js';
import { LinkType } from '../capture/linktypes.js';
import { Ev } from '../events.js';
import { decodeEthernet } from './ethernet.js';
import { decodeEthernetIpv4Fast } from './fast-path.js';
import { EtherType } from './ethertypes.js';
import { Layer, type Frame } from './frame.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeLoopback, decodeRawIp } from './loopback.js';
import { decodeNflog } from './nflog.js';
import { decodeSll, decodeSll2 } from './sll.js';

/**
 * Decodes one captured record into the reused `Frame`: resets it, takes the record's scalars,
 * and walks the headers of its link type. Never throws; anomalies become events on the frame.
 * Plain Ethernet/IPv4/TCP or UDP frames take a flat fast path that leaves the same result.
 */
export function decodeRecord(f: Frame, rec: CaptureRecord): void {
  if (rec.linkType === LinkType.ETHERNET && decodeEthernetIpv4Fast(f, rec)) return;
  decodeRecordGeneral(f, rec);
}

/** The general decoder alone, every header through its own module: the fast path's reference. */
export function decodeRecordGeneral(f: Frame, rec: CaptureRecord): void {
  f.reset();
  f.takeRecord(rec);
  decodeLink(f, rec.buf, rec.off, rec.off + rec.capLen, rec.linkType);
}

/** Dispatches on the link type. `end` is one past the last captured byte. */
export function decodeLink(f: Frame, b: Uint8Array, off: number, end: number, linkType: number): void {
  switch (linkType) {
    case LinkType.ETHERNET:
      decodeEthernet(f, b, off, end);
      return;
    case LinkType.LINUX_SLL:
      decodeSll(f, b, off, end);
      return;
    case LinkType.LINUX_SLL2:
      decodeSll2(f, b, off, end);
      return;
    case LinkType.RAW:
    case LinkType.RAW_BSD12:
    case LinkType.RAW_OPENBSD14:
      decodeRawIp(f, b, off, end);
      return;
    case LinkType.IPV4:
      f.layers |= Layer.RAW_IP;
      f.etherType = EtherType.IPV4;
      decodeIpv4(f, b, off, end);
      return;
    case LinkType.IPV6:
      f.layers |= Layer.RAW_IP;
      f.etherType = EtherType.IPV6;
      decodeIpv6(f, b, off, end);
      return;
    case LinkType.NULL:
      decodeLoopback(f, b, off, end, false);
      return;
    case LinkType.LOOP:
      decodeLoopback(f, b, off, end, true);
      return;
    case LinkType.NFLOG:
      decodeNflog(f, b, off, end);
      return;
    default:
      f.layers |= Layer.UNSUPPORTED_LINK;
      // Non-packet records (negative pseudo link types) are counted per type, not as anomalies.
      if (linkType >= 0) f.note(Ev.LINK_UNSUPPORTED);
  }
}
