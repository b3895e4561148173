/**
 * ct.table_pressure — the number of conntrack entries the capture's traffic would hold over
 * capture time (each flow's entry lives by the conntrack timeouts), against `nf_conntrack_max`
 * (incident 2: "nf_conntrack: table full, dropping packet"). Built from the shards' per-second
 * entry deltas, so the merge is exact at one-second resolution.
 */
import { liveSeries } from '../flows/merge.js';
import { formatDuration, formatTimestamp } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { makeFinding, type EvidenceItem } from './finding.js';
import type { Detector, OptionSpec, ReduceContext } from './types.js';

const ID = 'ct.table_pressure';

const OPTIONS: readonly OptionSpec[] = [
  { key: 'ct-max', default: 262144, min: 1, max: 1e10, integer: true, unit: 'entries', description: 'net.netfilter.nf_conntrack_max of the box that tracks this traffic (262144 on 64-bit hosts with more than 4 GiB; old kernels 65536)' },
  { key: 'ct-pressure', default: 80, min: 1, max: 100, unit: '%', description: 'share of ct-max from which the table is reported under pressure' },
];

function reduce(_partials: readonly unknown[], ctx: ReduceContext): Finding[] {
  if (ctx.startSec === null || ctx.endSec === null) return [];
  const max = ctx.options['ct-max']!;
  const pressure = (ctx.options['ct-pressure']! / 100) * max;
  const start = ctx.startSec;
  const end = ctx.endSec;
  // Entries alive at the end of the capture are counted until then, not until their own expiry.
  const series = liveSeries(ctx.tracker, (p) => p.entryDeltas).filter(([sec]) => sec <= end);
  const unassured = new Map(liveSeries(ctx.tracker, (p) => p.unassuredDeltas));
  let peak = 0;
  let peakSec = start;
  let above = 0;
  let fullSec: number | null = null;
  let fullSeconds = 0;
  for (let i = 0; i < series.length; i++) {
    const [sec, live] = series[i]!;
    const next = i + 1 < series.length ? series[i + 1]![0] : end + 1;
    if (live > peak) {
      peak = live;
      peakSec = sec;
    }
    if (live >= pressure) above += next - sec;
    if (live >= max) {
      if (fullSec === null) fullSec = sec;
      fullSeconds += next - sec;
    }
  }
  if (peak < pressure) return [];
  // Evidence: the first new connection made while the table was already full (the live count at
  // the end of the second before it reached nf_conntrack_max): it would have been dropped, unless
  // an entry expired earlier in its second. Counts are per second, so that is the best frame to show.
  const creates = new Map<number, { frame: number; ns: number }>();
  for (const p of ctx.tracker) {
    for (const [sec, frame, ns] of p.firstCreates) {
      const cur = creates.get(sec);
      if (cur === undefined || frame < cur.frame) creates.set(sec, { frame, ns });
    }
  }
  const firstCreate = (sec: number): { frame: number; ns: number } | null => creates.get(sec) ?? null;
  const evidence: EvidenceItem[] = [];
  let atFull: { sec: number; frame: number; ns: number } | null = null;
  if (fullSec !== null) {
    let j = 0;
    let liveBefore = 0;
    for (const sec of [...creates.keys()].filter((x) => x > fullSec!).sort((x, y) => x - y)) {
      while (j < series.length && series[j]![0] < sec) liveBefore = series[j++]![1];
      if (liveBefore >= max) {
        atFull = { sec, ...creates.get(sec)! };
        break;
      }
    }
  }
  if (atFull) evidence.push({ frame: atFull.frame, tsSec: atFull.sec, tsNs: atFull.ns, what: `first new connection while the table was full (${max.toLocaleString('en-US')} entries): it would have been dropped ("nf_conntrack: table full, dropping packet")` });
  const atPeak = firstCreate(peakSec);
  if (atPeak && atPeak.frame !== atFull?.frame) evidence.push({ frame: atPeak.frame, tsSec: peakSec, tsNs: atPeak.ns, what: `first new connection in the second of the peak (${peak.toLocaleString('en-US')} entries)` });
  const unassuredAtPeak = unassuredAt(unassured, peakSec);
  const pct = Math.round((peak / max) * 1000) / 10;
  const summary =
    `up to ${peak.toLocaleString('en-US')} conntrack entries (${pct}% of nf_conntrack_max ${max.toLocaleString('en-US')}) at ${formatTimestamp(peakSec, 0)}; ` +
    `above ${ctx.options['ct-pressure']}% for ${formatDuration(above)}` +
    (fullSec !== null ? `; full from ${formatTimestamp(fullSec, 0)} for ${formatDuration(fullSeconds)}` : '');
  const explanation =
    'Every connection a Linux firewall or NAT tracks holds a conntrack entry until its timeout runs out: 120 s for a SYN that was never answered (SYN_SENT), 5 days for an established connection that vanished without FIN. ' +
    `Replaying this capture's traffic through those timeouts, the table would have held ${peak.toLocaleString('en-US')} entries at its peak, ${unassuredAtPeak.toLocaleString('en-US')} of them not ASSURED (never answered both ways: the ones the kernel may evict to make room). ` +
    'When the table is full the kernel logs "nf_conntrack: table full, dropping packet" and drops the first packet of every new connection it cannot make room for, while existing connections keep working — so new SSH sessions fail and old ones do not, and some attempts "get lucky" as entries expire.';
  const remediation =
    `Raise the limit (\`sysctl -w net.netfilter.nf_conntrack_max=${nextPow2(Math.max(peak * 2, max))}\`, and the hash size: \`echo ${nextPow2(Math.max(peak * 2, max)) / 4} > /sys/module/nf_conntrack/parameters/hashsize\`; persist in /etc/sysctl.d/); ` +
    'shorten the timeouts that hold dead entries (`sysctl -w net.netfilter.nf_conntrack_tcp_timeout_syn_sent=30`, `nf_conntrack_tcp_timeout_established=7875` as Proxmox does); ' +
    'stop tracking traffic that needs no state (`iptables -t raw -A PREROUTING -p tcp --dport 80 -j NOTRACK`); and filter floods before they reach conntrack.';
  return [
    makeFinding({
      id: ID,
      severity: peak >= max ? 'high' : 'medium',
      subject: `nf_conntrack_max ${max}`,
      summary,
      count: peak,
      first: { sec: series.find(([, live]) => live >= pressure)?.[0] ?? peakSec, ns: 0 },
      last: { sec: peakSec, ns: 0 },
      evidence,
      evidenceTotal: evidence.length,
      explanation,
      remediation,
      details: {
        ctMax: max,
        peakEntries: peak,
        peakAt: formatTimestamp(peakSec, 0),
        peakPercent: pct,
        unassuredAtPeak,
        secondsAbovePressure: above,
        fullAt: fullSec !== null ? formatTimestamp(fullSec, 0) : null,
        secondsFull: fullSeconds,
        captureSeconds: end - start + (ctx.endNs - ctx.startNs) / 1e9,
      },
    }),
  ];
}

function unassuredAt(series: Map<number, number>, sec: number): number {
  let v = 0;
  for (const [s, live] of series) if (s <= sec) v = live;
  return v;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export const ctTablePressure: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: OPTIONS,
  reduce,
};
