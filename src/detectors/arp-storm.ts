/**
 * arp.storm: ARP frames per second above `arp-storm-rate` for at least `arp-storm-duration`
 * consecutive seconds. One finding per storm: frames, duration, average and peak rate, top
 * senders, requests/replies and how many addresses were asked for (a sweep asks for many).
 */
import { ArpOp } from '../decode/arp.js';
import { Layer, type Frame } from '../decode/frame.js';
import { formatMac, formatTimestamp } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EVIDENCE_SAMPLE, makeFinding, type EvidenceItem } from './finding.js';
import { plural, roundTo } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'arp.storm';

const OPT_RATE = 'arp-storm-rate';
const OPT_DURATION = 'arp-storm-duration';

/** Most distinct senders and target addresses counted per storm (beyond: counted as "others"). */
const MAX_KEYS = 65536;
/** Numbers kept per pending evidence frame: frame, sec, ns, src MAC, dst MAC (or -1), sender IP, target IP. */
const PEND = 7;

interface Storm {
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  firstBucket: number;
  lastBucket: number;
  seconds: number;
  frames: number;
  requests: number;
  replies: number;
  peak: number;
  peakBucket: number;
  senders: Map<number, number>;
  otherSenders: number;
  targets: Set<number>;
  items: EvidenceItem[];
}

interface Partial {
  storms: Storm[];
}

class ArpStormLink implements LinkDetector {
  readonly interest = FrameClass.ARP;
  private bucket = -Infinity;
  private count = 0;
  private requests = 0;
  private replies = 0;
  private firstSec = 0;
  private firstNs = 0;
  private lastSec = 0;
  private lastNs = 0;
  private readonly senders = new Map<number, number>();
  private otherSenders = 0;
  private readonly targets = new Set<number>();
  private readonly pend = new Float64Array(EVIDENCE_SAMPLE * PEND);
  private pendN = 0;
  private run: Storm | null = null;
  private readonly storms: Storm[] = [];

  constructor(
    private readonly rate: number,
    private readonly duration: number,
  ) {}

  onFrame(f: Frame): void {
    const sec = f.tsSec;
    if (sec > this.bucket) {
      this.closeBucket();
      this.bucket = sec;
      this.firstSec = sec;
      this.firstNs = f.tsNs;
    }
    this.count++;
    this.lastSec = f.tsSec;
    this.lastNs = f.tsNs;
    if (f.arpOp === ArpOp.REQUEST) this.requests++;
    else if (f.arpOp === ArpOp.REPLY) this.replies++;
    const src = f.srcMac;
    const n = this.senders.get(src);
    if (n !== undefined) this.senders.set(src, n + 1);
    else if (this.senders.size < MAX_KEYS) this.senders.set(src, 1);
    else this.otherSenders++;
    if (f.arpOp === ArpOp.REQUEST && this.targets.size < MAX_KEYS) this.targets.add(f.arpTargetIp);
    if (this.pendN < EVIDENCE_SAMPLE) {
      const o = this.pendN++ * PEND;
      const p = this.pend;
      p[o] = f.frameNo;
      p[o + 1] = f.tsSec;
      p[o + 2] = f.tsNs;
      p[o + 3] = f.srcMac;
      p[o + 4] = (f.layers & Layer.ETHERNET) !== 0 ? f.dstMac : -1;
      p[o + 5] = f.arpSenderIp;
      p[o + 6] = f.arpTargetIp;
    }
  }

  /** Ends the current one-second bucket: extends, starts or ends a storm. */
  private closeBucket(): void {
    if (this.count === 0) return;
    if (this.count >= this.rate) {
      let s = this.run;
      if (s === null || s.lastBucket !== this.bucket - 1) {
        this.finish();
        s = {
          firstSec: this.firstSec,
          firstNs: this.firstNs,
          lastSec: 0,
          lastNs: 0,
          firstBucket: this.bucket,
          lastBucket: this.bucket,
          seconds: 0,
          frames: 0,
          requests: 0,
          replies: 0,
          peak: 0,
          peakBucket: this.bucket,
          senders: new Map(),
          otherSenders: 0,
          targets: new Set(),
          items: [],
        };
        this.run = s;
      }
      s.lastBucket = this.bucket;
      s.lastSec = this.lastSec;
      s.lastNs = this.lastNs;
      s.seconds++;
      s.frames += this.count;
      s.requests += this.requests;
      s.replies += this.replies;
      if (this.count > s.peak) {
        s.peak = this.count;
        s.peakBucket = this.bucket;
      }
      for (const [mac, n] of this.senders) {
        const m = s.senders.get(mac);
        if (m !== undefined) s.senders.set(mac, m + n);
        else if (s.senders.size < MAX_KEYS) s.senders.set(mac, n);
        else s.otherSenders += n;
      }
      s.otherSenders += this.otherSenders;
      for (const t of this.targets) if (s.targets.size < MAX_KEYS) s.targets.add(t);
      const p = this.pend;
      for (let i = 0; i < this.pendN && s.items.length < EVIDENCE_SAMPLE; i++) {
        const o = i * PEND;
        const it: EvidenceItem = { frame: p[o]!, tsSec: p[o + 1]!, tsNs: p[o + 2]!, what: 'ARP', srcMac: p[o + 3]!, srcIp: p[o + 5]!, dstIp: p[o + 6]! };
        if (p[o + 4]! >= 0) it.dstMac = p[o + 4]!;
        s.items.push(it);
      }
    } else {
      this.finish();
    }
    this.count = 0;
    this.requests = 0;
    this.replies = 0;
    this.senders.clear();
    this.otherSenders = 0;
    this.targets.clear();
    this.pendN = 0;
  }

  private finish(): void {
    const s = this.run;
    if (s !== null && s.seconds >= this.duration) this.storms.push(s);
    this.run = null;
  }

  partial(): Partial {
    this.closeBucket();
    this.finish();
    return { storms: this.storms };
  }
}

export const arpStormDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    { key: OPT_RATE, description: 'ARP frames in one second from which that second counts toward an ARP storm', default: 100, min: 1, max: 1e9, unit: 'frames per second', integer: true },
    { key: OPT_DURATION, description: 'consecutive seconds at or above arp-storm-rate that make an ARP storm', default: 5, min: 1, max: 1e9, unit: 's', integer: true },
  ],
  createLink(options: OptionValues): LinkDetector {
    return new ArpStormLink(options[OPT_RATE] ?? 100, options[OPT_DURATION] ?? 5);
  },
  reduce(partials, ctx): Finding[] {
    const rate = ctx.options[OPT_RATE] ?? 100;
    const storms = (partials as Partial[]).flatMap((p) => p.storms).sort((a, b) => a.firstBucket - b.firstBucket);
    return storms.map((s) => {
      const top = [...s.senders].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      const senders = top.length + (s.otherSenders > 0 ? 1 : 0);
      const lead = top[0];
      const dominant = lead !== undefined && lead[1] * 2 > s.frames;
      const topText = top
        .slice(0, 3)
        .map(([mac, n]) => `${formatMac(mac)} ${n} (${Math.round((n * 100) / s.frames)}%)`)
        .join(', ');
      const avg = s.frames / s.seconds;
      return makeFinding({
        id: ID,
        severity: 'medium',
        subject: dominant ? `ARP from ${formatMac(lead[0])}` : `ARP from ${plural(senders, 'sender')}`,
        summary:
          `${plural(s.frames, 'ARP frame')} in ${s.seconds} s at or above ${rate}/s (average ${Math.round(avg)}/s, peak ${s.peak}/s in the second from ${formatTimestamp(s.peakBucket, 0)}); ` +
          `${plural(s.requests, 'request')} for ${s.targets.size >= MAX_KEYS ? `${MAX_KEYS}+` : s.targets.size} addresses, ${plural(s.replies, 'reply', 'replies')}; ${plural(senders, 'sender')}, top: ${topText}`,
        count: s.frames,
        first: { sec: s.firstSec, ns: s.firstNs },
        last: { sec: s.lastSec, ns: s.lastNs },
        evidence: s.items.map((it) => ({ ...it, what: `ARP (storm, ${s.peak}/s peak)` })),
        evidenceTotal: s.frames,
        explanation:
          'ARP requests are broadcasts: every switch floods each one to all ports and every host on the segment has to receive and look at it, so a sustained high rate costs CPU on hosts and on the switches\' control plane (which then drops legitimate ARP) and thrashes neighbour tables. ' +
          'Usual causes: a layer-2 loop (the same frames circulate endlessly: many ordinary senders, a huge rate - check the STP finding), an ARP sweep (nmap -sn, arp-scan, a monitoring or inventory tool: one sender asking for many addresses), a router or host resolving unreachable addresses in a loop (a connected route covering a large empty range being scanned from outside), or an ARP flood attack (many random sender MACs).',
        remediation:
          `Find the top sender's port (\`show mac address-table address <mac>\`, \`bridge fdb show | grep -i <mac>\`) and stop the scan or fix the host; for a loop, check spanning tree (BPDU guard on host ports, \`spanning-tree portfast\`), and enable storm control (\`storm-control broadcast level 1.00\`). ` +
          'Rate-limit ARP on the switch (`ip arp inspection limit rate 100`, control-plane policing) or on a Linux bridge/host (`nft add rule bridge filter input ether type arp limit rate over 100/second drop`); for a router ARPing for unused addresses, add a null route for the unused range or shrink the connected prefix; raise `net.ipv4.neigh.default.gc_thresh3` if neighbour tables overflow ("neighbor table overflow").',
        details: {
          seconds: s.seconds,
          frames: s.frames,
          averagePerSecond: roundTo(avg, 2),
          peakPerSecond: s.peak,
          peakSecond: formatTimestamp(s.peakBucket, 0),
          requests: s.requests,
          replies: s.replies,
          targetAddresses: s.targets.size,
          senders,
          topSenders: top.slice(0, 5).map(([mac, n]) => ({ mac: formatMac(mac), frames: n })),
          thresholdPerSecond: rate,
        },
      });
    });
  },
};
