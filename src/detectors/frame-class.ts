import { EtherType } from '../decode/ethertypes.js';
import { Layer, TcpFlag, type Frame } from '../decode/frame.js';
import { IcmpType } from '../decode/icmp.js';
import { FrameClass } from './types.js';

const FIN = TcpFlag.FIN;
const SYN = TcpFlag.SYN;
const RST = TcpFlag.RST;
const PSH = TcpFlag.PSH;
const ACK = TcpFlag.ACK;
const URG = TcpFlag.URG;

/** TCP flag combinations no ordinary stack sends: scans and crafted packets. */
export function isOddTcpFlags(flags: number): boolean {
  const f = flags & 0x3f;
  return f === 0 || (f & (SYN | FIN)) === (SYN | FIN) || (f & (SYN | RST)) === (SYN | RST) || ((f & FIN) !== 0 && (f & ACK) === 0) || (f & (FIN | PSH | URG)) === (FIN | PSH | URG);
}

/** The FrameClass bits of a decoded frame: which link-scope detectors want it. */
export function frameClasses(f: Frame): number {
  const layers = f.layers;
  let c = 0;
  const hasLink = (layers & (Layer.ETHERNET | Layer.SLL)) !== 0;
  if (hasLink) c = FrameClass.ANY;
  else if ((layers & Layer.NFLOG) !== 0) c = FrameClass.NFLOG;
  if ((layers & Layer.IPV4) !== 0) {
    if (hasLink) c |= FrameClass.IPV4;
    if ((layers & Layer.TCP) !== 0 && isOddTcpFlags(f.tcpFlags)) c |= FrameClass.TCP_ODD_FLAGS;
    if ((layers & Layer.ICMP) !== 0 && f.icmpType === IcmpType.ECHO_REQUEST) c |= FrameClass.ICMP_ECHO_REQUEST;
    return c;
  }
  if (!hasLink) return c;
  if ((layers & Layer.ARP) !== 0) return c | FrameClass.ARP;
  if (f.invalidType) return c | FrameClass.INVALID_TYPE;
  if (f.lengthField !== 0 || (layers & Layer.LLC) !== 0) return c | FrameClass.LLC;
  const t = f.etherType;
  if (t !== 0 && t !== EtherType.IPV4 && t !== EtherType.IPV6 && t !== EtherType.ARP) c |= FrameClass.OTHER_ETHERTYPE;
  return c;
}
