/**
 * arp.gratuitous (info): gratuitous ARPs / announcements (sender IP = target IP, request or
 * reply) per sender (IP, MAC): counts, times. Context for the ARP binding changes.
 */
import { ArpOp, isGratuitousArp } from '../decode/arp.js';
import type { Frame } from '../decode/frame.js';
import { formatIpv4, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding } from './finding.js';
import { MAX_IPS_OPTION, OPT_MAX_IPS } from './arp-table.js';
import { GapStats, plural, roundTo, sampleFrame, scopeIpKey, Span, vlanScope, vlanSuffix } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'arp.gratuitous';

const OPT_MIN = 'arp-gratuitous-min-frames';

interface Entry {
  key: number;
  vlan: number;
  ip: number;
  mac: number;
  requests: number;
  replies: number;
  span: Span;
  gaps: GapStats;
  sample: EvidenceSample;
}

interface Partial {
  entries: Entry[];
  ignored: number;
}

class GratuitousLink implements LinkDetector {
  readonly interest = FrameClass.ARP;
  private readonly byIp = new Map<number, Entry[]>();
  private readonly all: Entry[] = [];
  private last: Entry | null = null;
  private ignored = 0;

  constructor(private readonly maxIps: number) {}

  onFrame(f: Frame): void {
    if (!isGratuitousArp(f)) return;
    const op = f.arpOp;
    if (op !== ArpOp.REQUEST && op !== ArpOp.REPLY) return;
    const key = scopeIpKey(vlanScope(f), f.arpSenderIp);
    const mac = f.arpSenderMac;
    let e = this.last;
    if (e === null || e.key !== key || e.mac !== mac) {
      let list = this.byIp.get(key);
      e = null;
      if (list !== undefined) {
        for (const x of list) if (x.mac === mac) e = x;
      } else {
        if (this.byIp.size >= this.maxIps) {
          this.ignored++;
          return;
        }
        list = [];
        this.byIp.set(key, list);
      }
      if (e === null) {
        e = { key, vlan: vlanScope(f), ip: f.arpSenderIp, mac, requests: 0, replies: 0, span: new Span(), gaps: new GapStats(), sample: new EvidenceSample() };
        list.push(e);
        this.all.push(e);
      }
      this.last = e;
    }
    if (op === ArpOp.REQUEST) e.requests++;
    else e.replies++;
    e.span.add(f);
    e.gaps.add(f.tsSec, f.tsNs);
    sampleFrame(e.sample, f, op === ArpOp.REQUEST ? 'gratuitous ARP request' : 'gratuitous ARP reply');
  }

  partial(): Partial {
    return { entries: this.all, ignored: this.ignored };
  }
}

export const arpGratuitousDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    MAX_IPS_OPTION,
    {
      key: OPT_MIN,
      description: 'gratuitous ARPs from one sender (IP, MAC) before they are listed (arp.gratuitous, info)',
      default: 1,
      min: 1,
      max: 1e9,
      unit: 'frames',
      integer: true,
    },
  ],
  createLink(options: OptionValues): LinkDetector {
    return new GratuitousLink(options[OPT_MAX_IPS] ?? MAX_IPS_OPTION.default);
  },
  reduce(partials, ctx): Finding[] {
    const min = ctx.options[OPT_MIN] ?? 1;
    const entries = (partials as Partial[]).flatMap((p) => p.entries).filter((e) => e.span.n >= min);
    entries.sort((a, b) => a.key - b.key || a.mac - b.mac);
    return entries.map((e) => {
      const ip = formatIpv4(e.ip);
      const mac = formatMac(e.mac);
      const n = e.span.n;
      const period = e.gaps.describe(true);
      return makeFinding({
        id: ID,
        severity: 'info',
        subject: `${ip}${vlanSuffix(e.vlan)} at ${mac}`,
        summary:
          `${plural(n, 'gratuitous ARP')} from ${mac} announcing ${ip} (${plural(e.requests, 'request')}, ${plural(e.replies, 'reply', 'replies')}), frames ${e.span.firstFrame}-${e.span.lastFrame}` +
          (period ? `, ${period}` : ''),
        count: n,
        first: e.span.first(),
        last: e.span.last(),
        evidence: e.sample.items.map((it) => ({ ...it, srcIp: e.ip, dstIp: e.ip, what: `${it.what}: ${ip} is at ${mac}` })),
        evidenceTotal: e.sample.total,
        explanation:
          `A gratuitous ARP (sender IP = target IP, as a request - \`arping -U\`, RFC 5227 announcement - or as a reply - \`arping -A\`) tells every host on the segment "${ip} is at ${mac}" without being asked; hosts that have the address cached update their entry. ` +
          'Systems send them when an address is configured or an interface comes up, and failover software (keepalived/VRRP, Pacemaker, bonding, live migration) sends bursts of them to move traffic to the new MAC at once. Normal: listed as context for the ARP changes. ' +
          'A steady stream announcing an address the sender does not own is ARP spoofing.',
        remediation:
          `Nothing to fix when ${mac} owns ${ip}. If it should not, find it (\`show mac address-table address ${mac}\`, \`bridge fdb show | grep -i ${mac}\`); on the switch, DHCP snooping with dynamic ARP inspection drops forged announcements; Linux hosts only update existing entries from gratuitous ARPs (\`net.ipv4.conf.all.arp_accept=0\`, the default).`,
        details: { ip, vlan: e.vlan, mac, frames: n, requests: e.requests, replies: e.replies, interval: e.gaps.toJSON(), seconds: roundTo(e.span.seconds(), 9) },
      });
    });
  },
};
