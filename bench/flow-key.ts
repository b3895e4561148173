/**
 * The canonical flow key of a packed record, as the tracker orders it (the lower endpoint first),
 * for the bench's bare flow-table loops. Written into `out` (a typed array: no per-packet object):
 * [0] ipA, [1] ipB, [2] portA | portB << 16, [3] vlan, [4] protocol, [5] 0 when the sender is A.
 */
import { R } from '../src/flows/record.js';

export const enum K {
  IP_A = 0,
  IP_B = 1,
  PORTS = 2,
  VLAN = 3,
  PROTO = 4,
  DIR = 5,
  WORDS = 6,
}

export function canonicalKey(r: Uint32Array, base: number, out: Uint32Array): void {
  const srcIp = r[base + R.KEY_SRC_IP]!;
  const dstIp = r[base + R.KEY_DST_IP]!;
  const sport = r[base + R.KEY_PORTS]! & 0xffff;
  const dport = r[base + R.KEY_PORTS]! >>> 16;
  const srcIsA = srcIp < dstIp || (srcIp === dstIp && sport <= dport);
  out[K.IP_A] = srcIsA ? srcIp : dstIp;
  out[K.IP_B] = srcIsA ? dstIp : srcIp;
  out[K.PORTS] = srcIsA ? sport | (dport << 16) : dport | (sport << 16);
  out[K.VLAN] = r[base + R.VLAN]! & 0xffffff;
  out[K.PROTO] = (r[base + R.INFO]! >>> 8) & 0xff;
  out[K.DIR] = srcIsA ? 0 : 1;
}
