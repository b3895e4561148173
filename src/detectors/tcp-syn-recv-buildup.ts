/**
 * tcp.syn_recv_buildup — half-open connections piling up on a server (incident 2: a SYN flood,
 * SYN_RECV sockets filling the SYN queue, legitimate clients timing out).
 *
 * For each server ip:port, every handshake the server answered is half-open from its first
 * SYN+ACK until the final ACK or a RST — or, when neither comes, until Linux gives up on the
 * request: it retransmits the SYN+ACK after 1, 2, 4, 8, 16 s (`tcp_synack_retries`, default 5)
 * and drops the request one more doubling after the last one (63 s in all). The shards send
 * these intervals and per-second SYN counts; the merge is exact.
 */
import { IpProto } from '../decode/ipproto.js';
import { EvKind } from '../flows/evidence.js';
import { B, D } from '../flows/flow-table.js';
import { EventScratch } from '../flows/flow-view.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { formatDuration, formatIpv4, formatTimestamp } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { clientEnd, EndpointMap, endpointName, serverEnd, type Endpoint } from './flow-endpoints.js';
import type { Detector, OptionSpec, OptionValues, ReduceContext } from './types.js';

const ID = 'tcp.syn_recv_buildup';

const OPTIONS: readonly OptionSpec[] = [
  { key: 'syn-recv-threshold', default: 6, min: 1, max: 1e9, integer: true, unit: 'connections', description: 'half-open connections per server above which the count is abnormal (the seed: more than 5 or 6 sustained)' },
  { key: 'syn-recv-sustain', default: 1, min: 0, max: 1e6, unit: 's', description: 'how long the half-open count must stay above the threshold to be reported' },
  { key: 'synack-retries', default: 5, min: 0, max: 255, integer: true, unit: 'retries', description: "the server's net.ipv4.tcp_synack_retries (how long Linux keeps a half-open request)" },
  { key: 'synflood-rate', default: 200, min: 1, max: 1e9, unit: 'SYN/s', description: "Proxmox firewall's protection_synflood_rate (per source address)" },
  { key: 'synflood-burst', default: 1000, min: 1, max: 1e9, integer: true, unit: 'SYNs', description: "Proxmox firewall's protection_synflood_burst" },
];

/** Evidence kept per category, lowest frames first. */
const SAMPLE = 4;

type Sample = { items: EvidenceItem[]; total: number };

/** What a shard knows about one server. Maps and typed arrays: clonable across threads. */
interface ServerAgg {
  /** Half-open intervals [start, end] in seconds since the epoch, flattened; `n` pairs used. */
  intervals: Float64Array;
  n: number;
  /** SYNs (first transmissions and retransmissions) per second, and those never answered at all. */
  synPerSec: Map<number, number>;
  unansweredPerSec: Map<number, number>;
  synAcks: number;
  synAckRetransmissions: number;
  completed: number;
  /** Source address → SYNs * 2 + (1 if it never sent anything but SYNs). */
  sources: Map<number, number>;
  /** TTL → SYNs. */
  synTtls: Map<number, number>;
  /** Clients that got through after retransmitting their SYN: count, total delay, max delay (s). */
  delayed: number;
  delaySum: number;
  delayMax: number;
  /** Clients that retransmitted their SYN and never got an answer. */
  gaveUp: number;
  /** Evidence, created when there is some. */
  halfOpen: Sample | null;
  unanswered: Sample | null;
  late: Sample | null;
}

interface Partial {
  /** EndpointMap.byVlan: plain Maps survive the trip between threads. */
  servers: Map<number, Map<number, ServerAgg>>;
}

function newAgg(): ServerAgg {
  return {
    intervals: new Float64Array(8),
    n: 0,
    synPerSec: new Map(),
    unansweredPerSec: new Map(),
    synAcks: 0,
    synAckRetransmissions: 0,
    completed: 0,
    sources: new Map(),
    synTtls: new Map(),
    delayed: 0,
    delaySum: 0,
    delayMax: 0,
    gaveUp: 0,
    halfOpen: null,
    unanswered: null,
    late: null,
  };
}

function bump(m: Map<number, number>, k: number, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function pushInterval(a: ServerAgg, start: number, end: number): void {
  if (a.n * 2 + 2 > a.intervals.length) {
    const grown = new Float64Array(a.intervals.length * 2);
    grown.set(a.intervals);
    a.intervals = grown;
  }
  a.intervals[a.n * 2] = start;
  a.intervals[a.n * 2 + 1] = end;
  a.n++;
}

function addSample(current: Sample | null, item: EvidenceItem): Sample {
  const s = new EvidenceSample(SAMPLE);
  if (current) s.merge(current);
  s.add(item);
  return s.toJSON();
}

class Observer implements ShardObserver {
  readonly packets = 'none' as const;
  private readonly servers = new EndpointMap<ServerAgg>();
  private readonly ev = new EventScratch();

  constructor(private readonly synackRetries: number) {}

  onPacket(): void {}

  onFlowEnd(tr: FlowTracker, s: number): void {
    const t = tr.table;
    if (t.u8[s * B.STRIDE + B.PROTO] !== IpProto.TCP) return;
    const ev = this.ev;
    const n = ev.load(tr, s);
    let syns = 0;
    let firstSyn = -1;
    let synAcks = 0;
    let firstSynAck = -1;
    let lastSynAck = -1;
    let finalAck = -1;
    let answered = false;
    for (let i = 0; i < n; i++) {
      const k = ev.kind[i];
      if (ev.fromOrig[i]) {
        if (k === EvKind.SYN) {
          syns++;
          if (firstSyn < 0) firstSyn = i;
        } else if (k === EvKind.FINAL_ACK && finalAck < 0) finalAck = i;
      } else {
        answered = true;
        if (k === EvKind.SYNACK) {
          synAcks++;
          if (firstSynAck < 0) firstSynAck = i;
          lastSynAck = i;
        }
      }
    }
    if (syns === 0) return;
    const server = serverEnd(tr, s);
    let agg = this.servers.get(server.vlan, server.ip, server.port);
    if (!agg) {
      agg = newAgg();
      this.servers.set(server.vlan, server.ip, server.port, agg);
    }
    const client = clientEnd(tr, s);
    for (let i = 0; i < n; i++) {
      if (ev.kind[i] !== EvKind.SYN || !ev.fromOrig[i]) continue;
      bump(agg.synPerSec, ev.tsSec[i]);
      bump(agg.synTtls, ev.ttl[i]);
    }
    // A source that only ever sent SYNs never saw a SYN+ACK: spoofed, or unreachable.
    const origPkts = t.f64[s * D.STRIDE + D.PKTS + (t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 0 : 1)];
    const onlySyns = origPkts <= syns ? 1 : 0;
    const prev = agg.sources.get(client.ip);
    agg.sources.set(client.ip, prev === undefined ? syns * 2 + onlySyns : (Math.floor(prev / 2) + syns) * 2 + (prev & onlySyns & 1));

    if (synAcks === 0) {
      if (!answered) {
        for (let i = 0; i < n; i++) if (ev.kind[i] === EvKind.SYN && ev.fromOrig[i]) bump(agg.unansweredPerSec, ev.tsSec[i]);
        // A real client retransmits its SYN before giving up; a spoofed source sends one.
        if (syns > 1) agg.gaveUp++;
        agg.unanswered = addSample(agg.unanswered, synItem(ev, firstSyn, client, server, 'SYN never answered'));
      }
      return;
    }
    agg.synAcks += synAcks;
    // SYN+ACKs repeating a sequence number are retransmissions of one answer.
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      if (ev.kind[i] !== EvKind.SYNACK || ev.fromOrig[i]) continue;
      let seen = false;
      for (let j = 0; j < i; j++) if (ev.kind[j] === EvKind.SYNACK && !ev.fromOrig[j] && ev.seq[j] === ev.seq[i]) seen = true;
      if (!seen) distinct++;
    }
    agg.synAckRetransmissions += synAcks - distinct;
    const start = ev.time(firstSynAck);
    let rst = -1;
    for (let i = 0; i < n && rst < 0; i++) if (ev.kind[i] === EvKind.RST && ev.time(i) >= start) rst = i;
    let end: number;
    if (finalAck >= 0) {
      end = ev.time(finalAck);
      agg.completed++;
    } else if (rst >= 0) {
      end = ev.time(rst);
    } else {
      // Linux drops the request one doubling after its last SYN+ACK retransmission (1, 2, 4 ... s).
      end = ev.time(lastSynAck) + 2 ** (Math.min(synAcks, this.synackRetries + 1) - 1);
    }
    pushInterval(agg, start, end);
    if (finalAck < 0) {
      agg.halfOpen = addSample(agg.halfOpen, {
        frame: ev.frame[firstSynAck],
        tsSec: ev.tsSec[firstSynAck],
        tsNs: ev.tsNs[firstSynAck],
        what: `SYN+ACK to ${formatIpv4(client.ip)}:${client.port}: half-open${rst >= 0 ? ` until the RST in frame ${ev.frame[rst]}` : `, sent ${synAcks} time(s), never answered`}`,
        srcMac: ev.mac[firstSynAck],
        srcIp: server.ip,
        srcPort: server.port,
        dstIp: client.ip,
        dstPort: client.port,
      });
    }
    if (syns > 1 && finalAck >= 0) {
      const delay = start - ev.time(firstSyn);
      agg.delayed++;
      agg.delaySum += delay;
      agg.delayMax = Math.max(agg.delayMax, delay);
      agg.late = addSample(agg.late, synItem(ev, firstSyn, client, server, `first of ${syns} SYNs of a client that got through ${formatDuration(delay)} late`));
    }
  }

  partial(): Partial {
    return { servers: this.servers.byVlan };
  }
}

function synItem(ev: EventScratch, i: number, client: Endpoint, server: Endpoint, what: string): EvidenceItem {
  return { frame: ev.frame[i], tsSec: ev.tsSec[i], tsNs: ev.tsNs[i], what, srcMac: ev.mac[i], srcIp: client.ip, srcPort: client.port, dstIp: server.ip, dstPort: server.port };
}

/** Half-open count over time: [time, count] steps, from intervals (starts counted before ends at the same instant). */
function sweep(intervals: Float64Array, n: number, clipAt: number): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) points.push([intervals[i * 2]!, 1], [Math.min(intervals[i * 2 + 1]!, clipAt), -1]);
  points.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: Array<[number, number]> = [];
  let count = 0;
  for (const [t, d] of points) {
    count += d;
    out.push([t, count]);
  }
  return out;
}

function mergeSample(a: Sample | null, b: Sample | null): Sample | null {
  if (!a) return b;
  if (!b) return a;
  const s = new EvidenceSample(SAMPLE);
  s.merge(a);
  s.merge(b);
  return s.toJSON();
}

function mergeInto(into: ServerAgg, from: ServerAgg): void {
  for (let i = 0; i < from.n; i++) pushInterval(into, from.intervals[i * 2]!, from.intervals[i * 2 + 1]!);
  for (const [k, v] of from.synPerSec) bump(into.synPerSec, k, v);
  for (const [k, v] of from.unansweredPerSec) bump(into.unansweredPerSec, k, v);
  for (const [k, v] of from.synTtls) bump(into.synTtls, k, v);
  for (const [ip, v] of from.sources) {
    const cur = into.sources.get(ip);
    into.sources.set(ip, cur === undefined ? v : (Math.floor(cur / 2) + Math.floor(v / 2)) * 2 + (cur & v & 1));
  }
  into.synAcks += from.synAcks;
  into.synAckRetransmissions += from.synAckRetransmissions;
  into.completed += from.completed;
  into.delayed += from.delayed;
  into.delaySum += from.delaySum;
  into.delayMax = Math.max(into.delayMax, from.delayMax);
  into.gaveUp += from.gaveUp;
  into.halfOpen = mergeSample(into.halfOpen, from.halfOpen);
  into.unanswered = mergeSample(into.unanswered, from.unanswered);
  into.late = mergeSample(into.late, from.late);
}

function reduce(partials: readonly unknown[], ctx: ReduceContext): Finding[] {
  const o = ctx.options;
  const threshold = o['syn-recv-threshold']!;
  const sustain = o['syn-recv-sustain']!;
  // A server with no more half-open connections than the threshold in the whole capture cannot
  // exceed it: count first, merge only the candidates.
  const totals = new EndpointMap<number>();
  const parts = (partials as Partial[]).map((p) => new EndpointMap(p.servers));
  for (const servers of parts) {
    for (const [vlan, m] of servers.byVlan) {
      for (const [k, agg] of m) {
        const e = { vlan, ip: Math.floor(k / 65536), port: k % 65536 };
        totals.set(vlan, e.ip, e.port, (totals.get(vlan, e.ip, e.port) ?? 0) + agg.n);
      }
    }
  }
  const captureEnd = ctx.endSec === null ? Infinity : ctx.endSec + ctx.endNs * 1e-9;
  const findings: Finding[] = [];
  for (const [server, total] of totals.entries()) {
    if (total <= threshold) continue;
    const agg = newAgg();
    for (const servers of parts) {
      const a = servers.get(server.vlan, server.ip, server.port);
      if (a) mergeInto(agg, a);
    }
    // Requests still pending when the capture stopped count until its end, not beyond.
    const steps = sweep(agg.intervals, agg.n, captureEnd);
    let peak = 0;
    let peakAt = 0;
    let above = 0;
    let longestAbove = 0;
    let aboveSince = -1;
    for (let i = 0; i < steps.length; i++) {
      const [t, count] = steps[i]!;
      if (count > peak) {
        peak = count;
        peakAt = t;
      }
      const next = i + 1 < steps.length ? steps[i + 1]![0] : t;
      if (count > threshold) {
        above += next - t;
        if (aboveSince < 0) aboveSince = t;
      } else if (aboveSince >= 0) {
        longestAbove = Math.max(longestAbove, t - aboveSince);
        aboveSince = -1;
      }
    }
    if (aboveSince >= 0) longestAbove = Math.max(longestAbove, steps[steps.length - 1]![0] - aboveSince);
    if (peak <= threshold || longestAbove < sustain) continue;
    findings.push(toFinding(server, agg, { peak, peakAt, above, longestAbove, threshold }, o));
  }
  return findings;
}

function toFinding(server: Endpoint, agg: ServerAgg, st: { peak: number; peakAt: number; above: number; longestAbove: number; threshold: number }, o: OptionValues): Finding {
  const subject = endpointName(server);
  const synSecs = [...agg.synPerSec.keys()].sort((a, b) => a - b);
  const totalSyns = synSecs.reduce((n, s) => n + agg.synPerSec.get(s)!, 0);
  const peakRate = Math.max(...synSecs.map((s) => agg.synPerSec.get(s)!));
  const unanswered = [...agg.unansweredPerSec.values()].reduce((a, b) => a + b, 0);
  const sources = agg.sources.size;
  const synOnlySources = [...agg.sources.values()].filter((v) => (v & 1) === 1).length;
  const ttls = [...agg.synTtls.keys()].sort((a, b) => a - b);
  // Proxmox's protection_synflood is an iptables hashlimit per source address.
  const rate = o['synflood-rate']!;
  const burst = o['synflood-burst']!;
  const limitedPerSource = [...agg.sources.values()].reduce((n, v) => n + Math.max(0, Math.floor(v / 2) - burst), 0);
  const limitedAggregate = tokenBucket(synSecs.map((s) => [s, agg.synPerSec.get(s)!] as [number, number]), rate, burst);
  const cookies = agg.synAckRetransmissions === 0 && unanswered === 0 && agg.synAcks > st.threshold;
  const summary =
    `half-open connections to ${subject} peaked at ${st.peak} (threshold ${st.threshold}) and stayed above it ${formatDuration(st.above)}; ` +
    `${totalSyns} SYNs (peak ${peakRate}/s) from ${sources} source(s), ${unanswered} SYN(s) never answered, ${agg.synAckRetransmissions} SYN+ACK retransmission(s)`;
  const spoof =
    synOnlySources > 0
      ? `${synOnlySources} of ${sources} sources never sent anything but SYNs (they never received the SYN+ACKs: spoofed addresses, or routed to nowhere)` +
        (ttls.length <= 2 ? `, and all SYNs carry ${ttls.length === 1 ? 'a single TTL' : 'only two TTLs'} (${ttls.join(', ')}): one sender behind the many addresses.` : `; their SYNs carry ${ttls.length} different TTLs.`)
      : 'Every source also sent more than SYNs: the clients are real.';
  const delayed = agg.delayed > 0 ? ` ${agg.delayed} client(s) got through only after retransmitting their SYN (up to ${formatDuration(agg.delayMax)} late).` : '';
  const gaveUp = agg.gaveUp > 0 ? ` ${agg.gaveUp} client(s) retransmitted their SYN and never got an answer.` : '';
  const explanation =
    `A server keeps each half-open connection (SYN received, SYN+ACK sent, final ACK awaited) in its SYN queue, in state SYN_RECV, and retransmits the SYN+ACK after 1, 2, 4, 8 and 16 s (tcp_synack_retries=${o['synack-retries']}), so an unanswered request occupies a slot for about a minute. ` +
    'A handful in SYN_RECV is normal; more than 5 or 6 sustained means SYNs arrive that never complete — a SYN flood from spoofed addresses, or clients whose final ACK is lost. ' +
    `When the queue is full the kernel drops new SYNs: ${unanswered > 0 ? `here ${unanswered} SYN(s) got no answer at all` : 'no SYN was left unanswered here'}.${delayed}${gaveUp} ` +
    `${spoof} ` +
    (agg.synAckRetransmissions > 0
      ? 'The server retransmits its SYN+ACKs, so it keeps per-request state: SYN cookies are off or not triggered. '
      : cookies
        ? 'No SYN+ACK was retransmitted and no SYN dropped although many were half-open: the kernel may be answering with SYN cookies (stateless). '
        : '') +
    `Proxmox's per-source SYN limit (${rate}/s, burst ${burst}) would have stopped ${limitedPerSource} SYN(s)${limitedPerSource === 0 && synOnlySources > 0 ? ' — none, because each spoofed address sends few SYNs' : ''}; a limit on the total rate would have stopped ${limitedAggregate}. ` +
    'If the firewall tracks connections, each of these SYNs also takes a conntrack entry (SYN_SENT, 120 s): see ct.table_pressure.';
  const remediation =
    '`sysctl -w net.ipv4.tcp_syncookies=1` (answer with stateless SYN cookies once the queue is full; the default on most distributions); ' +
    "`sysctl -w net.ipv4.tcp_max_syn_backlog=4096` and a larger listen backlog (`net.core.somaxconn`, the application's listen() backlog); " +
    '`sysctl -w net.ipv4.tcp_synack_retries=2` (a half-open request then lasts 7 s instead of 63); ' +
    'Proxmox: enable `protection_synflood` (per-source `protection_synflood_rate`/`protection_synflood_burst`) in the firewall options; ' +
    'upstream: rate-limit or scrub SYNs (`iptables -A INPUT -p tcp --syn -m hashlimit --hashlimit-above 200/sec --hashlimit-burst 1000 --hashlimit-mode dstip,dstport --hashlimit-name synflood -j DROP`), and ask the provider to filter spoofed sources (BCP 38).';
  const samples = [agg.halfOpen, agg.unanswered, agg.late].filter((x): x is Sample => x !== null);
  const first = synSecs[0]!;
  const last = synSecs[synSecs.length - 1]!;
  return makeFinding({
    id: ID,
    severity: unanswered > 0 || agg.gaveUp > 0 ? 'high' : 'medium',
    subject,
    summary,
    count: agg.n,
    first: { sec: first, ns: 0 },
    last: { sec: last, ns: 0 },
    evidence: samples.flatMap((x) => x.items),
    evidenceTotal: samples.reduce((n, x) => n + x.total, 0),
    explanation,
    remediation,
    details: {
      server: subject,
      peakHalfOpen: st.peak,
      peakAt: formatTimestamp(Math.floor(st.peakAt), Math.round((st.peakAt % 1) * 1e9)),
      threshold: st.threshold,
      secondsAboveThreshold: round3(st.above),
      longestAboveSeconds: round3(st.longestAbove),
      halfOpenConnections: agg.n,
      completedHandshakes: agg.completed,
      syns: totalSyns,
      peakSynsPerSecond: peakRate,
      unansweredSyns: unanswered,
      synAcks: agg.synAcks,
      synAckRetransmissions: agg.synAckRetransmissions,
      sources,
      synOnlySources,
      synTtls: Object.fromEntries(ttls.map((t) => [String(t), agg.synTtls.get(t)!])),
      delayedClients: agg.delayed,
      maxClientDelaySeconds: round3(agg.delayMax),
      clientsGaveUp: agg.gaveUp,
      synCookiesLikely: cookies,
      proxmoxLimitedPerSource: limitedPerSource,
      aggregateLimited: limitedAggregate,
    },
  });
}

/** SYNs a token bucket of `rate`/s and `burst` would have dropped, at one-second resolution. */
function tokenBucket(perSecond: Array<[number, number]>, rate: number, burst: number): number {
  let tokens = burst;
  let lastSec = perSecond.length > 0 ? perSecond[0]![0] : 0;
  let dropped = 0;
  for (const [sec, n] of perSecond) {
    tokens = Math.min(burst, tokens + (sec - lastSec) * rate);
    lastSec = sec;
    const pass = Math.min(n, Math.floor(tokens));
    tokens -= pass;
    dropped += n - pass;
  }
  return dropped;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export const tcpSynRecvBuildup: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: OPTIONS,
  createFlow: (o) => new Observer(o['synack-retries']!),
  reduce,
};
