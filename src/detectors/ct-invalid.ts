/**
 * ct.invalid — the packets Linux conntrack would classify INVALID, as a box that tracks this
 * traffic would see it: "N packets would be dropped by `-m conntrack --ctstate INVALID -j DROP`".
 * Grouped by the service they belong to (the flow's server ip:port, or the destination of packets
 * that belong to no flow), with the reason conntrack would give.
 */
import { Kind, R } from '../flows/record.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { INVALID_REASON_NAMES, InvalidReason, KERNEL_LOG_MESSAGES, Verdict } from '../flows/verdict.js';
import { formatIpv4 } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EVIDENCE_SAMPLE, makeFinding, widenRange, type EvidenceItem } from './finding.js';
import { EndpointIndex, EndpointMap, endpointKey, endpointName, endpointOfKey, flowVlan, serverSide, sideIp, sidePort, type Endpoint, type EndpointMapParts } from './flow-endpoints.js';
import { groupRows, U32Rows } from './rows.js';
import type { Detector, ReduceContext } from './types.js';

const ID = 'ct.invalid';
const MAX_FINDINGS = 10;
/** Added to the VLAN word (24 bits) of a destination that belongs to no flow. */
const ORPHAN = 0x1000000;

/** The kinds of packet in the breakdown, by code (see packetKindCode). */
const KIND_NAMES = ['ICMP error', 'ICMP query', 'ICMP other', 'UDP', 'IP', 'RST', 'SYN+ACK', 'SYN', 'FIN', 'data', 'ACK', 'no flags'] as const;

/** What kind of packet a record is, as an index into KIND_NAMES. */
function packetKindCode(r: Uint32Array, base: number): number {
  const kind = r[base + R.INFO] & 0xf;
  if (kind === Kind.ICMP_ERROR) return 0;
  if (kind === Kind.ICMP_QUERY) return 1;
  if (kind === Kind.ICMP_OTHER) return 2;
  if (kind === Kind.UDP) return 3;
  if (kind !== Kind.TCP) return 4;
  const f = r[base + R.FLAGS_WIN] & 0xfff;
  if (f & 0x04) return 5;
  if (f & 0x02) return f & 0x10 ? 6 : 7;
  if (f & 0x01) return 8;
  if (r[base + R.PAYLOAD] > 0) return 9;
  if (f & 0x10) return 10;
  return 11;
}

/** What kind of packet it was, for the breakdown. */
export function packetKind(r: Uint32Array, base: number): string {
  return KIND_NAMES[packetKindCode(r, base)]!;
}

interface Group {
  key: string;
  service: Endpoint;
  /** A destination with no flow (orphan ICMP errors and the like): named by its address only. */
  orphan: boolean;
  packets: number;
  /** INVALID packets of flows whose entry a RST had deleted before any reply (conntrack's REJ rule). */
  afterReject: number;
  byReason: Record<string, number>;
  byKind: Record<string, number>;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  sample: { items: EvidenceItem[]; total: number };
}

const REASONS = INVALID_REASON_NAMES.length;
const KINDS = KIND_NAMES.length;

/**
 * Columns of a group's row (uint32): its packets, those after a rejecting RST, the first and last
 * time, the evidence rows kept, then a count per InvalidReason and per packet kind.
 */
const G_PACKETS = 0;
const G_AFTER_REJECT = 1;
const G_FIRST_SEC = 2;
const G_FIRST_NS = 3;
const G_LAST_SEC = 4;
const G_LAST_NS = 5;
const G_KEPT = 6;
const G_REASONS = 7;
/** One more reason column: a reason without a name (counted as "unknown", never dropped). */
const G_KINDS = G_REASONS + REASONS + 1;
const G_WIDTH = G_KINDS + KINDS;

/** Columns of an evidence row (uint32). */
const enum S {
  GROUP = 0,
  FRAME = 1,
  SEC = 2,
  NS = 3,
  KIND = 4,
  REASON = 5,
  SRC_IP = 6,
  DST_IP = 7,
  /** sport | dport << 16, with HAS_PORTS = 1 (TCP and UDP). */
  PORTS = 8,
  HAS_PORTS = 9,
  WIDTH = 10,
}

interface Partial {
  /** Group key (VLAN word, with ORPHAN for a destination of no flow; address; port) → row of `counts`. */
  groups: EndpointMapParts<number>;
  counts: Uint32Array;
  /** The first EVIDENCE_SAMPLE INVALID packets of each group (S.* columns). */
  samples: Uint32Array;
}

/**
 * Per service, numbers only: a row of counts and at most EVIDENCE_SAMPLE evidence rows. A shard
 * sees its packets in frame order, so the first rows of a group are its lowest frames and no
 * later packet can displace them. A capture with INVALID packets to a million destinations (a
 * scan, a one-way path) costs about 120 bytes per destination, and no object or string.
 */
class Observer implements ShardObserver {
  readonly packets = 'invalid' as const;
  private readonly groups = new EndpointMap<number>();
  private readonly counts = new U32Rows(G_WIDTH, 1 << 16);
  private readonly samples = new U32Rows(S.WIDTH, 1 << 16);

  onPacket(tr: FlowTracker, s: number, r: Uint32Array, base: number, _canonDir: number, verdict: number): void {
    if (verdict !== Verdict.INVALID) return;
    let scope: number;
    let ip: number;
    let port: number;
    if (s < 0) {
      scope = (r[base + R.VLAN] & 0xffffff) + ORPHAN;
      ip = r[base + R.IP_DST];
      port = 0;
    } else {
      // The flow's server end, read field by field: no object per packet.
      const side = serverSide(tr, s);
      scope = flowVlan(tr, s);
      ip = sideIp(tr, s, side);
      port = sidePort(tr, s, side);
    }
    const sec = r[base + R.TS_SEC];
    const ns = r[base + R.TS_NS];
    let g = this.groups.get(scope, ip, port);
    if (g === undefined) {
      g = this.counts.append() / G_WIDTH;
      this.groups.set(scope, ip, port, g);
      const c = this.counts.data;
      c[g * G_WIDTH + G_FIRST_SEC] = sec;
      c[g * G_WIDTH + G_FIRST_NS] = ns;
      c[g * G_WIDTH + G_LAST_SEC] = sec;
      c[g * G_WIDTH + G_LAST_NS] = ns;
    }
    const c = this.counts.data;
    const at = g * G_WIDTH;
    c[at + G_PACKETS]++;
    if (s >= 0 && tr.invalidReason === InvalidReason.NO_ENTRY && tr.hadRejectedEntry(s)) c[at + G_AFTER_REJECT]++;
    const reason = tr.invalidReason < REASONS ? tr.invalidReason : REASONS;
    c[at + G_REASONS + reason]++;
    const kind = packetKindCode(r, base);
    c[at + G_KINDS + kind]++;
    if (sec < c[at + G_FIRST_SEC]! || (sec === c[at + G_FIRST_SEC] && ns < c[at + G_FIRST_NS]!)) {
      c[at + G_FIRST_SEC] = sec;
      c[at + G_FIRST_NS] = ns;
    }
    if (sec > c[at + G_LAST_SEC]! || (sec === c[at + G_LAST_SEC] && ns > c[at + G_LAST_NS]!)) {
      c[at + G_LAST_SEC] = sec;
      c[at + G_LAST_NS] = ns;
    }
    if (c[at + G_KEPT]! >= EVIDENCE_SAMPLE) return;
    c[at + G_KEPT]++;
    const info = r[base + R.INFO] & 0xf;
    const e = this.samples.append();
    const d = this.samples.data;
    d[e + S.GROUP] = g;
    d[e + S.FRAME] = r[base + R.FRAME];
    d[e + S.SEC] = sec;
    d[e + S.NS] = ns;
    d[e + S.KIND] = kind;
    d[e + S.REASON] = reason;
    d[e + S.SRC_IP] = r[base + R.IP_SRC];
    d[e + S.DST_IP] = r[base + R.IP_DST];
    d[e + S.PORTS] = r[base + R.KEY_PORTS];
    d[e + S.HAS_PORTS] = info !== Kind.OTHER_IP && (info === Kind.TCP || info === Kind.UDP) ? 1 : 0;
  }

  onFlowEnd(): void {}

  partial(): Partial {
    return { groups: this.groups.parts(), counts: this.counts.used(), samples: this.samples.used() };
  }
}

/** The evidence item of an evidence row. */
function sampleItem(d: Uint32Array, at: number): EvidenceItem {
  const ports = d[at + S.PORTS]!;
  return {
    frame: d[at + S.FRAME]!,
    tsSec: d[at + S.SEC]!,
    tsNs: d[at + S.NS]!,
    what: `${KIND_NAMES[d[at + S.KIND]!]}: ${INVALID_REASON_NAMES[d[at + S.REASON]!] ?? 'unknown'}`,
    srcIp: d[at + S.SRC_IP]!,
    dstIp: d[at + S.DST_IP]!,
    ...(d[at + S.HAS_PORTS] === 1 ? { srcPort: ports & 0xffff, dstPort: ports >>> 16 } : {}),
  };
}

/**
 * Every shard's services merged by index, in columns: a capture with INVALID packets to a
 * million destinations is merged without an object, an array or a string per destination.
 */
class Services {
  size = 0;
  readonly scope: Int32Array;
  /** ip * 65536 + port. */
  readonly key: Float64Array;
  /** The summed columns (packets, after reject, reasons, kinds; the time columns unused). */
  readonly counts: Float64Array;
  /** First and last INVALID packet: [first sec, first ns, last sec, last ns] per service. */
  readonly range: Float64Array;
  /** Per partial: each service's row in that partial's counts (-1 for none). */
  readonly rowOf: Int32Array[];
  /** Per partial: its evidence rows grouped by its rows. */
  readonly rowsOf: Array<ReturnType<typeof groupRows>>;

  constructor(readonly parts: readonly Partial[]) {
    let most = 0;
    for (const p of parts) most += p.groups.values.length;
    this.scope = new Int32Array(most);
    this.key = new Float64Array(most);
    this.counts = new Float64Array(most * G_WIDTH);
    this.range = new Float64Array(most * 4);
    this.rowOf = parts.map(() => new Int32Array(most).fill(-1));
    this.rowsOf = parts.map((p) => groupRows(p.samples, S.WIDTH, S.GROUP, p.counts.length / G_WIDTH));
    // Entry mi of the index is merged service mi.
    const index = new EndpointIndex();
    parts.forEach((p, pi) => {
      const { vlans, keys, values } = p.groups;
      const c = p.counts;
      for (let i = 0; i < values.length; i++) {
        const scope = vlans[i]!;
        let mi = index.indexOfKey(scope, keys[i]!);
        if (mi < 0) {
          mi = index.addKey(scope, keys[i]!);
          this.scope[mi] = scope;
          this.key[mi] = keys[i]!;
          this.range[mi * 4] = Infinity;
        }
        this.rowOf[pi]![mi] = values[i]!;
        const at = values[i]! * G_WIDTH;
        const m = mi * G_WIDTH;
        for (let k = 0; k < G_WIDTH; k++) if (k < G_FIRST_SEC || k > G_KEPT) this.counts[m + k]! += c[at + k]!;
        this.widen(mi, c[at + G_FIRST_SEC]!, c[at + G_FIRST_NS]!, c[at + G_LAST_SEC]!, c[at + G_LAST_NS]!);
      }
    });
    this.size = index.size;
  }

  packets(mi: number): number {
    return this.counts[mi * G_WIDTH + G_PACKETS]!;
  }

  /** The service's key in the report order's tie-break and in the finding. */
  name(mi: number): string {
    return (this.scope[mi]! >= ORPHAN ? 'o|' : 'f|') + endpointKey(this.endpoint(mi));
  }

  endpoint(mi: number): Endpoint {
    return endpointOfKey(this.scope[mi]! % ORPHAN, this.key[mi]!);
  }

  private widen(mi: number, firstSec: number, firstNs: number, lastSec: number, lastNs: number): void {
    const r = this.range;
    const at = mi * 4;
    if (firstSec < r[at]! || (firstSec === r[at] && firstNs < r[at + 1]!)) {
      r[at] = firstSec;
      r[at + 1] = firstNs;
    }
    if (lastSec > r[at + 2]! || (lastSec === r[at + 2] && lastNs > r[at + 3]!)) {
      r[at + 2] = lastSec;
      r[at + 3] = lastNs;
    }
  }
}

/** The services `members` as one group: counts summed, and the lowest frames as evidence. */
function toGroup(sv: Services, members: Int32Array, key: string, service: Endpoint, orphan: boolean): Group {
  const g: Group = { key, service, orphan, packets: 0, afterReject: 0, byReason: {}, byKind: {}, firstSec: Infinity, firstNs: 0, lastSec: 0, lastNs: 0, sample: { items: [], total: 0 } };
  // Each shard kept its first packets of the service: every packet counts, the lowest frames show.
  // Frames are unique; the lowest EVIDENCE_SAMPLE are kept as they pass (partial, row offset, frame).
  const kept: Array<{ pi: number; at: number; frame: number }> = [];
  const c = sv.counts;
  const r = sv.range;
  for (let x = 0; x < members.length; x++) {
    const mi = members[x]!;
    const m = mi * G_WIDTH;
    g.packets += c[m + G_PACKETS]!;
    g.afterReject += c[m + G_AFTER_REJECT]!;
    for (let k = 0; k <= REASONS; k++) {
      const name = INVALID_REASON_NAMES[k] ?? 'unknown';
      if (c[m + G_REASONS + k]! > 0) g.byReason[name] = (g.byReason[name] ?? 0) + c[m + G_REASONS + k]!;
    }
    for (let k = 0; k < KINDS; k++) if (c[m + G_KINDS + k]! > 0) g.byKind[KIND_NAMES[k]!] = (g.byKind[KIND_NAMES[k]!] ?? 0) + c[m + G_KINDS + k]!;
    widenRange(g, r[mi * 4]!, r[mi * 4 + 1]!, r[mi * 4 + 2]!, r[mi * 4 + 3]!);
    for (let pi = 0; pi < sv.parts.length; pi++) {
      const row = sv.rowOf[pi]![mi]!;
      if (row < 0) continue;
      const grouped = sv.rowsOf[pi]!;
      const samples = sv.parts[pi]!.samples;
      for (let j = grouped.start[row]!; j < grouped.start[row + 1]!; j++) {
        const at = grouped.order[j]! * S.WIDTH;
        const frame = samples[at + S.FRAME]!;
        if (kept.length >= EVIDENCE_SAMPLE && frame >= kept[kept.length - 1]!.frame) continue;
        let i = kept.length;
        while (i > 0 && kept[i - 1]!.frame > frame) i--;
        kept.splice(i, 0, { pi, at, frame });
        if (kept.length > EVIDENCE_SAMPLE) kept.pop();
      }
    }
  }
  g.sample = { items: kept.map((k) => sampleItem(sv.parts[k.pi]!.samples, k.at)), total: g.packets };
  return g;
}

function reduce(partials: readonly unknown[], _ctx: ReduceContext): Finding[] {
  const sv = new Services(partials as Partial[]);
  // The busiest services get a finding each; the rest are folded into one, so counts still add up.
  // Names are built only for the ties the order needs them for.
  const names = new Map<number, string>();
  const nameOf = (mi: number): string => {
    let name = names.get(mi);
    if (name === undefined) names.set(mi, (name = sv.name(mi)));
    return name;
  };
  const order = new Int32Array(sv.size);
  for (let i = 0; i < sv.size; i++) order[i] = i;
  order.sort((a, b) => sv.packets(b) - sv.packets(a) || nameOf(a).localeCompare(nameOf(b)));
  const shownCount = Math.min(MAX_FINDINGS, sv.size);
  const shown: Group[] = [];
  for (let i = 0; i < shownCount; i++) {
    const mi = order[i]!;
    shown.push(toGroup(sv, order.subarray(i, i + 1), nameOf(mi), sv.endpoint(mi), sv.scope[mi]! >= ORPHAN));
  }
  const rest = order.subarray(shownCount);
  if (rest.length > 0) shown.push(toGroup(sv, rest, 'other', { ip: 0, port: 0, vlan: 0 }, true));
  return shown.map((g) => toFinding(g, rest.length));
}

function toFinding(g: Group, restCount: number): Finding {
  const subject = g.key === 'other' ? `${restCount} other destination(s)` : g.orphan ? `${formatIpv4(g.service.ip)} (no tracked flow)` : endpointName(g.service);
  const kinds = Object.entries(g.byKind).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const reasons = Object.entries(g.byReason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const teardown = (g.byKind['FIN'] ?? 0) + (g.byKind['RST'] ?? 0) + (g.byKind['ICMP error'] ?? 0);
  const synAcks = g.byKind['SYN+ACK'] ?? 0;
  const summary = `${g.packets} packet(s) would be dropped by \`-m conntrack --ctstate INVALID -j DROP\`: ${kinds.map(([k, n]) => `${n} ${k}`).join(', ')}`;
  const why: string[] = [];
  const r = (reason: number): number => g.byReason[INVALID_REASON_NAMES[reason]] ?? 0;
  if (r(InvalidReason.NO_ENTRY) > 0) why.push(`${r(InvalidReason.NO_ENTRY)} had no conntrack entry and cannot create one (a SYN+ACK, FIN or RST whose connection conntrack never saw start — typical when the box sees only one direction, or after a reboot or a table flush)`);
  if (r(InvalidReason.NO_PICKUP) > 0) why.push(`${r(InvalidReason.NO_PICKUP)} had no conntrack entry, and nf_conntrack_tcp_loose=0 forbids creating one from the middle of a connection (an ACK or data whose SYN conntrack never saw)`);
  if (r(InvalidReason.BAD_STATE) > 0) why.push(`${r(InvalidReason.BAD_STATE)} came in a state where TCP does not allow them (e.g. the client's ACK while conntrack still waits for the server's SYN+ACK: the SYN+ACK took another path)`);
  if (r(InvalidReason.OUT_OF_WINDOW) > 0) why.push(`${r(InvalidReason.OUT_OF_WINDOW)} were outside the TCP window conntrack tracks (lost packets seen by the endpoints but not here, window scaling seen only one way, or middlebox rewriting)`);
  if (r(InvalidReason.RST_SEQ) > 0) why.push(`${r(InvalidReason.RST_SEQ)} were RSTs with a sequence number below what the peer had acknowledged`);
  if (r(InvalidReason.BAD_TCP_FLAGS) > 0) why.push(`${r(InvalidReason.BAD_TCP_FLAGS)} had a flag combination no stack sends (scans)`);
  if (r(InvalidReason.ICMP_NO_ENTRY) > 0) why.push(`${r(InvalidReason.ICMP_NO_ENTRY)} were ICMP errors about a connection conntrack has no entry for`);
  if (r(InvalidReason.ICMP_REPLY_NO_REQUEST) > 0) why.push(`${r(InvalidReason.ICMP_REPLY_NO_REQUEST)} were ICMP replies without a request`);
  if (r(InvalidReason.ICMP_UNTRACKABLE) > 0) why.push(`${r(InvalidReason.ICMP_UNTRACKABLE)} were ICMP messages conntrack cannot track`);
  if (r(InvalidReason.UDP_BAD_LENGTH) > 0) why.push(`${r(InvalidReason.UDP_BAD_LENGTH)} were UDP datagrams with an impossible length`);
  const explanation =
    'Conntrack would attach no connection to these packets, so a rule set that drops INVALID (ufw, Proxmox, most distributions) silently drops them: ' +
    `${why.join('; ')}. ` +
    (g.afterReject > 0
      ? `${g.afterReject} of them came after a RST answered the SYN before any other reply: conntrack deletes the entry at such a RST (it reads it as a refused connection), so the server's late SYN+ACK and the client's RST find none — see tcp.conflicting_responses if the SYN was answered twice. `
      : '') +
    (synAcks > 0 ? `${synAcks} of them are SYN+ACKs: a connection whose SYN+ACK is dropped never opens. ` : '') +
    (teardown > 0
      ? `${teardown} of them are FINs, RSTs or ICMP errors: connections then never close cleanly (sockets linger in FIN_WAIT/LAST_ACK) and Path MTU discovery breaks. `
      : '') +
    'With an LVS-DR director or any asymmetric routing, conntrack never sees the return path, so entries never become ESTABLISHED and exactly these packets are lost (incident 4).';
  // What the kernel would log for these TCP packets, per reason (see KERNEL_LOG_MESSAGES): one of
  // `messages`, for each of `packets`.
  const kernelLog: Array<{ messages: string[]; packets: number }> = [];
  for (let reason = 0; reason < INVALID_REASON_NAMES.length; reason++) {
    const messages = KERNEL_LOG_MESSAGES[reason];
    if (messages !== undefined && r(reason) > 0) kernelLog.push({ messages: messages.map((m) => `nf_ct_proto_6: ${m}`), packets: r(reason) });
  }
  const remediation =
    'Accept the packets the one-way box cannot judge before the INVALID drop, as incident 4 does: ' +
    '`iptables -I INPUT -p tcp --tcp-flags SYN,ACK,FIN,RST,URG ACK,FIN -m conntrack --ctstate INVALID -j ACCEPT; ' +
    'iptables -I INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -m conntrack --ctstate INVALID -j ACCEPT; ' +
    'iptables -I INPUT -p icmp --icmp-type destination-unreachable -j ACCEPT`; ' +
    'or do not track this traffic at all (`iptables -t raw -A PREROUTING -d <VIP> -p tcp --dport <port> -j NOTRACK`); ' +
    '`sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1` only helps with out-of-window packets; and make routing symmetric where you can.' +
    kernelLogHint(kernelLog);
  return makeFinding({
    id: ID,
    // Dropped FINs, RSTs and ICMP errors break connections that were working. A SYN+ACK without
    // its SYN is mostly a capture that began mid-handshake; when a path really sees only answers,
    // flow.one_way reports it (medium) with the connections.
    severity: teardown > 0 ? 'medium' : 'low',
    subject,
    summary,
    count: g.packets,
    first: { sec: g.firstSec, ns: g.firstNs },
    last: { sec: g.lastSec, ns: g.lastNs },
    evidence: g.sample.items,
    evidenceTotal: g.sample.total,
    explanation,
    remediation,
    details: { byKind: Object.fromEntries(kinds), byReason: Object.fromEntries(reasons), kernelLog },
  });
}

/** How to see the kernel confirm these packets on the live box, when some have a known log message. */
function kernelLogHint(kernelLog: ReadonlyArray<{ messages: readonly string[]; packets: number }>): string {
  if (kernelLog.length === 0) return '';
  const lines = kernelLog.map((l) => `"${l.messages.join('" or "')}" (${l.packets})`);
  return (
    ' To see the kernel agree on the box itself: `sysctl -w net.netfilter.nf_conntrack_log_invalid=6` makes conntrack log the TCP packets it calls INVALID or ignores, with the reason, through the netfilter logger (`/proc/sys/net/netfilter/nf_log/2` for IPv4: nf_log_syslog writes to `dmesg`, `modprobe nf_log_syslog` if none is set; nfnetlink_log to an NFLOG group). ' +
    `As Linux 6.x words them (older kernels differ), for these packets: ${lines.join(', ')}. Set it back to 0 afterwards: it logs every such packet.`
  );
}

export const ctInvalid: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: [],
  createFlow: () => new Observer(),
  reduce,
};

