/**
 * Helpers to run the decoder on test bytes and to read a decoded `Frame` back as text: the
 * decoder unit tests use `decodeBytes`, the tshark cross-check uses `frameFields` to name our
 * fields the way tshark does; `decodeFile` runs a whole capture file through the decoder.
 */
import { readCapture } from '../../src/capture/reader.js';
import { CaptureRecord } from '../../src/capture/record.js';
import { decodeRecord } from '../../src/decode/decoder.js';
import { Frame, Layer } from '../../src/decode/frame.js';
import { eventCountsToObject, newEventCounters } from '../../src/events.js';

export interface DecodeOptions {
  /** Link type (default Ethernet, 1). */
  linkType?: number;
  /** Length on the wire (default: the captured length). */
  wireLen?: number;
  /** Bytes placed before the frame in the buffer, so offsets must be relative (default 7). */
  lead?: number;
}

export interface Decoded {
  f: Frame;
  /** Non-zero event counters by dotted name. */
  events: Record<string, number>;
}

/** Filler around the frame: a decoder that reads outside `off..off+capLen` sees this, not zeros. */
const FILL = 0xee;

/**
 * Decodes frames one after the other into one reused `Frame` with one set of counters, as the
 * analysis does: what one frame leaves behind must not show in the next.
 */
export class FrameDecoder {
  readonly counts = newEventCounters();
  readonly f = new Frame(this.counts);
  private frameNo = 0;

  /**
   * Decodes `bytes` as the next captured frame. The frame sits inside a larger buffer with
   * filler before and after it, so a decoder that ignores `off` or reads past the captured end
   * gets visibly wrong values instead of lucky zeros.
   */
  decode(bytes: Uint8Array, opts: DecodeOptions = {}): Decoded {
    const lead = opts.lead ?? 7;
    const buf = new Uint8Array(lead + bytes.length + 64).fill(FILL);
    buf.set(bytes, lead);
    const rec = new CaptureRecord();
    rec.buf = buf;
    rec.off = lead;
    rec.capLen = bytes.length;
    rec.wireLen = opts.wireLen ?? bytes.length;
    rec.linkType = opts.linkType ?? 1;
    rec.frameNo = ++this.frameNo;
    decodeRecord(this.f, rec);
    return { f: this.f, events: eventCountsToObject(this.counts) };
  }
}

/** Decodes `bytes` as one captured frame, with a fresh Frame and counters (see FrameDecoder). */
export function decodeBytes(bytes: Uint8Array, opts: DecodeOptions = {}): Decoded {
  return new FrameDecoder().decode(bytes, opts);
}

/**
 * Reads `file` and decodes each record into one reused Frame, as the analysis does, calling
 * `onFrame` for each; returns how many there were. Throws if the reader reports an error.
 */
export async function decodeFile(file: string, onFrame: (f: Frame) => void): Promise<number> {
  const events = newEventCounters();
  const frame = new Frame(events);
  let frames = 0;
  const outcome = await readCapture(
    file,
    {
      record: frame,
      onRecord(rec: CaptureRecord): void {
        decodeRecord(frame, rec);
        frames++;
        onFrame(frame);
      },
    },
    { events },
  );
  if (outcome.error) throw outcome.error;
  return frames;
}

/**
 * Decodes the first `n` bytes of `bytes` as a frame that a snaplen cut: captured `n`, `bytes.length`
 * on the wire.
 */
export function decodeCut(bytes: Uint8Array, n: number, opts: Omit<DecodeOptions, 'wireLen'> = {}): Decoded {
  return decodeBytes(bytes.subarray(0, n), { ...opts, wireLen: bytes.length });
}

/** True when every bit of `bits` is set in `f.layers`. */
export function has(f: Frame, bits: number): boolean {
  return (f.layers & bits) === bits;
}

export function formatMac(mac: number): string {
  const hex = mac.toString(16).padStart(12, '0');
  return hex.match(/../g)!.join(':');
}

export function formatIp(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join('.');
}

export function hex4(v: number): string {
  return '0x' + v.toString(16).padStart(4, '0');
}

/** The fields the tshark cross-check compares, by tshark field name. */
export const CROSSCHECK_FIELDS = [
  'eth.src',
  'eth.dst',
  'eth.type',
  'eth.len',
  'vlan.id',
  'vlan.etype',
  'sll.src.eth',
  'sll.etype',
  'sll.ltype',
  'arp.opcode',
  'arp.src.hw_mac',
  'arp.src.proto_ipv4',
  'arp.dst.hw_mac',
  'arp.dst.proto_ipv4',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.ttl',
  'ip.len',
  'ip.id',
  'ip.flags.df',
  'ip.flags.mf',
  'ip.frag_offset',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmp.code',
  // The datagram an ICMP error quotes: tshark's second ip.* occurrence, and the first (only)
  // tcp/udp port occurrence of a frame whose own L4 is ICMP.
  'quote.ip.src',
  'quote.ip.dst',
  'quote.ip.proto',
  'quote.srcport',
  'quote.dstport',
  'quote.tcp.seq_raw',
  // The NFLOG group and the logging rule's prefix (tshark prints an empty prefix as nothing).
  'nflog.res_id',
  'nflog.prefix',
] as const;

export type CrosscheckField = (typeof CROSSCHECK_FIELDS)[number];

/**
 * Our decoded frame as tshark would print each compared field (`-T fields`), or undefined for a
 * field we did not decode. Multi-valued fields (vlan.id) are joined with commas, outermost first.
 *
 * Where our field and tshark's differ in meaning, the mapping says so:
 * - ip.len is the total length field, except for a total length of 0 (a segmentation-offload
 *   frame), where tshark, like us (`ipLen`), takes the length of the datagram from the frame;
 * - tcp.len is left out when the TCP data offset is impossible (below 20 or beyond the IP
 *   payload): `tcpPayloadLen` is then a placeholder 0, tshark prints nothing;
 * - a TCP or UDP header cut short still has its ports when 4 bytes of it were captured (the
 *   decoder reads them without setting the layer bit);
 * - an all-zero SLL address is no address (the loopback device, "any"): left out.
 */
export function frameFields(f: Frame): Partial<Record<CrosscheckField, string>> {
  const out: Partial<Record<CrosscheckField, string>> = {};
  const layers = f.layers;
  if (layers & Layer.NFLOG) {
    out['nflog.res_id'] = String(f.nflogGroup);
    if (f.nflogPrefixLen > 0) out['nflog.prefix'] = new TextDecoder().decode(f.buf.subarray(f.nflogPrefixOff, f.nflogPrefixOff + f.nflogPrefixLen));
  }
  if (layers & Layer.ETHERNET) {
    out['eth.src'] = formatMac(f.srcMac);
    out['eth.dst'] = formatMac(f.dstMac);
    // A frame cut inside the type field has MACs but no type.
    if (f.capLen >= 14) {
      if (f.outerEtherType >= 0x0600) out['eth.type'] = hex4(f.outerEtherType);
      else out['eth.len'] = String(f.outerEtherType);
    }
  }
  if (layers & Layer.SLL) {
    if (f.srcMac !== 0) out['sll.src.eth'] = formatMac(f.srcMac);
    if (f.outerEtherType >= 0x0600) out['sll.etype'] = hex4(f.outerEtherType);
    else out['sll.ltype'] = hex4(f.outerEtherType);
  }
  if (layers & Layer.VLAN) {
    const ids: number[] = [];
    for (let i = 0; i < f.vlanDepth; i++) ids.push(f.vlanId(i));
    out['vlan.id'] = ids.join(',');
    // The type after the last tag (an 802.3 length there is not an EtherType).
    if (f.etherType >= 0x0600 || f.invalidType) out['vlan.etype'] = hex4(f.etherType);
  }
  if (layers & Layer.ARP) {
    out['arp.opcode'] = String(f.arpOp);
    out['arp.src.hw_mac'] = formatMac(f.arpSenderMac);
    out['arp.src.proto_ipv4'] = formatIp(f.arpSenderIp);
    out['arp.dst.hw_mac'] = formatMac(f.arpTargetMac);
    out['arp.dst.proto_ipv4'] = formatIp(f.arpTargetIp);
  }
  if (layers & Layer.IPV4) {
    out['ip.src'] = formatIp(f.ipSrc);
    out['ip.dst'] = formatIp(f.ipDst);
    out['ip.proto'] = String(f.ipProto);
    out['ip.ttl'] = String(f.ipTtl);
    out['ip.len'] = String(f.ipTotalLen === 0 ? f.ipLen : f.ipTotalLen);
    out['ip.id'] = hex4(f.ipId);
    out['ip.flags.df'] = String(f.ipDf);
    out['ip.flags.mf'] = String(f.ipMf);
    // tshark counts the fragment offset in 8-byte units, as on the wire; ours is in bytes.
    out['ip.frag_offset'] = String(f.ipFragOffset / 8);
  }
  if (layers & Layer.TCP) {
    out['tcp.srcport'] = String(f.srcPort);
    out['tcp.dstport'] = String(f.dstPort);
    out['tcp.flags'] = hex4(f.tcpFlags);
    out['tcp.seq_raw'] = String(f.tcpSeq);
    out['tcp.ack_raw'] = String(f.tcpAck);
    if (f.tcpHeaderLen >= 20 && f.tcpHeaderLen <= f.l4Len) out['tcp.len'] = String(f.tcpPayloadLen);
  } else if (cutL4Ports(f, 6)) {
    out['tcp.srcport'] = String(f.srcPort);
    out['tcp.dstport'] = String(f.dstPort);
  }
  if (layers & Layer.UDP) {
    out['udp.srcport'] = String(f.srcPort);
    out['udp.dstport'] = String(f.dstPort);
  } else if (cutL4Ports(f, 17)) {
    out['udp.srcport'] = String(f.srcPort);
    out['udp.dstport'] = String(f.dstPort);
  }
  if (layers & Layer.ICMP) {
    out['icmp.type'] = String(f.icmpType);
    out['icmp.code'] = String(f.icmpCode);
  }
  if (f.quoteProto >= 0) {
    out['quote.ip.src'] = formatIp(f.quoteSrc);
    out['quote.ip.dst'] = formatIp(f.quoteDst);
    out['quote.ip.proto'] = String(f.quoteProto);
  }
  if (layers & Layer.ICMP_QUOTE && (f.quoteProto === 6 || f.quoteProto === 17)) {
    out['quote.srcport'] = String(f.quoteSrcPort);
    out['quote.dstport'] = String(f.quoteDstPort);
    if (f.quoteProto === 6) out['quote.tcp.seq_raw'] = String(f.quoteTcpSeq);
  }
  return out;
}

/** A TCP/UDP header cut short (first fragment or no fragment) of which the 4 port bytes were captured. */
function cutL4Ports(f: Frame, proto: number): boolean {
  return (
    (f.layers & Layer.IPV4) !== 0 &&
    f.ipProto === proto &&
    f.truncated === 1 &&
    f.l4Off >= 0 &&
    Math.min(f.off + f.capLen, f.ipOff + f.ipLen) - f.l4Off >= 4
  );
}
