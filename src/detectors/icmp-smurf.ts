/**
 * icmp.smurf: ICMP echo requests to a broadcast or multicast address (IPv4 255.255.255.255,
 * 224.0.0.0/4, or a group destination MAC, which is how a directed broadcast such as
 * 192.0.2.255 looks on its segment). One finding per source IP, with the hosts that answered
 * (the amplification). Medium when the peak rate reaches `smurf-medium-rate`, else low.
 */
import { Layer, type Frame } from '../decode/frame.js';
import { IcmpType } from '../decode/icmp.js';
import { formatIpv4, formatMac, formatTimestamp } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding } from './finding.js';
import { isGroupMac, mergeEvidence, plural, sampleFrame, Span } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'icmp.smurf';

const OPT_RATE = 'smurf-medium-rate';
const MAX_RESPONDERS = 4096;

interface Entry {
  src: number;
  span: Span;
  sample: EvidenceSample;
  /** Destination IPs and MACs (a few). */
  dstIps: number[];
  dstMacs: number[];
  bucket: number;
  bucketCount: number;
  peak: number;
  peakBucket: number;
  /** Identifier and sequence of the last request, to match its replies. */
  lastId: number;
  lastSeq: number;
  replies: number;
  responders: Set<number>;
  replySample: EvidenceSample;
}

interface Partial {
  entries: Entry[];
}

function toGroup(f: Frame): boolean {
  const d = f.ipDst;
  if (d === 0xffffffff || d >>> 28 === 0xe) return true;
  if ((f.layers & Layer.ETHERNET) !== 0) return isGroupMac(f.dstMac);
  // Linux cooked capture: packet type 1 = broadcast, 2 = multicast.
  return f.sllPacketType === 1 || f.sllPacketType === 2;
}

class SmurfLink implements LinkDetector {
  readonly interest = FrameClass.ICMP_ECHO_REQUEST | FrameClass.IPV4;
  private readonly bySrc = new Map<number, Entry>();

  onFrame(f: Frame): void {
    const type = f.icmpType;
    if (type === IcmpType.ECHO_REQUEST) {
      if (!toGroup(f)) return;
      this.request(f);
    } else if (type === IcmpType.ECHO_REPLY && this.bySrc.size !== 0) {
      const e = this.bySrc.get(f.ipDst);
      if (e === undefined || f.icmpId !== e.lastId || f.icmpSeq !== e.lastSeq) return;
      e.replies++;
      if (e.responders.size < MAX_RESPONDERS) e.responders.add(f.ipSrc);
      sampleFrame(e.replySample, f, 'reply', true);
    }
  }

  private request(f: Frame): void {
    const src = f.ipSrc;
    let e = this.bySrc.get(src);
    if (e === undefined) {
      e = {
        src,
        span: new Span(),
        sample: new EvidenceSample(),
        dstIps: [],
        dstMacs: [],
        bucket: -Infinity,
        bucketCount: 0,
        peak: 0,
        peakBucket: 0,
        lastId: -1,
        lastSeq: -1,
        replies: 0,
        responders: new Set(),
        replySample: new EvidenceSample(4),
      };
      this.bySrc.set(src, e);
    }
    e.span.add(f);
    if (e.dstIps.length < 8 && !e.dstIps.includes(f.ipDst)) e.dstIps.push(f.ipDst);
    if ((f.layers & Layer.ETHERNET) !== 0 && e.dstMacs.length < 8 && !e.dstMacs.includes(f.dstMac)) e.dstMacs.push(f.dstMac);
    if (f.tsSec !== e.bucket) {
      if (f.tsSec > e.bucket) {
        e.bucket = f.tsSec;
        e.bucketCount = 0;
      }
    }
    e.bucketCount++;
    if (e.bucketCount > e.peak) {
      e.peak = e.bucketCount;
      e.peakBucket = e.bucket;
    }
    e.lastId = f.icmpId;
    e.lastSeq = f.icmpSeq;
    sampleFrame(e.sample, f, 'request', true);
  }

  partial(): Partial {
    return { entries: [...this.bySrc.values()] };
  }
}

export const icmpSmurfDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    {
      key: OPT_RATE,
      description: 'echo requests per second from one source to broadcast/multicast addresses from which icmp.smurf is medium rather than low',
      default: 10,
      min: 1,
      max: 1e9,
      unit: 'per second',
      integer: true,
    },
  ],
  createLink(_options: OptionValues): LinkDetector {
    return new SmurfLink();
  },
  reduce(partials, ctx): Finding[] {
    const mediumRate = ctx.options[OPT_RATE] ?? 10;
    const entries = (partials as Partial[]).flatMap((p) => p.entries).sort((a, b) => a.src - b.src);
    return entries.map((e) => {
      const src = formatIpv4(e.src);
      const n = e.span.n;
      const dsts = [...e.dstIps].sort((a, b) => a - b).map(formatIpv4);
      const macs = [...e.dstMacs].sort((a, b) => a - b).map(formatMac);
      const responders = [...e.responders].sort((a, b) => a - b).map(formatIpv4);
      const answered =
        e.replies > 0 ? `answered by ${plural(e.responders.size, 'host')} (${responders.slice(0, 5).join(', ')}${responders.length > 5 ? ', ...' : ''}), ${plural(e.replies, 'reply', 'replies')}` : 'no reply seen';
      const evidence = mergeEvidence(
        e.sample.items.map((it) => ({ ...it, what: `ICMP echo request to ${formatIpv4(it.dstIp!)}${it.dstMac !== undefined ? ` (MAC ${formatMac(it.dstMac)})` : ''}` })),
        e.replySample.items.map((it) => ({ ...it, what: `ICMP echo reply from ${formatIpv4(it.srcIp!)} to the broadcast ping` })),
      );
      return makeFinding({
        id: ID,
        severity: e.peak >= mediumRate ? 'medium' : 'low',
        subject: src,
        summary:
          `${src} sent ${plural(n, 'ICMP echo request')} to broadcast/multicast ${dsts.join(', ')}${macs.length ? ` (MAC ${macs.join(', ')})` : ''}, peak ${e.peak}/s; ${answered}`,
        count: n,
        first: e.span.first(),
        last: e.span.last(),
        evidence,
        evidenceTotal: e.sample.total + e.replySample.total,
        explanation:
          'An echo request to a broadcast or multicast address asks every host of the segment (or group) to answer. With a forged source address this is a smurf amplification attack: the source address - the victim - receives one reply from every answering host for each request. ' +
          'Without an attack it is a monitoring check or a person pinging the broadcast address to discover hosts (`ping -b`). ' +
          'Linux hosts ignore such requests by default (net.ipv4.icmp_echo_ignore_broadcasts=1), and routers no longer forward directed broadcasts by default; the hosts that did answer are the amplifiers.',
        remediation:
          'On the hosts that answered: `sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=1` (persist it in /etc/sysctl.d/); on routers: `no ip directed-broadcast` on every interface; at the edge drop them: `iptables -A INPUT -p icmp --icmp-type echo-request -m addrtype --dst-type BROADCAST,MULTICAST -j DROP` (nft: `fib daddr type { broadcast, multicast } icmp type echo-request drop`). ' +
          `Find the sender (\`ip neigh show ${src}\`, its MAC on the switch) and fix the check that pings a broadcast address; if ${src} is not the real sender (spoofed), trace the MAC the requests came from.`,
        details: {
          srcIp: src,
          requests: n,
          dstIps: dsts,
          dstMacs: macs,
          peakPerSecond: e.peak,
          peakSecond: formatTimestamp(e.peakBucket, 0),
          replies: e.replies,
          responders: responders.slice(0, 64),
          responderCount: e.responders.size,
        },
      });
    });
  },
};
