/**
 * Small helpers shared by the link-scope detectors: evidence items built from the current frame
 * (allocated only while a sample still has room), time spans and gap statistics kept as plain
 * numbers, the broadcast domain (VLAN) of a frame, and MAC address classes for reports.
 */
import { Layer, type Frame } from '../decode/frame.js';
import { formatDuration, formatMac } from '../report/format.js';
import { EVIDENCE_SAMPLE, EvidenceSample, type EvidenceItem } from './finding.js';

export interface Time {
  sec: number;
  ns: number;
}

/** The evidence item of the current frame (MACs; IPs and ports when asked). */
export function frameItem(f: Frame, what: string, withIp = false, withPorts = false): EvidenceItem {
  const it: EvidenceItem = { frame: f.frameNo, tsSec: f.tsSec, tsNs: f.tsNs, what };
  // Linux cooked captures record no destination MAC; raw IP link types no MAC at all.
  if ((f.layers & Layer.ETHERNET) !== 0) {
    it.srcMac = f.srcMac;
    it.dstMac = f.dstMac;
  } else if ((f.layers & Layer.SLL) !== 0) it.srcMac = f.srcMac;
  if (withIp) {
    it.srcIp = f.ipSrc;
    it.dstIp = f.ipDst;
    if (withPorts) {
      it.srcPort = f.srcPort;
      it.dstPort = f.dstPort;
    }
  }
  return it;
}

/**
 * Adds the current frame to a sample, allocating the item only when the sample would keep it
 * (the same rule as EvidenceSample: the lowest frame numbers win). `limit` must be the sample's.
 */
export function sampleFrame(s: EvidenceSample, f: Frame, what: string, withIp = false, withPorts = false, limit = EVIDENCE_SAMPLE): void {
  const items = s.items;
  if (items.length >= limit && f.frameNo >= items[items.length - 1]!.frame) {
    s.total++;
    return;
  }
  s.add(frameItem(f, what, withIp, withPorts));
}

/** True when a sample of `limit` items would keep an item of this frame number (check before allocating it). */
export function wouldKeep(s: EvidenceSample, frame: number, limit = EVIDENCE_SAMPLE): boolean {
  const items = s.items;
  return items.length < limit || frame < items[items.length - 1]!.frame;
}

/** Counts an item the sample would not keep (see `wouldKeep`). */
export function skipItem(s: EvidenceSample): void {
  s.total++;
}

/**
 * Adds frame `f` to a span kept in a detector's row as the six numbers Span.setFrom reads, at
 * `at`: the first frame's when the span is empty (`n`, counted by the caller, is 0), the last's.
 */
export function addToSpanRow(row: Float64Array, at: number, n: number, f: Frame): void {
  if (n === 0) {
    row[at] = f.tsSec;
    row[at + 1] = f.tsNs;
    row[at + 2] = f.frameNo;
  }
  row[at + 3] = f.tsSec;
  row[at + 4] = f.tsNs;
  row[at + 5] = f.frameNo;
}

/** First and last time (and frame) of a series of frames, as numbers. */
export class Span {
  n = 0;
  firstSec = 0;
  firstNs = 0;
  firstFrame = 0;
  lastSec = 0;
  lastNs = 0;
  lastFrame = 0;

  /**
   * Sets the span from a count and six numbers of a detector's row at `at`: first second, ns,
   * frame, then last second, ns, frame (how the detectors that keep rows lay a span out).
   */
  setFrom(n: number, row: Float64Array, at: number): this {
    this.n = n;
    this.firstSec = row[at]!;
    this.firstNs = row[at + 1]!;
    this.firstFrame = row[at + 2]!;
    this.lastSec = row[at + 3]!;
    this.lastNs = row[at + 4]!;
    this.lastFrame = row[at + 5]!;
    return this;
  }

  add(f: Frame): void {
    if (this.n === 0) {
      this.firstSec = f.tsSec;
      this.firstNs = f.tsNs;
      this.firstFrame = f.frameNo;
    }
    this.n++;
    this.lastSec = f.tsSec;
    this.lastNs = f.tsNs;
    this.lastFrame = f.frameNo;
  }

  first(): Time | null {
    return this.n === 0 ? null : { sec: this.firstSec, ns: this.firstNs };
  }

  last(): Time | null {
    return this.n === 0 ? null : { sec: this.lastSec, ns: this.lastNs };
  }

  /** Seconds from the first to the last frame. */
  seconds(): number {
    return this.n === 0 ? 0 : this.lastSec - this.firstSec + (this.lastNs - this.firstNs) / 1e9;
  }
}

/**
 * Statistics of the gaps between successive frames (Welford's running mean and variance), to
 * say "every 1.00 s ± 3.1 ms". A frame stamped before the previous one counts as a zero gap.
 */
export class GapStats {
  gaps = 0;
  mean = 0;
  private m2 = 0;
  min = Infinity;
  max = 0;
  private prevSec = 0;
  private prevNs = 0;
  private started = false;

  add(sec: number, ns: number): void {
    if (this.started) {
      let g = sec - this.prevSec + (ns - this.prevNs) / 1e9;
      if (g < 0) g = 0;
      this.gaps++;
      const d = g - this.mean;
      this.mean += d / this.gaps;
      this.m2 += d * (g - this.mean);
      if (g < this.min) this.min = g;
      if (g > this.max) this.max = g;
    }
    this.started = true;
    this.prevSec = sec;
    this.prevNs = ns;
  }

  /** Population standard deviation of the gaps. */
  stdDev(): number {
    return this.gaps === 0 ? 0 : Math.sqrt(this.m2 / this.gaps);
  }

  /**
   * "every 1.00 s ± 3.1 ms", or null with fewer than two gaps (three frames); with `regularOnly`,
   * also null when the gaps vary more than half their mean (bursts, not a period).
   */
  describe(regularOnly = false): string | null {
    if (this.gaps < 2) return null;
    if (regularOnly && this.stdDev() > this.mean / 2) return null;
    return `every ${formatDuration(this.mean)} ± ${formatDuration(this.stdDev())}`;
  }

  toJSON(): { meanSeconds: number; stdDevSeconds: number; minSeconds: number; maxSeconds: number } | null {
    if (this.gaps < 2) return null;
    return { meanSeconds: round9(this.mean), stdDevSeconds: round9(this.stdDev()), minSeconds: round9(this.min), maxSeconds: round9(this.max) };
  }
}

/** Rounds to nanoseconds, for stable JSON. */
export function round9(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** Rounds to `digits` decimals. */
export function roundTo(x: number, digits: number): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

/**
 * The broadcast domain of a frame as far as the capture shows it: the innermost VLAN id (the
 * customer VLAN of a QinQ frame), 0 for untagged and priority-tagged frames. ARP bindings and
 * IP conflicts are only meaningful inside one domain: a trunk capture shows the same address
 * in several VLANs.
 */
export function vlanScope(f: Frame): number {
  return f.vlanDepth === 0 ? 0 : f.vlanId(f.vlanDepth - 1);
}

const TWO32 = 4294967296;

/** A numeric key for (VLAN, IPv4 address): exact, below 2^44. */
export function scopeIpKey(vlan: number, ip: number): number {
  return vlan * TWO32 + ip;
}

/** " (VLAN 10)" for a tagged domain, "" otherwise. */
export function vlanSuffix(vlan: number): string {
  return vlan === 0 ? '' : ` (VLAN ${vlan})`;
}

const TWO40 = 0x10000000000;

/** The I/G bit: a group (multicast or broadcast) address. */
export function isGroupMac(mac: number): boolean {
  return Math.floor(mac / TWO40) % 2 === 1;
}

/** The U/L bit: a locally administered address (set by software, not burnt in by a vendor). */
export function isLocalMac(mac: number): boolean {
  return (Math.floor(mac / TWO40) & 0x02) !== 0;
}

export const BROADCAST_MAC = 0xffffffffffff;

/** Destination address classes, as stable codes for `details`. */
export type MacClass = 'broadcast' | 'ieee-reserved' | 'ieee-group' | 'ipv4-multicast' | 'ipv6-multicast' | 'multicast' | 'unicast' | 'unknown';

export function macClass(mac: number): MacClass {
  if (mac === BROADCAST_MAC) return 'broadcast';
  if (!isGroupMac(mac)) return 'unicast';
  const oui = Math.floor(mac / 0x1000000);
  if (oui === 0x0180c2) return mac % 0x1000000 <= 0x0f ? 'ieee-reserved' : 'ieee-group';
  if (oui === 0x01005e) return 'ipv4-multicast';
  if (Math.floor(mac / 0x100000000) === 0x3333) return 'ipv6-multicast';
  return 'multicast';
}

/** A few words for the class of a destination MAC (for summaries). */
export function macClassShort(cls: MacClass, mac: number): string {
  const local = cls !== 'broadcast' && cls !== 'unknown' && isLocalMac(mac) ? ', locally administered' : '';
  switch (cls) {
    case 'broadcast':
      return 'broadcast';
    case 'ieee-reserved':
      return 'IEEE 802.1 reserved group, link-local';
    case 'ieee-group':
      return 'IEEE 802.1 group, flooded';
    case 'ipv4-multicast':
      return 'IPv4 multicast';
    case 'ipv6-multicast':
      return 'IPv6 multicast';
    case 'multicast':
      return `multicast${local}`;
    case 'unicast':
      return `unicast${local}`;
    default:
      return 'destination not recorded';
  }
}

/** A phrase for the class of a destination MAC. */
export function macClassText(cls: MacClass, mac: number): string {
  const local = cls !== 'broadcast' && cls !== 'unknown' && isLocalMac(mac) ? ', locally administered' : '';
  switch (cls) {
    case 'broadcast':
      return 'broadcast';
    case 'ieee-reserved':
      return 'IEEE 802.1 reserved group address 01:80:c2:00:00:0x: link-local, bridges do not forward it';
    case 'ieee-group':
      return 'group address in the IEEE 802.1 block 01:80:c2, outside the reserved 00-0f range: flooded by bridges like any multicast';
    case 'ipv4-multicast':
      return 'IPv4 multicast group address (01:00:5e)';
    case 'ipv6-multicast':
      return 'IPv6 multicast group address (33:33)';
    case 'multicast':
      return `multicast group address${local}`;
    case 'unicast':
      return `unicast${local}`;
    default:
      return 'not recorded (Linux cooked capture)';
  }
}

/** "32768.00:11:22:33:44:55" (priority in decimal, as Linux `bridge`/`mstpctl` and most switch CLIs show it). */
export function formatBridgeId(priority: number, mac: number): string {
  return `${priority}.${formatMac(mac)}`;
}

/** Hex bytes separated by spaces: "00 01 00 32". */
export function hexBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (i ? ' ' : '') + b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Pluralizes a count: "1 frame", "3 frames". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Most evidence items a finding built from several samples shows. */
export const MERGED_EVIDENCE = 2 * EVIDENCE_SAMPLE;

/**
 * Evidence from several samples: each frame once (the first list that has it describes it), the
 * lowest MERGED_EVIDENCE frame numbers, by frame number.
 */
export function mergeEvidence(...lists: ReadonlyArray<readonly EvidenceItem[]>): EvidenceItem[] {
  const byFrame = new Map<number, EvidenceItem>();
  for (const list of lists) for (const it of list) if (!byFrame.has(it.frame)) byFrame.set(it.frame, it);
  return [...byFrame.values()].sort((a, b) => a.frame - b.frame).slice(0, MERGED_EVIDENCE);
}
