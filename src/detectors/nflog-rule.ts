/**
 * fw.nflog_rule: in a firewall log captured with `tcpdump -i nflog:N` (LINKTYPE_NFLOG), what each
 * logging rule logged. A rule names itself by its group (--nflog-group, nft `log group`) and its
 * prefix (--nflog-prefix, nft `log prefix`); one finding per (group, prefix) with the packets,
 * the protocols, the flows that were logged most, and frames to look at in Wireshark. The
 * capture then holds only what rules logged, which the explanation says, since other findings
 * read such a capture as if it were the traffic.
 *
 * Per frame, nothing is allocated once a rule and a flow have been seen: the prefix is compared
 * as bytes with the rules already met, and flows are rows of numbers.
 */
import { Layer, type Frame } from '../decode/frame.js';
import { flowProtoName, IpProto } from '../decode/ipproto.js';
import { formatIpv4 } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding } from './finding.js';
import { plural, sampleFrame, Span } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'fw.nflog_rule';

/** The option that restricts the analysis of a netfilter log to one NFLOG group (-1: every group). */
export const OPT_NFLOG_GROUP = 'nflog-group';

/** Distinct (group, prefix) pairs kept apart; beyond, packets count in one "other rules" entry. */
const RULES_MAX = 256;
/** Flows (protocol, source, destination, destination port) counted per rule; beyond, in `otherFlowPackets`. */
const FLOWS_MAX = 64;
/** Flows listed per finding. */
const TOP_FLOWS = 5;

/** Columns of a rule's flow rows (Float64Array). */
const enum C {
  PROTO = 0,
  SRC = 1,
  DST = 2,
  /** Destination port; the type for ICMP; -1 when not known (another protocol, a later fragment, a cut header). */
  DPORT = 3,
  PACKETS = 4,
  FIRST_FRAME = 5,
  LAST_FRAME = 6,
  WIDTH = 7,
}

interface Rule {
  group: number;
  /** The prefix as the rule wrote it (bytes, for comparing), and as text. */
  prefixBytes: Uint8Array;
  prefix: string;
  /**
   * False for a rule without a prefix: Linux then sends an empty prefix TLV (iptables-save and
   * nft print no prefix); a record may also have no prefix TLV at all.
   */
  hasPrefix: boolean;
  /** The snap length cut the prefix: `prefix` is its beginning. */
  prefixCut: boolean;
  /** The evidence label, built once. */
  what: string;
  packets: number;
  /** Bytes of the logged datagrams (IPv4 total length; the payload TLV otherwise is not measured). */
  ipv4Bytes: number;
  tcp: number;
  udp: number;
  icmp: number;
  otherIpv4: number;
  ipv6: number;
  /** Records whose payload was neither (no payload, an unknown family). */
  other: number;
  span: Span;
  sample: EvidenceSample;
  flows: Float64Array;
  flowCount: number;
  otherFlowPackets: number;
  /** Row of the flow last counted (consecutive packets are often of one flow). */
  lastFlow: number;
}

interface Partial {
  rules: Rule[];
  /** Packets of rules beyond RULES_MAX. */
  otherRulePackets: number;
  /** --nflog-group: the only group the other findings read (-1: all). */
  analyzedGroup: number;
}

const decoder = new TextDecoder('utf-8');

class NflogRuleLink implements LinkDetector {
  readonly interest = FrameClass.NFLOG;
  private readonly rules: Rule[] = [];
  private last: Rule | null = null;
  private otherRulePackets = 0;

  constructor(private readonly analyzedGroup: number) {}

  onFrame(f: Frame): void {
    let r = this.last;
    if (r === null || !sameRule(r, f)) {
      r = this.find(f);
      if (r === null) {
        this.otherRulePackets++;
        return;
      }
      this.last = r;
    }
    r.packets++;
    r.span.add(f);
    const layers = f.layers;
    if ((layers & Layer.IPV4) !== 0) {
      r.ipv4Bytes += f.ipLen;
      const proto = f.ipProto;
      if (proto === IpProto.TCP) r.tcp++;
      else if (proto === IpProto.UDP) r.udp++;
      else if (proto === IpProto.ICMP) r.icmp++;
      else r.otherIpv4++;
      // -1: not known (a later fragment, a header the snap length cut).
      const dport = (layers & (Layer.TCP | Layer.UDP)) !== 0 ? f.dstPort : (layers & Layer.ICMP) !== 0 ? f.icmpType : -1;
      countFlow(r, proto, f.ipSrc, f.ipDst, dport, f.frameNo);
      sampleFrame(r.sample, f, r.what, true, (layers & (Layer.TCP | Layer.UDP)) !== 0);
    } else {
      if ((layers & Layer.IPV6) !== 0) r.ipv6++;
      else r.other++;
      sampleFrame(r.sample, f, r.what);
    }
  }

  /** The frame's rule among those met, or a new one; null beyond RULES_MAX. */
  private find(f: Frame): Rule | null {
    // An index loop: for...of allocates an iterator, and rules alternate packet by packet.
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) if (sameRule(rules[i]!, f)) return rules[i]!;
    if (rules.length >= RULES_MAX) return null;
    const prefixTlv = f.nflogPrefixOff >= 0;
    const prefixBytes = prefixTlv ? f.buf.slice(f.nflogPrefixOff, f.nflogPrefixOff + f.nflogPrefixLen) : new Uint8Array(0);
    const prefix = decoder.decode(prefixBytes);
    const hasPrefix = prefixBytes.length > 0;
    const prefixCut = f.nflogPrefixCut === 1;
    const r: Rule = {
      group: f.nflogGroup,
      prefixBytes,
      prefix,
      hasPrefix,
      prefixCut,
      what: `logged to NFLOG group ${f.nflogGroup}` + (hasPrefix ? ` with prefix ${JSON.stringify(prefix)}${prefixCut ? ' (cut by the snap length)' : ''}` : ' without a prefix'),
      packets: 0,
      ipv4Bytes: 0,
      tcp: 0,
      udp: 0,
      icmp: 0,
      otherIpv4: 0,
      ipv6: 0,
      other: 0,
      span: new Span(),
      sample: new EvidenceSample(),
      flows: new Float64Array(FLOWS_MAX * C.WIDTH),
      flowCount: 0,
      otherFlowPackets: 0,
      lastFlow: -1,
    };
    this.rules.push(r);
    return r;
  }

  partial(): Partial {
    return { rules: this.rules, otherRulePackets: this.otherRulePackets, analyzedGroup: this.analyzedGroup };
  }
}

/** Whether frame `f` was logged by rule `r`: the same group, and the same prefix byte for byte. */
function sameRule(r: Rule, f: Frame): boolean {
  // No prefix TLV and an empty one (what Linux sends for a rule without a prefix) are one rule.
  if (r.group !== f.nflogGroup || r.prefixCut !== (f.nflogPrefixCut === 1)) return false;
  const p = r.prefixBytes;
  if (p.length !== f.nflogPrefixLen) return false;
  const b = f.buf;
  const off = f.nflogPrefixOff;
  for (let i = 0; i < p.length; i++) if (b[off + i] !== p[i]) return false;
  return true;
}

function countFlow(r: Rule, proto: number, src: number, dst: number, dport: number, frame: number): void {
  const rows = r.flows;
  let at = r.lastFlow;
  if (at < 0 || !isFlow(rows, at, proto, src, dst, dport)) {
    at = -1;
    for (let i = 0; i < r.flowCount; i++) {
      if (isFlow(rows, i * C.WIDTH, proto, src, dst, dport)) {
        at = i * C.WIDTH;
        break;
      }
    }
    if (at < 0) {
      if (r.flowCount >= FLOWS_MAX) {
        r.otherFlowPackets++;
        return;
      }
      at = r.flowCount++ * C.WIDTH;
      rows[at + C.PROTO] = proto;
      rows[at + C.SRC] = src;
      rows[at + C.DST] = dst;
      rows[at + C.DPORT] = dport;
      rows[at + C.FIRST_FRAME] = frame;
    }
    r.lastFlow = at;
  }
  rows[at + C.PACKETS]!++;
  rows[at + C.LAST_FRAME] = frame;
}

function isFlow(rows: Float64Array, at: number, proto: number, src: number, dst: number, dport: number): boolean {
  return rows[at + C.PROTO] === proto && rows[at + C.SRC] === src && rows[at + C.DST] === dst && rows[at + C.DPORT] === dport;
}

interface TopFlow {
  proto: string;
  src: string;
  dst: string;
  /** Destination port (TCP, UDP), else null. */
  dstPort: number | null;
  /** ICMP type (ICMP), else null. */
  icmpType: number | null;
  packets: number;
  firstFrame: number;
  lastFrame: number;
}

function topFlows(r: Rule): TopFlow[] {
  const rows = r.flows;
  const order = Array.from({ length: r.flowCount }, (_, i) => i * C.WIDTH);
  // Most packets first; ties by the first frame, so the order does not depend on anything else.
  order.sort((a, b) => rows[b + C.PACKETS]! - rows[a + C.PACKETS]! || rows[a + C.FIRST_FRAME]! - rows[b + C.FIRST_FRAME]!);
  return order.slice(0, TOP_FLOWS).map((at) => {
    const proto = rows[at + C.PROTO]!;
    const known = rows[at + C.DPORT]! >= 0;
    const ported = known && (proto === IpProto.TCP || proto === IpProto.UDP);
    return {
      proto: flowProtoName(proto),
      src: formatIpv4(rows[at + C.SRC]!),
      dst: formatIpv4(rows[at + C.DST]!),
      dstPort: ported ? rows[at + C.DPORT]! : null,
      icmpType: known && proto === IpProto.ICMP ? rows[at + C.DPORT]! : null,
      packets: rows[at + C.PACKETS]!,
      firstFrame: rows[at + C.FIRST_FRAME]!,
      lastFrame: rows[at + C.LAST_FRAME]!,
    };
  });
}

function flowText(t: TopFlow): string {
  const dst = t.dstPort !== null ? `${t.dst}:${t.dstPort}/${t.proto}` : t.icmpType !== null ? `${t.dst} (ICMP type ${t.icmpType})` : `${t.dst} (${t.proto})`;
  return `${t.src} → ${dst} (${plural(t.packets, 'packet')}, frames ${t.firstFrame}-${t.lastFrame})`;
}

function ruleName(r: Rule): string {
  if (!r.hasPrefix) return `group ${r.group}, no prefix`;
  return r.prefixCut ? `prefix ${JSON.stringify(r.prefix)}… (cut by the snap length), group ${r.group}` : `prefix ${JSON.stringify(r.prefix)}, group ${r.group}`;
}

function protocolText(r: Rule): string {
  const parts: string[] = [];
  const add = (n: number, name: string): void => {
    if (n > 0) parts.push(`${n} ${name}`);
  };
  add(r.tcp, 'TCP');
  add(r.udp, 'UDP');
  add(r.icmp, 'ICMP');
  add(r.otherIpv4, 'other IPv4');
  add(r.ipv6, 'IPv6');
  add(r.other, 'without an IP packet');
  return parts.join(', ');
}

/**
 * Wireshark's display filter for the rule's packets. Wireshark reads the prefix as ASCII: a byte
 * above 0x7f is U+FFFD there; control bytes are written \xNN.
 */
function displayFilter(r: Rule): string {
  const group = `nflog.res_id == ${r.group}`;
  // A cut prefix has no nflog.prefix field in Wireshark (the TLV runs past the captured bytes).
  if (r.prefixCut) return `${group} && !nflog.prefix`;
  if (!r.hasPrefix) return `${group} && (!nflog.prefix || nflog.prefix == "")`;
  let text = '';
  for (const byte of r.prefixBytes) {
    if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else if (byte < 0x80) text += `\\x${byte.toString(16).padStart(2, '0')}`;
    else text += '\\uFFFD';
  }
  return `${group} && nflog.prefix == "${text}"`;
}

/**
 * Conntrack's own log of what it calls INVALID or ignores (nf_conntrack_log_invalid: "nf_ct_proto_6:
 * ..."), not a rule's. Conntrack helpers log their drops as "nf_ct_ftp: dropping packet ...".
 */
function isConntrackLog(r: Rule): boolean {
  return r.hasPrefix && /^nf_ct_proto_\d+: /.test(r.prefix);
}

function isHelperLog(r: Rule): boolean {
  return r.hasPrefix && /^nf_ct_[a-z0-9_-]+: dropping packet/.test(r.prefix);
}

/** The netfilter logger setting of the records' family. */
function loggerPath(r: Rule): string {
  return r.ipv6 > 0 && r.tcp + r.udp + r.icmp + r.otherIpv4 === 0 ? '/proc/sys/net/netfilter/nf_log/10' : '/proc/sys/net/netfilter/nf_log/2';
}

function explanation(r: Rule, otherRulePackets: number): string {
  if (isHelperLog(r)) {
    return (
      `This capture is a netfilter log (\`tcpdump -i nflog:${r.group}\`, link type NFLOG). These ${plural(r.packets, 'packet')} are not a rule's: a conntrack helper dropped them and logged why, ${JSON.stringify(r.prefix)}, through the netfilter logger, which is nfnetlink_log here (\`${loggerPath(r)}\`). ` +
      'Helpers (ftp, sip, irc...) read the packets of the protocols they follow to open the related connections; they drop what they cannot parse. ' +
      'A packet logged by the helper and by a rule is in the capture twice, and the other findings count it twice.'
    );
  }
  if (isConntrackLog(r)) {
    return (
      `This capture is a netfilter log (\`tcpdump -i nflog:${r.group}\`, link type NFLOG). These ${plural(r.packets, 'packet')} are not a rule's: conntrack itself logged them with its reason, ${JSON.stringify(r.prefix)}, because \`net.netfilter.nf_conntrack_log_invalid\` is set and the namespace's netfilter logger is nfnetlink_log (\`${loggerPath(r)}\`). ` +
      'Conntrack logs the packets it calls INVALID (a rule set that drops INVALID drops them) and those it lets through without updating its state (ignored: an old retransmission, an out-of-order handshake packet). ' +
      'A packet logged by conntrack and by a rule is in the capture twice, and the other findings count it twice, sometimes out of order: `--nflog-group` with the rule\'s group reads that group only.'
    );
  }
  const rule = r.hasPrefix
    ? `The rule that logs with prefix ${JSON.stringify(r.prefix)} to group ${r.group} (iptables \`-j NFLOG --nflog-group ${r.group} --nflog-prefix ${JSON.stringify(r.prefix)}\`, nftables \`log group ${r.group} prefix ${JSON.stringify(r.prefix)}\`)`
    : `A rule that logs to group ${r.group} without a prefix (iptables \`-j NFLOG --nflog-group ${r.group}\`, nftables \`log group ${r.group}\`)`;
  return (
    `This capture is a netfilter log (\`tcpdump -i nflog:${r.group}\`, link type NFLOG): it holds the packets that logging rules handed to the kernel's nfnetlink_log, each tagged with the rule's group and prefix, and nothing else. ` +
    `${rule} logged ${plural(r.packets, 'packet')} here. ` +
    'A logging rule does not decide the packet\'s fate: the packet goes on to the next rule that matches it, or the chain\'s policy (with nftables the verdict is often in the same rule, after `log`), so these are the packets that reached that point of the ruleset. ' +
    'The other findings of this report read only the logged packets: a connection whose other direction no rule logged looks one-way here though it is not on the wire, and a packet that several rules logged is in the capture, and counted, once per rule (\`--nflog-group\` makes pcapscan read one group only).' +
    (otherRulePackets > 0 ? ` More than ${RULES_MAX} distinct rules logged; ${plural(otherRulePackets, 'packet')} of the others are not reported per rule.` : '')
  );
}

function remediation(r: Rule): string {
  if (isHelperLog(r)) {
    return (
      `In Wireshark, \`${displayFilter(r)}\` shows these packets. ` +
      'Check which helper is attached to this traffic (`helper=` in `conntrack -L`, the `-j CT --helper` rules in the raw table) and whether the packets are what that protocol should carry; a helper for a port that carries another protocol drops its packets.'
    );
  }
  if (isConntrackLog(r)) {
    return (
      `In Wireshark, \`${displayFilter(r)}\` shows these packets. ` +
      'For packets conntrack calls INVALID, see ct.invalid in this report; to stop the logging, `sysctl -w net.netfilter.nf_conntrack_log_invalid=0`.'
    );
  }
  return (
    `Find the rule with \`${iptablesSearch(r)}\` (and \`ip6tables-save\`), or \`${nftSearch(r)}\`, and the verdict the packets meet after it: the next rule that matches them or the chain's policy (with nftables, usually the same rule). ` +
    `In Wireshark, \`${displayFilter(r)}\` shows these packets.` +
    (r.prefixCut ? ' The snap length cut the prefix in this capture: search for its beginning, or capture with a larger snap length.' : '') +
    ' If the packets listed are traffic that should pass, allow it before that rule; if the rule logs INVALID conntrack state, see whether conntrack misses one direction of those connections (asymmetric routing, a direct-routing load balancer).'
  );
}

/** A shell word holding `s` as is: single quotes, a quote inside closed, escaped and reopened. */
function shellWord(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The iptables-save lines of the rule. iptables-save prints a prefix bare when it holds only
 * letters, digits, '_' and '-', otherwise in double quotes with '"', '\\' and "'" escaped by a
 * backslash (xtables_save_string); an empty prefix not at all; --nflog-group only when not 0.
 */
function iptablesSearch(r: Rule): string {
  if (r.hasPrefix) {
    const bare = /^[A-Za-z0-9_-]+$/.test(r.prefix) && !r.prefixCut;
    if (bare) return `iptables-save | grep -E -- ${shellWord(`--nflog-prefix ${r.prefix}( |$)`)}`;
    const quoted = `--nflog-prefix "${r.prefix.replace(/["\\']/g, '\\$&')}${r.prefixCut ? '' : '"'}`;
    return `iptables-save | grep -F -- ${shellWord(quoted)}`;
  }
  const withoutPrefix = `iptables-save | grep -F -- '-j NFLOG' | grep -v -F -- '--nflog-prefix'`;
  return r.group === 0 ? `${withoutPrefix} | grep -v -F -- '--nflog-group'` : `${withoutPrefix} | grep -E -- ${shellWord(`--nflog-group ${r.group}( |$)`)}`;
}

/** The nft rule: nft prints `log prefix "..."` with the prefix as is, and `log group N` without one. */
function nftSearch(r: Rule): string {
  if (r.hasPrefix) return `nft -a list ruleset | grep -F -- ${shellWord(`prefix "${r.prefix}${r.prefixCut ? '' : '"'}`)}`;
  return `nft -a list ruleset | grep -E -- ${shellWord(`log group ${r.group}( |$)`)}`;
}


export const nflogRuleDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    {
      key: OPT_NFLOG_GROUP,
      description:
        'in a netfilter log (tcpdump -i nflog:N), analyze only the packets of this NFLOG group: other groups often hold copies of the same packets (another rule, conntrack\'s own log). fw.nflog_rule still lists every group; -1 analyzes all',
      default: -1,
      min: -1,
      max: 65535,
      integer: true,
    },
  ],
  createLink(options: OptionValues): LinkDetector {
    return new NflogRuleLink(options[OPT_NFLOG_GROUP] ?? -1);
  },
  reduce(partials): Finding[] {
    const parts = partials as Partial[];
    const otherRulePackets = parts.reduce((n, p) => n + p.otherRulePackets, 0);
    const analyzedGroup = parts[0]?.analyzedGroup ?? -1;
    const rules = parts.flatMap((p) => p.rules);
    rules.sort((a, b) => a.group - b.group || (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0) || Number(a.hasPrefix) - Number(b.hasPrefix));
    return rules.map((r) => {
      const top = topFlows(r);
      const by = isConntrackLog(r) ? `logged by conntrack itself (${ruleName(r)})` : isHelperLog(r) ? `dropped and logged by a conntrack helper (${ruleName(r)})` : `logged by the rule with ${ruleName(r)}`;
      const analyzed = analyzedGroup < 0 || r.group === analyzedGroup;
      const summary =
        `${plural(r.packets, 'packet')} ${by}: ${protocolText(r)}` +
        (top.length > 0 ? `; most: ${flowText(top[0]!)}` : '') +
        (analyzed ? '' : ` (not analyzed: --${OPT_NFLOG_GROUP} ${analyzedGroup})`);
      return makeFinding({
        id: ID,
        severity: 'info',
        subject: `NFLOG ${ruleName(r)}`,
        summary,
        count: r.packets,
        first: r.span.first(),
        last: r.span.last(),
        evidence: r.sample.items,
        evidenceTotal: r.sample.total,
        explanation: explanation(r, otherRulePackets),
        remediation: remediation(r),
        details: {
          group: r.group,
          prefix: r.hasPrefix ? r.prefix : null,
          prefixCut: r.prefixCut,
          packets: r.packets,
          ipv4Bytes: r.ipv4Bytes,
          protocols: { tcp: r.tcp, udp: r.udp, icmp: r.icmp, otherIpv4: r.otherIpv4, ipv6: r.ipv6, other: r.other },
          firstFrame: r.span.firstFrame,
          lastFrame: r.span.lastFrame,
          flows: r.flowCount,
          flowsCapped: r.otherFlowPackets > 0,
          packetsInUncountedFlows: r.otherFlowPackets,
          topFlows: top,
          displayFilter: displayFilter(r),
          analyzed,
          otherRulePackets,
        },
      });
    });
  },
};
