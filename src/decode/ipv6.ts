import { Ev } from '../events.js';
import { Layer, type Frame } from './frame.js';

const HEADER_BYTES = 40;

/** IPv6 is recognized and counted; its headers are not decoded further yet. */
export function decodeIpv6(f: Frame, _b: Uint8Array, off: number, end: number): void {
  if (end - off < HEADER_BYTES) {
    f.noteTruncated(Ev.IPV6_TRUNCATED);
    return;
  }
  f.layers |= Layer.IPV6;
  f.ipOff = off;
}
