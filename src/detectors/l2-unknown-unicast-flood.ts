/**
 * l2.unknown_unicast_flood — a learning bridge model replays the capture: a MAC is remembered
 * when it sends, and forgotten `fdb-ageing` seconds after it last sent (Linux bridges: 300 s). A
 * unicast frame to a MAC the bridge has forgotten is flooded to every port. This is the mechanism
 * behind incident 1: a quiet VM, a router whose ARP cache outlives the bridge's table, a SYN
 * flooded to every VM.
 *
 * Also, when the capture host's own MAC can be told (Linux cooked captures mark "to another host";
 * on Ethernet, one MAC in nearly every frame), unicast frames addressed to some other host that
 * reached the capture point are reported: flooded traffic seen there.
 */
import { Layer, type Frame } from '../decode/frame.js';
import { formatDuration, formatIpv4, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, widenRange, type EvidenceItem } from './finding.js';
import { F64Column, MacIndex, macHi, macLo } from './mac-index.js';
import { FrameClass, type Detector, type LinkDetector, type OptionSpec, type OptionValues, type ReduceContext } from './types.js';

const ID = 'l2.unknown_unicast_flood';
const TWO32 = 0x100000000;
/** Linux cooked capture packet type: addressed to another host. */
const PACKET_OTHERHOST = 3;
/** Frames looked at before deciding which MAC is the capture host's. */
const HOST_INFERENCE_FRAMES = 4096;
/**
 * Share of unicast frames that must involve one MAC for it to be the capture host, and how many
 * frames that takes. A busy host seen from a switch port also appears in most frames, so the bar
 * is high: on a host capture, only flooded frames leave it out.
 */
const HOST_SHARE = 0.98;
/** Foreign frames waiting for a refusal, at most; and how long a refusal may take (seconds). */
const AWAIT_MAX = 4096;
const REFUSAL_WINDOW_S = 2;
const TCP_RST = 0x04;
/** What kind of refusal a frame is. */
const enum Refusal {
  NONE = 0,
  RST = 1,
  UNREACHABLE = 2,
}
const ICMP_UNREACHABLE = 3;
const HOST_MIN_FRAMES = 100;

const OPTIONS: readonly OptionSpec[] = [
  { key: 'fdb-ageing', default: 300, min: 1, max: 1e6, unit: 's', description: "the bridge's MAC ageing time (Linux: 300 s; `ip -d link show br0` shows ageing_time in centiseconds)" },
  {
    key: 'flood-medium-frames',
    default: 100,
    min: 1,
    max: 1e12,
    integer: true,
    unit: 'frames',
    description: 'flooded frames toward one MAC from which l2.unknown_unicast_flood is medium (below: low, unless it explains a tcp.conflicting_responses)',
  },
  {
    key: 'host-mac',
    default: 0,
    min: 0,
    max: 0xffffffffffff,
    mac: true,
    description: "MAC of the interface the capture was taken on, when it cannot be inferred (then every unicast frame for another MAC is flooded traffic seen there)",
  },
];

interface FloodAgg {
  mac: number;
  /** Frames flooded because the bridge forgot the MAC. */
  agedOut: number;
  /** Refusals (TCP RST, ICMP unreachable) to those frames sent from another MAC in this MAC's IP's name. */
  refusedByOthers: number;
  /** The MACs that sent those refusals (a few). */
  refusingMacs: number[];
  /** Frames addressed to this MAC seen at a capture point that is not this MAC's host. */
  foreign: number;
  /** Of those, frames also counted in agedOut (one flooded frame, counted once). */
  foreignAlsoAged: number;
  episodes: number;
  /** Longest silence before a flooded frame (seconds). */
  maxSilence: number;
  /** Destination IPv4 addresses the flooded frames carried (bounded). */
  ips: number[];
  /** Episodes that started without an ARP request for the MAC's addresses in the ageing window before. */
  episodesWithoutArp: number;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  sample: EvidenceSample;
}

interface Partial {
  ageing: number;
  hostMac: number | null;
  floods: Array<Omit<FloodAgg, 'sample'> & { sample: { items: EvidenceItem[]; total: number } }>;
}

class FloodDetector implements LinkDetector {
  readonly interest = FrameClass.ANY;
  /** What the bridge knows: per MAC (by MacIndex index) when it last sent, in which frame. */
  private readonly macs = new MacIndex();
  private readonly last = new F64Column(1024, -Infinity);
  private readonly lastFrame = new F64Column(1024);
  /** 1 while the MAC is in a flood episode (forgotten, and frames for it seen). */
  private readonly inEpisode = new F64Column(1024);
  /** IPv4 addresses each MAC announced as ARP sender (bounded), by index. */
  private readonly arpIps = new Map<number, number[]>();
  private readonly floods = new Map<number, FloodAgg>();
  /** Last time an ARP request asked for each IPv4 address. */
  private readonly arpAsked = new Map<number, number>();
  private lastSrcHi = -1;
  private lastSrcLo = -1;
  private lastSrcIndex = -1;
  /**
   * IPv4 frames seen here though addressed to another host, by (source, destination) address
   * pair, waiting a moment for an answer: a box that is not the addressee refusing them (a
   * firewall with a REJECT policy forging the RST) is how flooding does harm (incident 1).
   */
  private readonly awaiting = new Map<string, { mac: number; frame: number; time: number }>();

  // Capture-host inference: the first unicast frames are buffered (numbers only), then replayed.
  private hostMac: number | null = null;
  private hostDecided = false;
  private readonly pendSrc = new Float64Array(HOST_INFERENCE_FRAMES);
  private readonly pendDst = new Float64Array(HOST_INFERENCE_FRAMES);
  private readonly pendFrame = new Uint32Array(HOST_INFERENCE_FRAMES);
  private readonly pendSec = new Uint32Array(HOST_INFERENCE_FRAMES);
  private readonly pendNs = new Uint32Array(HOST_INFERENCE_FRAMES);
  private readonly pendIp = new Uint32Array(HOST_INFERENCE_FRAMES);
  /** IPv4 source (with pendIsIp), what kind of refusal the frame is (Refusal), whether it was aged out. */
  private readonly pendIpSrc = new Uint32Array(HOST_INFERENCE_FRAMES);
  private readonly pendIsIp = new Uint8Array(HOST_INFERENCE_FRAMES);
  private readonly pendRefusal = new Uint8Array(HOST_INFERENCE_FRAMES);
  private readonly pendAged = new Uint8Array(HOST_INFERENCE_FRAMES);
  private pending = 0;

  constructor(
    private readonly ageing: number,
    givenHostMac: number,
  ) {
    if (givenHostMac > 0) {
      this.hostMac = givenHostMac;
      this.hostDecided = true;
    }
  }

  onFrame(f: Frame): void {
    const now = f.tsSec + f.tsNs * 1e-9;
    const src = f.srcMac;
    const dst = f.dstMac;
    if (src !== 0 && !isGroup(src)) this.learn(src, now, f);
    const isIp = (f.layers & Layer.IPV4) !== 0;
    const refusal = !isIp ? Refusal.NONE : (f.layers & Layer.TCP) !== 0 && (f.tcpFlags & TCP_RST) !== 0 ? Refusal.RST : (f.layers & Layer.ICMP) !== 0 && f.icmpType === ICMP_UNREACHABLE ? Refusal.UNREACHABLE : Refusal.NONE;
    if (refusal !== Refusal.NONE && this.awaiting.size > 0) this.checkRefusal(src, dst, f.ipSrc, f.ipDst, refusal, f.frameNo, f.tsSec, f.tsNs);
    if ((f.layers & Layer.SLL) !== 0) {
      // Cooked captures have no destination MAC, but the kernel says whether the frame was for us.
      if (f.sllPacketType === PACKET_OTHERHOST) {
        this.foreignFrame(0, src, f.frameNo, f.tsSec, f.tsNs, isIp ? f.ipDst : 0, false);
        if (isIp) this.await(f.ipSrc, f.ipDst, 0, f.frameNo, now);
      }
      return;
    }
    if ((f.layers & Layer.ETHERNET) === 0 || isGroup(dst)) return;
    // A MAC never seen sending is not evidence of anything: the bridge may have learned it before the capture.
    const j = this.macs.find(macHi(dst), macLo(dst));
    let aged = false;
    if (j >= 0) {
      const silence = now - this.last.data[j]!;
      if (silence > this.ageing) {
        this.agedOutFrame(dst, j, silence, now, f);
        aged = true;
      }
    }
    const ip = isIp ? f.ipDst : 0;
    if (!this.hostDecided) {
      const i = this.pending++;
      this.pendSrc[i] = src;
      this.pendDst[i] = dst;
      this.pendFrame[i] = f.frameNo;
      this.pendSec[i] = f.tsSec;
      this.pendNs[i] = f.tsNs;
      this.pendIp[i] = ip;
      this.pendIpSrc[i] = isIp ? f.ipSrc : 0;
      this.pendIsIp[i] = isIp ? 1 : 0;
      this.pendRefusal[i] = refusal;
      this.pendAged[i] = aged ? 1 : 0;
      if (this.pending === HOST_INFERENCE_FRAMES) this.decideHost();
    } else if (this.hostMac !== null && src !== this.hostMac && dst !== this.hostMac) {
      this.foreignFrame(dst, src, f.frameNo, f.tsSec, f.tsNs, ip, aged);
      if (isIp) this.await(f.ipSrc, f.ipDst, dst, f.frameNo, now);
    }
  }

  /** Remembers a foreign IPv4 frame (addressed to `dst`; 0 = unknown) for checkRefusal. */
  private await(ipSrc: number, ipDst: number, dst: number, frame: number, now: number): void {
    // Bounded: a capture point drowning in flooded frames needs no more evidence than this.
    if (this.awaiting.size >= AWAIT_MAX) return;
    this.awaiting.set(`${ipSrc}>${ipDst}`, { mac: dst, frame, time: now });
  }

  /**
   * A TCP RST or ICMP unreachable going back to the sender of a foreign frame, in the name of the
   * host it was addressed to, but from another MAC: someone refused a frame that was not theirs.
   */
  private checkRefusal(srcMac: number, dstMac: number, ipSrc: number, ipDst: number, refusal: number, frame: number, sec: number, ns: number): void {
    const key = `${ipDst}>${ipSrc}`;
    const w = this.awaiting.get(key);
    if (w === undefined) return;
    if (sec + ns * 1e-9 - w.time > REFUSAL_WINDOW_S) {
      this.awaiting.delete(key);
      return;
    }
    if (srcMac === w.mac || srcMac === 0) return;
    this.awaiting.delete(key);
    const a = this.floods.get(w.mac);
    if (!a) return;
    a.refusedByOthers++;
    if (!a.refusingMacs.includes(srcMac) && a.refusingMacs.length < 4) a.refusingMacs.push(srcMac);
    a.sample.add({
      frame,
      tsSec: sec,
      tsNs: ns,
      what: `${refusal === Refusal.RST ? 'RST' : 'ICMP unreachable'} from ${formatMac(srcMac)} in the name of ${formatIpv4(ipSrc)}, refusing frame ${w.frame} that was addressed to ${w.mac === 0 ? 'another host' : formatMac(w.mac)}`,
      srcMac,
      ...(dstMac !== 0 ? { dstMac } : {}),
      srcIp: ipSrc,
      dstIp: ipDst,
    });
  }

  private learn(src: number, now: number, f: Frame): void {
    let i: number;
    // The last source is kept as two small integers: a 48-bit number stored in a field of this
    // object would cost a heap number per frame.
    const hi = macHi(src);
    const lo = macLo(src);
    if (hi === this.lastSrcHi && lo === this.lastSrcLo) i = this.lastSrcIndex;
    else {
      i = this.macs.add(hi, lo);
      this.last.ensure(i);
      this.lastFrame.ensure(i);
      this.inEpisode.ensure(i);
      this.lastSrcHi = hi;
      this.lastSrcLo = lo;
      this.lastSrcIndex = i;
    }
    if (this.inEpisode.data[i] === 1) {
      // The MAC speaks again: the bridge re-learns it and the flood episode ends here.
      this.floods.get(src)!.sample.add({ frame: f.frameNo, tsSec: f.tsSec, tsNs: f.tsNs, what: 'the MAC sends again: the bridge re-learns it and stops flooding', srcMac: src });
      this.inEpisode.data[i] = 0;
    }
    this.last.data[i] = now;
    this.lastFrame.data[i] = f.frameNo;
    if ((f.layers & Layer.ARP) !== 0) {
      if (f.arpOp === 1) this.arpAsked.set(f.arpTargetIp, now);
      if (f.arpSenderIp !== 0) {
        const ips = this.arpIps.get(i) ?? [];
        if (!ips.includes(f.arpSenderIp) && ips.length < 8) ips.push(f.arpSenderIp);
        this.arpIps.set(i, ips);
      }
    }
  }

  private agg(mac: number, f: { sec: number; ns: number }): FloodAgg {
    let a = this.floods.get(mac);
    if (!a) {
      a = { mac, agedOut: 0, refusedByOthers: 0, refusingMacs: [], foreign: 0, foreignAlsoAged: 0, episodes: 0, maxSilence: 0, ips: [], episodesWithoutArp: 0, firstSec: f.sec, firstNs: f.ns, lastSec: f.sec, lastNs: f.ns, sample: new EvidenceSample(12) };
      this.floods.set(mac, a);
    }
    widenRange(a, f.sec, f.ns, f.sec, f.ns);
    return a;
  }

  private agedOutFrame(dst: number, j: number, silence: number, now: number, f: Frame): void {
    const a = this.agg(dst, { sec: f.tsSec, ns: f.tsNs });
    a.agedOut++;
    if (silence > a.maxSilence) a.maxSilence = silence;
    const ip = (f.layers & Layer.IPV4) !== 0 ? f.ipDst : 0;
    if (ip !== 0 && !a.ips.includes(ip) && a.ips.length < 8) a.ips.push(ip);
    if (this.inEpisode.data[j] !== 1) {
      this.inEpisode.data[j] = 1;
      a.episodes++;
      const candidates = (this.arpIps.get(j) ?? []).concat(ip !== 0 ? [ip] : []);
      const asked = candidates.some((x) => {
        const t = this.arpAsked.get(x);
        return t !== undefined && now - t <= this.ageing;
      });
      if (!asked) a.episodesWithoutArp++;
    }
    a.sample.add({
      frame: f.frameNo,
      tsSec: f.tsSec,
      tsNs: f.tsNs,
      what: `unicast to a MAC silent for ${formatDuration(silence)} (last sent in frame ${this.lastFrame.data[j]}): flooded`,
      srcMac: f.srcMac,
      dstMac: dst,
      ...((f.layers & Layer.IPV4) !== 0 ? { srcIp: f.ipSrc, dstIp: f.ipDst } : {}),
    });
  }

  private foreignFrame(dst: number, src: number, frame: number, sec: number, ns: number, ip: number, aged: boolean): void {
    const a = this.agg(dst, { sec, ns });
    a.foreign++;
    if (aged) {
      // Already counted and shown as aged out: one flooded frame, one count, one evidence line.
      a.foreignAlsoAged++;
      return;
    }
    if (ip !== 0 && !a.ips.includes(ip) && a.ips.length < 8) a.ips.push(ip);
    a.sample.add({
      frame,
      tsSec: sec,
      tsNs: ns,
      what: dst === 0 ? 'the kernel marked this frame "to another host": it reached the capture point flooded' : 'unicast addressed to another host reached the capture point',
      srcMac: src,
      ...(dst !== 0 ? { dstMac: dst } : {}),
      ...(ip !== 0 ? { dstIp: ip } : {}),
    });
  }

  /** One MAC in nearly every unicast frame is the capture host's; then replay the buffered frames. */
  private decideHost(): void {
    this.hostDecided = true;
    const counts = new Map<number, number>();
    for (let i = 0; i < this.pending; i++) {
      counts.set(this.pendSrc[i]!, (counts.get(this.pendSrc[i]!) ?? 0) + 1);
      if (this.pendDst[i] !== this.pendSrc[i]) counts.set(this.pendDst[i]!, (counts.get(this.pendDst[i]!) ?? 0) + 1);
    }
    let best = -1;
    let bestCount = 0;
    for (const [mac, n] of counts) {
      if (n > bestCount || (n === bestCount && mac < best)) {
        best = mac;
        bestCount = n;
      }
    }
    if (this.pending >= HOST_MIN_FRAMES && bestCount >= HOST_SHARE * this.pending) this.hostMac = best;
    if (this.hostMac !== null) {
      // Replayed in order, refusals included: each buffered refusal is matched against the foreign
      // frames replayed before it.
      for (let i = 0; i < this.pending; i++) {
        const src = this.pendSrc[i]!;
        const dst = this.pendDst[i]!;
        const sec = this.pendSec[i]!;
        const ns = this.pendNs[i]!;
        if (this.pendRefusal[i] !== Refusal.NONE && this.awaiting.size > 0) this.checkRefusal(src, dst, this.pendIpSrc[i]!, this.pendIp[i]!, this.pendRefusal[i]!, this.pendFrame[i]!, sec, ns);
        if (src === this.hostMac || dst === this.hostMac) continue;
        this.foreignFrame(dst, src, this.pendFrame[i]!, sec, ns, this.pendIp[i]!, this.pendAged[i] === 1);
        if (this.pendIsIp[i] === 1) this.await(this.pendIpSrc[i]!, this.pendIp[i]!, dst, this.pendFrame[i]!, sec + ns * 1e-9);
      }
    }
    this.pending = 0;
  }

  partial(): Partial {
    if (!this.hostDecided) this.decideHost();
    const floods = [...this.floods.values()]
      .filter((a) => a.agedOut > 0 || a.foreign > 0)
      .sort((a, b) => a.mac - b.mac)
      .map((a) => ({ ...a, sample: a.sample.toJSON() }));
    return { ageing: this.ageing, hostMac: this.hostMac, floods };
  }
}

function isGroup(mac: number): boolean {
  return ((Math.floor(mac / TWO32) >>> 8) & 1) === 1;
}

function reduce(partials: readonly unknown[], ctx: ReduceContext): Finding[] {
  const p = partials[0] as Partial | undefined;
  if (!p) return [];
  const mediumFrames = ctx.options['flood-medium-frames']!;
  return p.floods.map((a) => {
    const mac = a.mac === 0 ? 'other hosts (cooked capture)' : formatMac(a.mac);
    const ips = a.ips.map(formatIpv4);
    const count = a.agedOut + a.foreign - a.foreignAlsoAged;
    const parts: string[] = [];
    if (a.agedOut > 0) parts.push(`${a.agedOut} frame(s) flooded after ${formatDuration(a.maxSilence)} of silence (bridge ageing ${formatDuration(p.ageing)})`);
    if (a.foreign > 0) parts.push(`${a.foreign} frame(s) for it reached this capture point, which is not its host`);
    const refusers = a.refusingMacs.map(formatMac).join(', ');
    if (a.refusedByOthers > 0) parts.push(`${refusers} refused ${a.refusedByOthers} of them in its name (forged RST or ICMP unreachable)`);
    const summary = `${mac}${ips.length ? ` (${ips.join(', ')})` : ''}: ${parts.join('; ')}`;
    const noArp =
      a.episodes > 0 && a.episodesWithoutArp > 0
        ? ` In ${a.episodesWithoutArp} of ${a.episodes} episode(s) nobody asked ARP for its address first: the sender used a cached ARP entry that outlived the bridge's table.`
        : '';
    const explanation =
      (a.agedOut > 0
        ? `This MAC sent nothing for longer than the bridge's ageing time, so a learning bridge has forgotten which port it is on and floods unicast frames for it to every port, until it sends again.${noArp} `
        : '') +
      (a.foreign > 0
        ? `Unicast frames addressed to ${mac} arrived at the capture point${p.hostMac !== null ? ` (whose own MAC is ${formatMac(p.hostMac)})` : ''}: a switch or bridge flooded them here. `
        : '') +
      (a.refusedByOthers > 0
        ? `Here it did harm: ${refusers} answered ${a.refusedByOthers} frame(s) addressed to ${mac} with a refusal in the addressee's name — a firewall with a REJECT policy (or an iptables REJECT on a bridge) that received the flooded frames. The client gets that refusal, often before the real host's answer: "connection refused" at random (incident 1). `
        : '') +
      'Every host on the segment then sees traffic that is not for it: a firewall there with a REJECT policy answers it with forged RSTs or ICMP errors (one SYN, two answers), a NIC in promiscuous mode passes it up, and bandwidth is wasted. Quiet servers (a bastion, a backup target) are the usual victims. The model only sees what this capture saw: the bridge may have heard the MAC on other ports.';
    const remediation =
      'Make the bridge remember the MAC at least as long as routers remember its ARP entry: raise the ageing time (`ip link set dev br0 type bridge ageing_time 360000`, in centiseconds), or lower the router\'s ARP lifetime (`net.ipv4.neigh.<if>.base_reachable_time_ms`, `gc_stale_time`); ' +
      'keep the host talking (a periodic gratuitous ARP: `arping -U -c 1 -I <if> <ip>` from cron, every less than the ageing time); ' +
      `pin it in the forwarding table (\`bridge fdb add ${a.mac === 0 ? '<mac>' : formatMac(a.mac)} dev <port> master static\`; on switches, a static MAC entry); ` +
      'and use a DROP (not REJECT) policy on firewalls that may receive flooded frames.';
    // A bridge floods a frame now and then by design; it matters when it is heavy, or when it
    // causes harm (correlate() raises it to the severity of the conflict it explains).
    return makeFinding({
      id: ID,
      severity: count >= mediumFrames || a.refusedByOthers > 0 ? 'medium' : 'low',
      subject: mac,
      summary,
      count,
      first: { sec: a.firstSec, ns: a.firstNs },
      last: { sec: a.lastSec, ns: a.lastNs },
      evidence: a.sample.items,
      evidenceTotal: a.sample.total,
      explanation,
      remediation,
      details: {
        mac,
        agedOutFrames: a.agedOut,
        seenAtCapturePoint: a.foreign,
        refusedByOthers: a.refusedByOthers,
        refusingMacs: a.refusingMacs.map(formatMac),
        episodes: a.episodes,
        episodesWithoutArp: a.episodesWithoutArp,
        maxSilenceSeconds: Math.round(a.maxSilence * 1000) / 1000,
        ips,
        fdbAgeingSeconds: p.ageing,
        captureHostMac: p.hostMac !== null ? formatMac(p.hostMac) : null,
      },
    });
  });
}

export const l2UnknownUnicastFlood: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: OPTIONS,
  createLink: (o: OptionValues) => new FloodDetector(o['fdb-ageing']!, o['host-mac']!),
  reduce,
};
