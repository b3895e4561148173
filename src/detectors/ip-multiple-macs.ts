/**
 * ip.multiple_macs: a local IPv4 address (one that ARP announced: an ARP sender IP) is the
 * source of IPv4 frames from more than one source MAC, and at least one of them came from a MAC
 * other than the one ARP had bound the address to at that moment. Many IPs behind one router
 * MAC is normal (remote addresses never appear as ARP senders) and an announced move (gratuitous
 * ARP, then traffic from the new MAC) matches the binding, so neither fires.
 */
import { ArpOp } from '../decode/arp.js';
import { Layer, type Frame } from '../decode/frame.js';
import { formatIpv4, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EVIDENCE_SAMPLE, EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { MAX_IPS_OPTION, OPT_MAX_IPS } from './arp-table.js';
import { addToSpanRow, mergeEvidence, plural, sampleFrame, scopeIpKey, Span, vlanScope, vlanSuffix } from './link-util.js';
import { F64Rows } from './rows.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'ip.multiple_macs';

const OPT_MIN = 'ip-multiple-macs-min-frames';
const PER_MAC_SAMPLE = 3;
/** Most MACs listed per address as ARP's bindings. */
const MAX_ARP_MACS = 8;

/** A source MAC of a reported address, as the reduce reads it. */
interface SrcMac {
  mac: number;
  frames: number;
  /** Frames from this MAC while ARP bound the address to another MAC. */
  mismatched: number;
  span: Span;
  sample: EvidenceSample;
}

/** A local address with something to report (built from its rows by `partial`). */
interface Local {
  key: number;
  vlan: number;
  ip: number;
  /** Every MAC ARP named (a few). */
  arpMacs: number[];
  srcs: SrcMac[];
  mismatched: number;
  mismatchSpan: Span;
  mismatchSample: EvidenceSample;
}

interface Partial {
  locals: Local[];
}

/**
 * Columns of a local address's row. Times and frames of a span: first and last, as Span holds
 * them. The run: consecutive frames from one MAC, counted here and added to that MAC's row when
 * another MAC appears (or at the end), so that the common frame touches only this row.
 */
const enum A {
  VLAN = 0,
  IP = 1,
  /** The MAC the last ARP claim named, and the first one (arpMacs[0]). */
  ARP_MAC = 2,
  FIRST_ARP_MAC = 3,
  /** Row of the first source MAC (-1: none yet); the others follow through M.NEXT. */
  FIRST_SRC = 4,
  /** Row of the run's source MAC (-1: no run), its MAC, frames, last frame and time. */
  RUN_SRC = 5,
  RUN_MAC = 6,
  RUN_FRAMES = 7,
  RUN_LAST_FRAME = 8,
  RUN_LAST_SEC = 9,
  RUN_LAST_NS = 10,
  /** Frames the run's MAC sample still takes (frames arrive in order: the first ones are the lowest). */
  RUN_SAMPLE_ROOM = 11,
  MISMATCHED = 12,
  MISMATCH_FIRST_SEC = 13,
  MISMATCH_FIRST_NS = 14,
  MISMATCH_FIRST_FRAME = 15,
  MISMATCH_LAST_SEC = 16,
  MISMATCH_LAST_NS = 17,
  MISMATCH_LAST_FRAME = 18,
  WIDTH = 19,
}

/** Columns of a source MAC's row, then PER_MAC_SAMPLE sampled frames of S.WIDTH columns. */
const enum M {
  LOCAL = 0,
  MAC = 1,
  FRAMES = 2,
  MISMATCHED = 3,
  /** Next source MAC of the same address (-1: last). */
  NEXT = 4,
  FIRST_SEC = 5,
  FIRST_NS = 6,
  FIRST_FRAME = 7,
  LAST_SEC = 8,
  LAST_NS = 9,
  LAST_FRAME = 10,
  SAMPLED = 11,
  SAMPLE = 12,
  WIDTH = SAMPLE + PER_MAC_SAMPLE * 5,
}

/** Columns of a sampled frame: what frameItem(f, 'IPv4', true) would hold besides the MAC and address. */
const enum S {
  FRAME = 0,
  TS_SEC = 1,
  TS_NS = 2,
  /** The destination MAC; -1 when the link has none (Linux cooked capture), -2 when no MAC at all. */
  DST_MAC = 3,
  DST_IP = 4,
  WIDTH = 5,
}

/**
 * Per local address (one that ARP announced) and per source MAC of it, a row of numbers: a LAN
 * of thousands of hosts costs a few hundred bytes each, and no object survives per address on
 * the reader thread (objects kept per address made V8 grow that thread's young generation to its
 * 32 MB maximum). Objects are built only for the addresses that `partial` reports.
 */
class MultipleMacsLink implements LinkDetector {
  readonly interest = FrameClass.ARP | FrameClass.IPV4;
  /** Address key (VLAN scope + IP) -> row of `addrs`. */
  private readonly locals = new Map<number, number>();
  private readonly addrs = new F64Rows(A.WIDTH);
  private readonly macs = new F64Rows(M.WIDTH);
  /** ARP MACs after the first, per row (rare: an address that moved). */
  private readonly moreArpMacs = new Map<number, number[]>();
  /** The first mismatching frames, per row (rare). */
  private readonly mismatchSamples = new Map<number, EvidenceSample>();
  /**
   * Direct-mapped by a 16-bit hash of the address: its row + 1, or -1 when several local
   * addresses share the bucket (then the Map decides). Most IPv4 frames are settled by one array
   * load, without building the numeric key or hashing it in a Map.
   */
  private readonly bucket = new Int32Array(65536);
  /** One bit per bucket (8 KB, stays in the L1 cache): frames from remote addresses stop here. */
  private readonly used = new Int32Array(2048);

  constructor(private readonly maxIps: number) {}

  onFrame(f: Frame): void {
    if ((f.layers & Layer.ARP) !== 0) {
      this.learn(f);
      return;
    }
    const ip = f.ipSrc;
    const h = (ip ^ (ip >>> 16)) & 0xffff;
    if ((this.used[h >>> 5]! & (1 << (h & 31))) === 0) return;
    const b = this.bucket[h]!;
    if (b === 0) return;
    let e: number;
    if (b > 0) {
      e = b - 1;
      const d = this.addrs.data;
      if (d[e * A.WIDTH + A.IP] !== ip || d[e * A.WIDTH + A.VLAN] !== vlanScope(f)) return;
    } else {
      const r = this.locals.get(scopeIpKey(vlanScope(f), ip));
      if (r === undefined) return;
      e = r;
    }
    const d = this.addrs.data;
    const at = e * A.WIDTH;
    const mac = f.srcMac;
    if (mac === d[at + A.RUN_MAC] && d[at + A.RUN_SAMPLE_ROOM] === 0) {
      d[at + A.RUN_FRAMES]++;
      d[at + A.RUN_LAST_FRAME] = f.frameNo;
      d[at + A.RUN_LAST_SEC] = f.tsSec;
      d[at + A.RUN_LAST_NS] = f.tsNs;
    } else this.startOrSample(e, mac, f);
    if (mac !== d[at + A.ARP_MAC]) this.mismatch(e, f);
  }

  /** A frame that starts a run (another MAC than the last one) or that the run's sample keeps. */
  private startOrSample(e: number, mac: number, f: Frame): void {
    const d = this.addrs.data;
    const at = e * A.WIDTH;
    if (mac !== d[at + A.RUN_MAC] || d[at + A.RUN_SRC] < 0) {
      this.flushRun(e);
      let s = -1;
      let last = -1;
      const m = this.macs.data;
      for (let x = d[at + A.FIRST_SRC]!; x >= 0; x = m[x * M.WIDTH + M.NEXT]!) {
        if (m[x * M.WIDTH + M.MAC] === mac) s = x;
        last = x;
      }
      if (s < 0) s = this.addSrc(e, mac, last);
      d[at + A.RUN_SRC] = s;
      d[at + A.RUN_MAC] = mac;
    }
    const m = this.macs.data;
    const sb = d[at + A.RUN_SRC]! * M.WIDTH;
    // Counted directly (not in the run): the span's first frame is set here.
    addToSpanRow(m, sb + M.FIRST_SEC, m[sb + M.FRAMES]!, f);
    m[sb + M.FRAMES]++;
    const sampled = m[sb + M.SAMPLED]!;
    if (sampled < PER_MAC_SAMPLE) {
      const it = sb + M.SAMPLE + sampled * S.WIDTH;
      m[it + S.FRAME] = f.frameNo;
      m[it + S.TS_SEC] = f.tsSec;
      m[it + S.TS_NS] = f.tsNs;
      m[it + S.DST_MAC] = (f.layers & Layer.ETHERNET) !== 0 ? f.dstMac : (f.layers & Layer.SLL) !== 0 ? -1 : -2;
      m[it + S.DST_IP] = f.ipDst;
      m[sb + M.SAMPLED] = sampled + 1;
    }
    d[at + A.RUN_SAMPLE_ROOM] = Math.max(0, PER_MAC_SAMPLE - m[sb + M.SAMPLED]!);
  }

  /** A frame from a MAC other than the one ARP binds the address to. */
  private mismatch(e: number, f: Frame): void {
    const d = this.addrs.data;
    const at = e * A.WIDTH;
    this.macs.data[d[at + A.RUN_SRC]! * M.WIDTH + M.MISMATCHED]++;
    addToSpanRow(d, at + A.MISMATCH_FIRST_SEC, d[at + A.MISMATCHED]!, f);
    d[at + A.MISMATCHED]++;
    // Frames arrive in order: once the sample is full, it keeps no later one.
    if (d[at + A.MISMATCHED]! <= EVIDENCE_SAMPLE) {
      let s = this.mismatchSamples.get(e);
      if (s === undefined) this.mismatchSamples.set(e, (s = new EvidenceSample()));
      sampleFrame(s, f, 'mismatch', true);
    }
  }

  /** Appends a source MAC row for address row `e`, after row `last` (-1: the first). */
  private addSrc(e: number, mac: number, last: number): number {
    const sb = this.macs.append();
    const m = this.macs.data;
    m[sb + M.LOCAL] = e;
    m[sb + M.MAC] = mac;
    m[sb + M.NEXT] = -1;
    const s = sb / M.WIDTH;
    if (last < 0) this.addrs.data[e * A.WIDTH + A.FIRST_SRC] = s;
    else m[last * M.WIDTH + M.NEXT] = s;
    return s;
  }

  /** Adds the frames counted in the address's current run to its MAC's row. */
  private flushRun(e: number): void {
    const d = this.addrs.data;
    const at = e * A.WIDTH;
    const s = d[at + A.RUN_SRC]!;
    const n = d[at + A.RUN_FRAMES]!;
    if (s < 0 || n === 0) return;
    const m = this.macs.data;
    const sb = s * M.WIDTH;
    m[sb + M.FRAMES] += n;
    m[sb + M.LAST_FRAME] = d[at + A.RUN_LAST_FRAME]!;
    m[sb + M.LAST_SEC] = d[at + A.RUN_LAST_SEC]!;
    m[sb + M.LAST_NS] = d[at + A.RUN_LAST_NS]!;
    d[at + A.RUN_FRAMES] = 0;
  }

  private learn(f: Frame): void {
    const ip = f.arpSenderIp;
    const mac = f.arpSenderMac;
    if (ip === 0 || mac === 0 || (f.arpOp !== ArpOp.REQUEST && f.arpOp !== ArpOp.REPLY)) return;
    const vlan = vlanScope(f);
    const key = scopeIpKey(vlan, ip);
    const e = this.locals.get(key);
    if (e !== undefined) {
      const d = this.addrs.data;
      if (d[e * A.WIDTH + A.ARP_MAC] !== mac) {
        d[e * A.WIDTH + A.ARP_MAC] = mac;
        const more = this.moreArpMacs.get(e) ?? [];
        if (1 + more.length < MAX_ARP_MACS && d[e * A.WIDTH + A.FIRST_ARP_MAC] !== mac && !more.includes(mac)) {
          more.push(mac);
          this.moreArpMacs.set(e, more);
        }
      }
      return;
    }
    if (this.locals.size >= this.maxIps) return;
    const at = this.addrs.append();
    const row = at / A.WIDTH;
    const d = this.addrs.data;
    d[at + A.VLAN] = vlan;
    d[at + A.IP] = ip;
    d[at + A.ARP_MAC] = mac;
    d[at + A.FIRST_ARP_MAC] = mac;
    d[at + A.FIRST_SRC] = -1;
    d[at + A.RUN_SRC] = -1;
    d[at + A.RUN_MAC] = -1;
    this.locals.set(key, row);
    const h = (ip ^ (ip >>> 16)) & 0xffff;
    this.bucket[h] = this.bucket[h] === 0 ? row + 1 : -1;
    this.used[h >>> 5]! |= 1 << (h & 31);
  }

  partial(): Partial {
    const locals: Local[] = [];
    for (const [key, e] of this.locals) {
      this.flushRun(e);
      const d = this.addrs.data;
      const at = e * A.WIDTH;
      const m = this.macs.data;
      const first = d[at + A.FIRST_SRC]!;
      if (d[at + A.MISMATCHED] === 0 || first < 0 || m[first * M.WIDTH + M.NEXT]! < 0) continue;
      const ip = d[at + A.IP]!;
      const srcs: SrcMac[] = [];
      for (let x = first; x >= 0; x = m[x * M.WIDTH + M.NEXT]!) srcs.push(this.srcMac(x, ip));
      locals.push({
        key,
        vlan: d[at + A.VLAN]!,
        ip,
        arpMacs: [d[at + A.FIRST_ARP_MAC]!, ...(this.moreArpMacs.get(e) ?? [])],
        srcs,
        mismatched: d[at + A.MISMATCHED]!,
        mismatchSpan: new Span().setFrom(d[at + A.MISMATCHED]!, d, at + A.MISMATCH_FIRST_SEC),
        mismatchSample: this.mismatchSamples.get(e)!,
      });
    }
    return { locals };
  }

  /** The reduce's view of source MAC row `x` of address `ip`. */
  private srcMac(x: number, ip: number): SrcMac {
    const m = this.macs.data;
    const sb = x * M.WIDTH;
    const mac = m[sb + M.MAC]!;
    const sample = new EvidenceSample(PER_MAC_SAMPLE);
    for (let i = 0; i < m[sb + M.SAMPLED]!; i++) {
      const it = sb + M.SAMPLE + i * S.WIDTH;
      const item: EvidenceItem = { frame: m[it + S.FRAME]!, tsSec: m[it + S.TS_SEC]!, tsNs: m[it + S.TS_NS]!, what: 'IPv4' };
      const dstMac = m[it + S.DST_MAC]!;
      if (dstMac !== -2) item.srcMac = mac;
      if (dstMac >= 0) item.dstMac = dstMac;
      item.srcIp = ip;
      item.dstIp = m[it + S.DST_IP]!;
      sample.items.push(item);
    }
    return { mac, frames: m[sb + M.FRAMES]!, mismatched: m[sb + M.MISMATCHED]!, span: new Span().setFrom(m[sb + M.FRAMES]!, m, sb + M.FIRST_SEC), sample };
  }
}


export const ipMultipleMacsDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    MAX_IPS_OPTION,
    {
      key: OPT_MIN,
      description: 'IPv4 frames from a MAC other than the one ARP bound the address to, before ip.multiple_macs reports the address',
      default: 1,
      min: 1,
      max: 1e9,
      unit: 'frames',
      integer: true,
    },
  ],
  createLink(options: OptionValues): LinkDetector {
    return new MultipleMacsLink(options[OPT_MAX_IPS] ?? MAX_IPS_OPTION.default);
  },
  reduce(partials, ctx): Finding[] {
    const min = ctx.options[OPT_MIN] ?? 1;
    const locals = (partials as Partial[])
      .flatMap((p) => p.locals)
      .filter((e) => e.mismatched >= min)
      .sort((a, b) => a.key - b.key);
    return locals.map((e) => {
      const ip = formatIpv4(e.ip);
      const srcs = [...e.srcs].sort((a, b) => a.span.firstFrame - b.span.firstFrame);
      const arpText = e.arpMacs.map(formatMac).join(', ');
      const macText = srcs.map((s) => `${formatMac(s.mac)} (${plural(s.frames, 'frame')}${s.mismatched > 0 ? `, ${s.mismatched} while ARP said another MAC` : ''})`).join(', ');
      const evidence = mergeEvidence(
        e.mismatchSample.items.map((it) => ({ ...it, what: `IPv4 from ${ip} sent by ${formatMac(it.srcMac!)}, not the MAC ARP had for it` })),
        ...srcs.map((s) => s.sample.items.map((it) => ({ ...it, what: `IPv4 from ${ip} sent by ${formatMac(s.mac)}` }))),
      );
      return makeFinding({
        id: ID,
        severity: 'medium',
        subject: `${ip}${vlanSuffix(e.vlan)}`,
        summary: `IPv4 from ${ip} came from ${plural(srcs.length, 'MAC')}: ${macText}; ARP announced it at ${arpText}`,
        count: e.mismatched,
        first: e.mismatchSpan.first(),
        last: e.mismatchSpan.last(),
        evidence,
        evidenceTotal: srcs.reduce((n, s) => n + s.frames, 0),
        explanation:
          `${ip} is a local address (ARP announced it), yet its IPv4 packets arrive from more than one Ethernet source, some from a MAC that ARP did not bind it to at the time. ` +
          'Either two machines use the address (an IP conflict: a duplicate static address, a cloned VM, both nodes of a failover pair active), or a device sends packets in its name: a firewall or hypervisor answering for it (an iptables REJECT on a bridge forging the RST with the server\'s IP, as in incident 1), a router or NAT hairpinning its traffic back into the segment, a host moved behind a bridge, or spoofing. ' +
          'With LVS direct routing it is by design: the real servers answer from their own MACs with the virtual IP that ARP binds to the director. ' +
          'One MAC carrying many IPs (a router) is normal and is not reported; this is the opposite: one IP behind several MACs.',
        remediation:
          `List the MACs and find their ports (\`show mac address-table address <mac>\`, \`bridge fdb show | grep -i <mac>\`); check with \`arping -I <if> -c 3 ${ip}\` whether two stations answer. ` +
          'If it is a conflict, give one machine another address (fix the static configuration or DHCP reservation). If a firewall forges packets in the host\'s name (REJECT with tcp-reset on a bridge), make it DROP or only filter traffic addressed to itself; if a router hairpins, fix the route or NAT rule; against spoofing, enable IP source guard / dynamic ARP inspection on the switch.',
        details: {
          ip,
          vlan: e.vlan,
          arpMacs: e.arpMacs.map(formatMac),
          mismatchedFrames: e.mismatched,
          macs: srcs.map((s) => ({ mac: formatMac(s.mac), frames: s.frames, mismatched: s.mismatched, firstFrame: s.span.firstFrame, lastFrame: s.span.lastFrame })),
        },
      });
    });
  },
};
