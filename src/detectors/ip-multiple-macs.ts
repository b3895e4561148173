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
  last: SrcMac | null;
  mismatched: number;
  mismatchSpan: Span;
  mismatchSample: EvidenceSample;
}

interface Partial {
  locals: Local[];
}

class MultipleMacsLink implements LinkDetector {
  readonly interest = FrameClass.ARP | FrameClass.IPV4;
  private readonly locals = new Map<number, Local>();
  /** The last lookup (consecutive frames mostly come from one source): key and result. */
  private lastKey = -1;
  private lastLocal: Local | undefined = undefined;
  /** A 16-bit hash of every local address: most IPv4 frames are dismissed without a Map lookup. */
  private readonly seen = new Uint8Array(65536);

  constructor(private readonly maxIps: number) {}

  onFrame(f: Frame): void {
    if ((f.layers & Layer.ARP) !== 0) {
      this.learn(f);
      return;
    }
    const ip = f.ipSrc;
    if (this.seen[(ip ^ (ip >>> 16)) & 0xffff] === 0) return;
    const key = scopeIpKey(vlanScope(f), ip);
    let e: Local | undefined;
    if (key === this.lastKey) e = this.lastLocal;
    else {
      e = this.locals.get(key);
      this.lastKey = key;
      this.lastLocal = e;
    }
    if (e === undefined) return;
    const mac = f.srcMac;
    let s = e.last;
    if (s === null || s.mac !== mac) {
      s = null;
      for (const x of e.srcs) if (x.mac === mac) s = x;
      if (s === null) {
        s = { mac, frames: 0, mismatched: 0, span: new Span(), sample: new EvidenceSample(PER_MAC_SAMPLE) };
        e.srcs.push(s);
      }
      e.last = s;
    }
    s.frames++;
    s.span.add(f);
    sampleFrame(s.sample, f, 'IPv4', true, false, PER_MAC_SAMPLE);
    if (mac !== e.arpMac) {
      s.mismatched++;
      e.mismatched++;
      e.mismatchSpan.add(f);
      sampleFrame(e.mismatchSample, f, 'mismatch', true);
    }
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
    // A new local address: the cached miss may be for it.
    this.lastKey = -1;
    this.seen[(ip ^ (ip >>> 16)) & 0xffff] = 1;
    this.locals.set(key, { key, vlan: vlanScope(f), ip, arpMac: mac, arpMacs: [mac], srcs: [], last: null, mismatched: 0, mismatchSpan: new Span(), mismatchSample: new EvidenceSample() });
  }

  partial(): Partial {
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
