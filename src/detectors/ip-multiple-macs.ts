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
import { EvidenceSample, makeFinding } from './finding.js';
import { MAX_IPS_OPTION, OPT_MAX_IPS } from './arp-table.js';
import { mergeEvidence, plural, sampleFrame, scopeIpKey, Span, vlanScope, vlanSuffix } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'ip.multiple_macs';

const OPT_MIN = 'ip-multiple-macs-min-frames';
const PER_MAC_SAMPLE = 3;
/** A hash bucket shared by several local addresses. */
const COLLIDED = Symbol('collided');

interface SrcMac {
  mac: number;
  frames: number;
  /** Frames from this MAC while ARP bound the address to another MAC. */
  mismatched: number;
  span: Span;
  sample: EvidenceSample;
}

interface Local {
  key: number;
  vlan: number;
  ip: number;
  /** The MAC the last ARP claim named, and every MAC ARP named (a few). */
  arpMac: number;
  arpMacs: number[];
  srcs: SrcMac[];
  /**
   * The current run of consecutive frames from one MAC, counted here and added to its SrcMac when
   * another MAC appears (or at the end): the common frame touches only this object.
   */
  run: SrcMac | null;
  runMac: number;
  runFrames: number;
  runLastFrame: number;
  runLastSec: number;
  runLastNs: number;
  /** Frames the run's sample still takes (frames arrive in order: the first ones are the lowest). */
  runSampleRoom: number;
  mismatched: number;
  mismatchSpan: Span;
  mismatchSample: EvidenceSample;
}

interface Partial {
  locals: Local[];
}

/** Adds the frames counted in the local's current run to its SrcMac. */
function flushRun(e: Local): void {
  const s = e.run;
  if (s === null || e.runFrames === 0) return;
  s.frames += e.runFrames;
  s.span.n += e.runFrames;
  s.span.lastFrame = e.runLastFrame;
  s.span.lastSec = e.runLastSec;
  s.span.lastNs = e.runLastNs;
  e.runFrames = 0;
}

class MultipleMacsLink implements LinkDetector {
  readonly interest = FrameClass.ARP | FrameClass.IPV4;
  private readonly locals = new Map<number, Local>();
  /**
   * Direct-mapped by a 16-bit hash of the address: the one local address in that bucket, or
   * COLLIDED when several share it (then the Map decides). Most IPv4 frames are settled by one
   * array load, without building the numeric key or hashing it in a Map.
   */
  private readonly bucket: Array<Local | typeof COLLIDED | undefined> = new Array(65536).fill(undefined);
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
    const b = this.bucket[h];
    if (b === undefined) return;
    let e: Local | undefined;
    if (b !== COLLIDED) {
      if (b.ip !== ip || b.vlan !== vlanScope(f)) return;
      e = b;
    } else {
      e = this.locals.get(scopeIpKey(vlanScope(f), ip));
      if (e === undefined) return;
    }
    const mac = f.srcMac;
    if (mac === e.runMac && e.runSampleRoom === 0) {
      e.runFrames++;
      e.runLastFrame = f.frameNo;
      e.runLastSec = f.tsSec;
      e.runLastNs = f.tsNs;
    } else this.startOrSample(e, mac, f);
    if (mac !== e.arpMac) {
      e.run!.mismatched++;
      e.mismatched++;
      e.mismatchSpan.add(f);
      sampleFrame(e.mismatchSample, f, 'mismatch', true);
    }
  }

  /** A frame that starts a run (another MAC than the last one) or that the run's sample keeps. */
  private startOrSample(e: Local, mac: number, f: Frame): void {
    if (mac !== e.runMac || e.run === null) {
      flushRun(e);
      let s: SrcMac | null = null;
      for (const x of e.srcs) if (x.mac === mac) s = x;
      if (s === null) {
        s = { mac, frames: 0, mismatched: 0, span: new Span(), sample: new EvidenceSample(PER_MAC_SAMPLE) };
        e.srcs.push(s);
      }
      e.run = s;
      e.runMac = mac;
    }
    const s = e.run;
    // Counted directly (not in the run): the span's first frame is set here.
    s.frames++;
    s.span.add(f);
    sampleFrame(s.sample, f, 'IPv4', true, false, PER_MAC_SAMPLE);
    e.runSampleRoom = Math.max(0, PER_MAC_SAMPLE - s.sample.items.length);
  }

  private learn(f: Frame): void {
    const ip = f.arpSenderIp;
    const mac = f.arpSenderMac;
    if (ip === 0 || mac === 0 || (f.arpOp !== ArpOp.REQUEST && f.arpOp !== ArpOp.REPLY)) return;
    const key = scopeIpKey(vlanScope(f), ip);
    const e = this.locals.get(key);
    if (e !== undefined) {
      if (e.arpMac !== mac) {
        e.arpMac = mac;
        if (e.arpMacs.length < 8 && !e.arpMacs.includes(mac)) e.arpMacs.push(mac);
      }
      return;
    }
    if (this.locals.size >= this.maxIps) return;
    const local: Local = { key, vlan: vlanScope(f), ip, arpMac: mac, arpMacs: [mac], srcs: [], run: null, runMac: -1, runFrames: 0, runLastFrame: 0, runLastSec: 0, runLastNs: 0, runSampleRoom: 0, mismatched: 0, mismatchSpan: new Span(), mismatchSample: new EvidenceSample() };
    this.locals.set(key, local);
    const h = (ip ^ (ip >>> 16)) & 0xffff;
    this.bucket[h] = this.bucket[h] === undefined ? local : COLLIDED;
    this.used[h >>> 5]! |= 1 << (h & 31);
  }

  partial(): Partial {
    for (const e of this.locals.values()) flushRun(e);
    return { locals: [...this.locals.values()].filter((e) => e.srcs.length >= 2 && e.mismatched > 0) };
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
