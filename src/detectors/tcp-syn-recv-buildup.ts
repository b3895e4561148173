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
import { readEvents, type FlowEvent } from '../flows/flow-view.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { formatDuration, formatIpv4, formatTimestamp } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { clientEnd, endpointKey, endpointName, serverEnd } from './flow-endpoints.js';
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

interface ServerAgg {
  key: string;
  ip: number;
  port: number;
  vlan: number;
  /** Half-open intervals [start, end] in seconds since the epoch, flattened. */
  intervals: number[];
  /** The interval's end is the end of the capture: the request was still pending. */
  openAtEnd: number;
  /** SYNs (first transmissions and retransmissions) per second. */
  synPerSec: Record<number, number>;
  /** SYNs never answered by anything, per second. */
  unansweredPerSec: Record<number, number>;
  synAcks: number;
  synAckRetransmissions: number;
  completed: number;
  /** Source address → [SYNs, 1 if it only ever sent SYNs]. */
  sources: Record<number, [number, number]>;
  /** TTL → SYNs. */
  synTtls: Record<number, number>;
  /** Clients that got through after retransmitting their SYN: [count, total delay s, max delay s]. */
  delayed: [number, number, number];
  /** Clients that retransmitted their SYN and never got an answer. */
  gaveUp: number;
  samples: { synAck: S; unanswered: S; delayed: S };
}
type S = { items: EvidenceItem[]; total: number };

interface Partial {
  servers: ServerAgg[];
}

function bumpRec(r: Record<number, number>, k: number, by = 1): void {
  r[k] = (r[k] ?? 0) + by;
}

class Observer implements ShardObserver {
  private readonly servers = new Map<string, ServerAgg>();
  private readonly samples = new Map<string, { synAck: EvidenceSample; unanswered: EvidenceSample; delayed: EvidenceSample }>();

  constructor(private readonly synackRetries: number) {}

  onPacket(): void {}

  onFlowEnd(tr: FlowTracker, s: number): void {
    const t = tr.table;
    if (t.u8[s * B.STRIDE + B.PROTO] !== IpProto.TCP) return;
    const events = readEvents(tr, s);
    const syns = events.filter((e) => e.kind === EvKind.SYN && e.fromOrig);
    if (syns.length === 0) return;
    const server = serverEnd(tr, s);
    const client = clientEnd(tr, s);
    const key = endpointKey(server);
    let agg = this.servers.get(key);
    let sm = this.samples.get(key);
    if (!agg || !sm) {
      agg = {
        key,
        ip: server.ip,
        port: server.port,
        vlan: server.vlan,
        intervals: [],
        openAtEnd: 0,
        synPerSec: {},
        unansweredPerSec: {},
        synAcks: 0,
        synAckRetransmissions: 0,
        completed: 0,
        sources: {},
        synTtls: {},
        delayed: [0, 0, 0],
        gaveUp: 0,
        samples: { synAck: { items: [], total: 0 }, unanswered: { items: [], total: 0 }, delayed: { items: [], total: 0 } },
      };
      sm = { synAck: new EvidenceSample(SAMPLE), unanswered: new EvidenceSample(SAMPLE), delayed: new EvidenceSample(SAMPLE) };
      this.servers.set(key, agg);
      this.samples.set(key, sm);
    }
    for (const e of syns) {
      bumpRec(agg.synPerSec, e.tsSec);
      bumpRec(agg.synTtls, e.ttl);
    }
    // A source that only ever sent SYNs never saw our SYN+ACK: spoofed, or unreachable.
    const origPkts = tr.table.f64[s * D.STRIDE + D.PKTS + (t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 0 : 1)];
    const src = agg.sources[client.ip] ?? [0, 1];
    src[0] += syns.length;
    if (origPkts > syns.length) src[1] = 0;
    agg.sources[client.ip] = src;

    const synAcks = events.filter((e) => e.kind === EvKind.SYNACK && !e.fromOrig);
    if (synAcks.length === 0) {
      const answered = events.some((e) => !e.fromOrig);
      if (!answered) {
        for (const e of syns) bumpRec(agg.unansweredPerSec, e.tsSec);
        // A real client retransmits its SYN before giving up; a spoofed source sends one.
        if (syns.length > 1) agg.gaveUp++;
        sm.unanswered.add(synEvidence(syns[0]!, client, server, 'SYN never answered'));
      }
      return;
    }
    agg.synAcks += synAcks.length;
    // SYN+ACKs repeating the same sequence number are retransmissions of one answer.
    agg.synAckRetransmissions += synAcks.length - new Set(synAcks.map((e) => e.seq)).size;
    const first = synAcks[0]!;
    const last = synAcks[synAcks.length - 1]!;
    const start = time(first);
    const finalAck = events.find((e) => e.kind === EvKind.FINAL_ACK && e.fromOrig);
    const rst = events.find((e) => e.kind === EvKind.RST && time(e) >= start);
    let end: number;
    if (finalAck) {
      end = time(finalAck);
      agg.completed++;
    } else if (rst) {
      end = time(rst);
    } else {
      // Linux drops the request one doubling after its last SYN+ACK retransmission (1, 2, 4 ... s).
      const n = Math.min(synAcks.length, this.synackRetries + 1);
      end = time(last) + 2 ** (n - 1);
    }
    agg.intervals.push(start, end);
    if (!finalAck) sm.synAck.add({
      frame: first.frame,
      tsSec: first.tsSec,
      tsNs: first.tsNs,
      what: `SYN+ACK to ${formatIpv4(client.ip)}:${client.port}: half-open${rst ? ` until the RST in frame ${rst.frame}` : `, sent ${synAcks.length} time(s), never answered`}`,
      srcIp: server.ip,
      srcPort: server.port,
      dstIp: client.ip,
      dstPort: client.port,
      srcMac: first.mac,
    });
    if (syns.length > 1 && finalAck) {
      const delay = start - time(syns[0]!);
      agg.delayed[0]++;
      agg.delayed[1] += delay;
      agg.delayed[2] = Math.max(agg.delayed[2], delay);
      sm.delayed.add(synEvidence(syns[0]!, client, server, `first of ${syns.length} SYNs of a client that got through ${formatDuration(delay)} late`));
    }
  }

  partial(): Partial {
    const servers = [...this.servers.values()].sort((a, b) => a.key.localeCompare(b.key));
    for (const agg of servers) {
      const sm = this.samples.get(agg.key)!;
      agg.samples = { synAck: sm.synAck.toJSON(), unanswered: sm.unanswered.toJSON(), delayed: sm.delayed.toJSON() };
    }
    return { servers };
  }
}

function time(e: FlowEvent): number {
  return e.tsSec + e.tsNs * 1e-9;
}

function synEvidence(e: FlowEvent, client: { ip: number; port: number }, server: { ip: number; port: number }, what: string): EvidenceItem {
  return { frame: e.frame, tsSec: e.tsSec, tsNs: e.tsNs, what, srcMac: e.mac, srcIp: client.ip, srcPort: client.port, dstIp: server.ip, dstPort: server.port };
}

/** Half-open count over time: [time, count] steps, from intervals (starts counted before ends at the same instant). */
function sweep(intervals: readonly number[]): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let i = 0; i < intervals.length; i += 2) {
    points.push([intervals[i]!, 1], [intervals[i + 1]!, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: Array<[number, number]> = [];
  let n = 0;
  for (const [t, d] of points) {
    n += d;
    out.push([t, n]);
  }
  return out;
}

function merge(into: ServerAgg, from: ServerAgg): void {
  into.intervals.push(...from.intervals);
  into.openAtEnd += from.openAtEnd;
  for (const [k, v] of Object.entries(from.synPerSec)) bumpRec(into.synPerSec, Number(k), v);
  for (const [k, v] of Object.entries(from.unansweredPerSec)) bumpRec(into.unansweredPerSec, Number(k), v);
  for (const [k, v] of Object.entries(from.synTtls)) bumpRec(into.synTtls, Number(k), v);
  into.synAcks += from.synAcks;
  into.synAckRetransmissions += from.synAckRetransmissions;
  into.completed += from.completed;
  for (const [k, [n, only]] of Object.entries(from.sources)) {
    const cur = into.sources[Number(k)];
    into.sources[Number(k)] = cur ? [cur[0] + n, cur[1] & only] : [n, only];
  }
  into.delayed = [into.delayed[0] + from.delayed[0], into.delayed[1] + from.delayed[1], Math.max(into.delayed[2], from.delayed[2])];
  into.gaveUp += from.gaveUp;
  for (const k of ['synAck', 'unanswered', 'delayed'] as const) {
    const s = new EvidenceSample(SAMPLE);
    s.merge(into.samples[k]);
    s.merge(from.samples[k]);
    into.samples[k] = s.toJSON();
  }
}

function reduce(partials: readonly unknown[], ctx: ReduceContext): Finding[] {
  const merged = new Map<string, ServerAgg>();
  for (const p of partials as Partial[]) {
    for (const sa of p.servers) {
      const m = merged.get(sa.key);
      if (m) merge(m, sa);
      else merged.set(sa.key, structuredClone(sa));
    }
  }
  const o = ctx.options;
  const threshold = o['syn-recv-threshold']!;
  const sustain = o['syn-recv-sustain']!;
  const captureEnd = ctx.endSec === null ? Infinity : ctx.endSec + ctx.endNs * 1e-9;
  const findings: Finding[] = [];
  for (const agg of [...merged.values()].sort((a, b) => a.key.localeCompare(b.key))) {
    // Requests still pending when the capture stopped count until its end, not beyond.
    const clipped: number[] = [];
    for (let i = 0; i < agg.intervals.length; i += 2) clipped.push(agg.intervals[i]!, Math.min(agg.intervals[i + 1]!, captureEnd));
    const steps = sweep(clipped);
    let peak = 0;
    let peakAt = 0;
    let above = 0;
    let longestAbove = 0;
    let aboveSince = -1;
    for (let i = 0; i < steps.length; i++) {
      const [t, n] = steps[i]!;
      if (n > peak) {
        peak = n;
        peakAt = t;
      }
      const next = i + 1 < steps.length ? steps[i + 1]![0] : t;
      if (n > threshold) {
        above += next - t;
        if (aboveSince < 0) aboveSince = t;
      } else if (aboveSince >= 0) {
        longestAbove = Math.max(longestAbove, t - aboveSince);
        aboveSince = -1;
      }
    }
    if (aboveSince >= 0) longestAbove = Math.max(longestAbove, steps[steps.length - 1]![0] - aboveSince);
    if (peak <= threshold || longestAbove < sustain) continue;
    findings.push(toFinding(agg, { peak, peakAt, above, longestAbove, threshold }, o));
  }
  return findings;
}

function toFinding(
  agg: ServerAgg,
  st: { peak: number; peakAt: number; above: number; longestAbove: number; threshold: number },
  o: OptionValues,
): Finding {
  const subject = endpointName(agg);
  const synSecs = Object.keys(agg.synPerSec).map(Number).sort((a, b) => a - b);
  const totalSyns = synSecs.reduce((n, s) => n + agg.synPerSec[s]!, 0);
  const peakRate = Math.max(...synSecs.map((s) => agg.synPerSec[s]!));
  const unanswered = Object.values(agg.unansweredPerSec).reduce((a, b) => a + b, 0);
  const sources = Object.values(agg.sources);
  const synOnlySources = sources.filter(([, only]) => only === 1).length;
  const ttls = Object.keys(agg.synTtls).map(Number);
  // Proxmox's protection_synflood is an iptables hashlimit per source address.
  const rate = o['synflood-rate']!;
  const burst = o['synflood-burst']!;
  const limitedPerSource = Object.values(agg.sources).reduce((n, [syns]) => n + Math.max(0, syns - burst), 0);
  const limitedAggregate = tokenBucket(synSecs.map((s) => [s, agg.synPerSec[s]!] as [number, number]), rate, burst);
  const cookies = agg.synAckRetransmissions === 0 && unanswered === 0 && agg.synAcks > st.threshold;
  const first = synSecs[0]!;
  const last = synSecs[synSecs.length - 1]!;
  const summary =
    `half-open connections to ${subject} peaked at ${st.peak} (threshold ${st.threshold}) and stayed above it ${formatDuration(st.above)}; ` +
    `${totalSyns} SYNs (peak ${peakRate}/s) from ${sources.length} source(s), ${unanswered} SYN(s) never answered, ${agg.synAckRetransmissions} SYN+ACK retransmission(s)`;
  const spoof =
    synOnlySources > 0
      ? `${synOnlySources} of ${sources.length} sources never sent anything but SYNs (they never received the SYN+ACKs: spoofed addresses, or routed to nowhere)` +
        (ttls.length <= 2 ? `, and their SYNs carry ${ttls.length === 1 ? 'a single TTL' : 'only two TTLs'} (${ttls.join(', ')}): one sender behind the many addresses.` : `; their SYNs carry ${ttls.length} different TTLs.`)
      : 'Every source also sent more than SYNs: the clients are real.';
  const delayed =
    agg.delayed[0] > 0
      ? ` ${agg.delayed[0]} client(s) got through only after retransmitting their SYN (up to ${formatDuration(agg.delayed[2])} late).`
      : '';
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
    '`sysctl -w net.ipv4.tcp_max_syn_backlog=4096` and a larger listen backlog (`net.core.somaxconn`, the application\'s listen() backlog); ' +
    '`sysctl -w net.ipv4.tcp_synack_retries=2` (a half-open request then lasts 7 s instead of 63); ' +
    'Proxmox: enable `protection_synflood` (per-source `protection_synflood_rate`/`protection_synflood_burst`) in the firewall options; ' +
    'upstream: rate-limit or scrub SYNs (`iptables -A INPUT -p tcp --syn -m hashlimit --hashlimit-above 200/sec --hashlimit-burst 1000 --hashlimit-mode dstip,dstport --hashlimit-name synflood -j DROP`), and ask the provider to filter spoofed sources (BCP 38).';
  const ev = [...agg.samples.synAck.items, ...agg.samples.unanswered.items, ...agg.samples.delayed.items];
  const evTotal = agg.samples.synAck.total + agg.samples.unanswered.total + agg.samples.delayed.total;
  return makeFinding({
    id: ID,
    severity: unanswered > 0 || agg.gaveUp > 0 ? 'high' : 'medium',
    subject,
    summary,
    count: agg.intervals.length / 2,
    first: { sec: first, ns: 0 },
    last: { sec: last, ns: 0 },
    evidence: ev,
    evidenceTotal: evTotal,
    explanation,
    remediation,
    details: {
      server: subject,
      peakHalfOpen: st.peak,
      peakAt: formatTimestamp(Math.floor(st.peakAt), Math.round((st.peakAt % 1) * 1e9)),
      threshold: st.threshold,
      secondsAboveThreshold: round3(st.above),
      longestAboveSeconds: round3(st.longestAbove),
      halfOpenConnections: agg.intervals.length / 2,
      completedHandshakes: agg.completed,
      syns: totalSyns,
      peakSynsPerSecond: peakRate,
      unansweredSyns: unanswered,
      synAcks: agg.synAcks,
      synAckRetransmissions: agg.synAckRetransmissions,
      sources: sources.length,
      synOnlySources,
      synTtls: Object.fromEntries(Object.entries(agg.synTtls).sort((a, b) => Number(a[0]) - Number(b[0]))),
      delayedClients: agg.delayed[0],
      maxClientDelaySeconds: round3(agg.delayed[2]),
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

