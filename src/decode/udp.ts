import { u16be } from '../bytes.js';
import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';

const HEADER_BYTES = 8;

/** UDP: ports and length (checked against the IP payload). */
export function decodeUdp(f: Frame, b: Uint8Array, off: number, end: number): void {
  const avail = end - off;
  if (avail < HEADER_BYTES) {
    if (avail >= 4) {
      f.srcPort = u16be(b, off);
      f.dstPort = u16be(b, off + 2);
    }
    f.noteTruncated(Ev.UDP_TRUNCATED);
    return;
  }
  f.layers |= Layer.UDP;
  f.srcPort = u16be(b, off);
  f.dstPort = u16be(b, off + 2);
  f.udpLen = u16be(b, off + 4);
  if (f.udpLen < HEADER_BYTES || f.udpLen > f.l4Len) f.note(Ev.UDP_BAD_LENGTH);
}
