/**
 * tcp.bad_flags: TCP segments with a flag combination no stack sends (NULL, SYN+FIN, SYN+RST,
 * Xmas FIN+PSH+URG, FIN without ACK): scans and crafted packets. One finding per (kind, source
 * IP): the source is what the engineer acts on (block it, find who runs the scan); the targets
 * (hosts, ports) are in the summary and details.
 */
import { Layer, TcpFlag, type Frame } from '../decode/frame.js';
import { formatIpv4, formatMac } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { frameItem, plural, skipItem, Span, wouldKeep } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'tcp.bad_flags';

const OPT_MIN = 'tcp-bad-flags-min-frames';

const FIN = TcpFlag.FIN;
const SYN = TcpFlag.SYN;
const RST = TcpFlag.RST;
const PSH = TcpFlag.PSH;
const ACK = TcpFlag.ACK;
const URG = TcpFlag.URG;

/** Kinds, in the order a segment is classified (the first that matches). */
export const BadFlagKind = { NULL: 0, SYN_FIN: 1, SYN_RST: 2, XMAS: 3, FIN_NO_ACK: 4 } as const;

const KINDS = [
  { code: 'null', short: 'NULL scan', name: 'NULL scan (no flag set)', iptables: 'iptables -A INPUT -p tcp --tcp-flags ALL NONE -j DROP', nft: "nft add rule inet filter input 'tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0 drop'", tool: 'nmap -sN' },
  { code: 'syn-fin', short: 'SYN+FIN', name: 'SYN+FIN', iptables: 'iptables -A INPUT -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP', nft: "nft add rule inet filter input 'tcp flags & (syn|fin) == syn|fin drop'", tool: 'crafted packets (hping3 -SF), OS fingerprinting' },
  { code: 'syn-rst', short: 'SYN+RST', name: 'SYN+RST', iptables: 'iptables -A INPUT -p tcp --tcp-flags SYN,RST SYN,RST -j DROP', nft: "nft add rule inet filter input 'tcp flags & (syn|rst) == syn|rst drop'", tool: 'crafted packets (hping3 -SR), IDS evasion' },
  { code: 'xmas', short: 'Xmas scan', name: 'Xmas scan (FIN+PSH+URG)', iptables: 'iptables -A INPUT -p tcp --tcp-flags ALL FIN,PSH,URG -j DROP', nft: "nft add rule inet filter input 'tcp flags & (fin|syn|rst|psh|ack|urg) == fin|psh|urg drop'", tool: 'nmap -sX' },
  { code: 'fin-no-ack', short: 'FIN scan', name: 'FIN without ACK (FIN scan)', iptables: 'iptables -A INPUT -p tcp --tcp-flags FIN,ACK FIN -j DROP', nft: "nft add rule inet filter input 'tcp flags & (fin|ack) == fin drop'", tool: 'nmap -sF' },
] as const;

/** The kind of an odd flag combination, or -1 for a normal one. */
export function badFlagKind(flags: number): number {
  const f = flags & 0x3f;
  if (f === 0) return BadFlagKind.NULL;
  if ((f & (SYN | FIN)) === (SYN | FIN)) return BadFlagKind.SYN_FIN;
  if ((f & (SYN | RST)) === (SYN | RST)) return BadFlagKind.SYN_RST;
  if ((f & (FIN | PSH | URG)) === (FIN | PSH | URG)) return BadFlagKind.XMAS;
  if ((f & FIN) !== 0 && (f & ACK) === 0) return BadFlagKind.FIN_NO_ACK;
  return -1;
}

const FLAG_LETTERS: ReadonlyArray<readonly [number, string]> = [
  [FIN, 'FIN'],
  [SYN, 'SYN'],
  [RST, 'RST'],
  [PSH, 'PSH'],
  [ACK, 'ACK'],
  [URG, 'URG'],
  [TcpFlag.ECE, 'ECE'],
  [TcpFlag.CWR, 'CWR'],
];

function flagText(flags: number): string {
  const names = FLAG_LETTERS.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
  return `${names.length ? names.join('+') : 'none'} (0x${flags.toString(16).padStart(3, '0')})`;
}

const MAX_TARGETS = 65536;
const LINK = Layer.ETHERNET | Layer.SLL;

interface FlagItem extends EvidenceItem {
  flags: number;
}

interface Entry {
  key: number;
  kind: number;
  src: number;
  span: Span;
  sample: EvidenceSample;
  dsts: Set<number>;
  ports: Set<number>;
  srcMacs: number[];
  flagValues: number[];
}

interface Partial {
  entries: Entry[];
}

class BadFlagsLink implements LinkDetector {
  readonly interest = FrameClass.TCP_ODD_FLAGS;
  private readonly entries = new Map<number, Entry>();
  private last: Entry | null = null;

  onFrame(f: Frame): void {
    const kind = badFlagKind(f.tcpFlags);
    if (kind < 0) return;
    const key = kind * 4294967296 + f.ipSrc;
    let e = this.last;
    if (e === null || e.key !== key) {
      e = this.entries.get(key) ?? null;
      if (e === null) {
        e = { key, kind, src: f.ipSrc, span: new Span(), sample: new EvidenceSample(), dsts: new Set(), ports: new Set(), srcMacs: [], flagValues: [] };
        this.entries.set(key, e);
      }
      this.last = e;
    }
    e.span.add(f);
    if (e.dsts.size < MAX_TARGETS) e.dsts.add(f.ipDst);
    e.ports.add(f.dstPort);
    if ((f.layers & LINK) !== 0 && e.srcMacs.length < 4 && !e.srcMacs.includes(f.srcMac)) e.srcMacs.push(f.srcMac);
    if (e.flagValues.length < 8 && !e.flagValues.includes(f.tcpFlags)) e.flagValues.push(f.tcpFlags);
    if (wouldKeep(e.sample, f.frameNo)) {
      const it = frameItem(f, 'TCP', true, true) as FlagItem;
      it.flags = f.tcpFlags;
      e.sample.add(it);
    } else skipItem(e.sample);
  }

  partial(): Partial {
    return { entries: [...this.entries.values()] };
  }
}

export const tcpBadFlagsDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    {
      key: OPT_MIN,
      description: 'TCP segments of one odd flag combination from one source IP before tcp.bad_flags reports it',
      default: 1,
      min: 1,
      max: 1e9,
      unit: 'frames',
      integer: true,
    },
  ],
  createLink(_options: OptionValues): LinkDetector {
    return new BadFlagsLink();
  },
  reduce(partials, ctx): Finding[] {
    const min = ctx.options[OPT_MIN] ?? 1;
    const entries = (partials as Partial[])
      .flatMap((p) => p.entries)
      .filter((e) => e.span.n >= min)
      .sort((a, b) => a.src - b.src || a.kind - b.kind);
    return entries.map((e) => {
      const k = KINDS[e.kind]!;
      const src = formatIpv4(e.src);
      const n = e.span.n;
      const hosts = e.dsts.size >= MAX_TARGETS ? `${MAX_TARGETS}+ hosts` : plural(e.dsts.size, 'host');
      const oneHost = e.dsts.size === 1 ? ` (${formatIpv4([...e.dsts][0]!)})` : '';
      const ports = [...e.ports].sort((a, b) => a - b);
      const portText = ports.length <= 5 ? `port${ports.length === 1 ? '' : 's'} ${ports.join(', ')}` : `${ports.length} ports (${ports[0]}-${ports[ports.length - 1]})`;
      return makeFinding({
        id: ID,
        severity: 'medium',
        subject: `${src} (${k.short})`,
        summary: `${src} sent ${plural(n, 'TCP segment')} with ${k.name} to ${hosts}${oneHost}, ${portText}, frames ${e.span.firstFrame}-${e.span.lastFrame}`,
        count: n,
        first: e.span.first(),
        last: e.span.last(),
        evidence: (e.sample.items as FlagItem[]).map((it) => ({ ...it, what: `TCP flags ${flagText(it.flags)}` })),
        evidenceTotal: e.sample.total,
        explanation:
          `No TCP stack sends ${k.name}: the segments are crafted (${k.tool}). ` +
          'NULL, FIN and Xmas scans probe which ports are closed (they answer RST) or open|filtered (no answer) while slipping past stateless filters that only look at SYNs; SYN+FIN and SYN+RST are used for OS fingerprinting and IDS evasion, or come from a broken middlebox. ' +
          'Linux conntrack classifies every such segment INVALID ("invalid tcp flag combination" in tcp_error), so it never creates a connection, but a host without a filter answers with RSTs that tell the scanner which ports are closed. ' +
          'The source address is who to act on: it is the scanner (or the address it spoofs - compare the source MAC with the address\'s usual one).',
        remediation:
          `Drop invalid segments before they reach services: \`iptables -A INPUT -m conntrack --ctstate INVALID -j DROP\` (and in FORWARD on routers/hypervisors; nft: \`ct state invalid drop\`), or this combination explicitly: \`${k.iptables}\` / \`${k.nft}\`. ` +
          `Then find the source: \`ip neigh show ${src}\` or the router's ARP table for its MAC, \`show mac address-table address <mac>\` for its port; if it is not an authorized vulnerability scanner, block it (\`iptables -I INPUT -s ${src} -j DROP\`) and investigate the machine.`,
        details: {
          kind: k.code,
          srcIp: src,
          srcMacs: e.srcMacs.map(formatMac),
          frames: n,
          dstHosts: e.dsts.size,
          dstPorts: ports.length,
          ports: ports.slice(0, 32),
          flagValues: [...e.flagValues].sort((a, b) => a - b).map((v) => `0x${v.toString(16).padStart(3, '0')}`),
        },
      });
    });
  },
};
