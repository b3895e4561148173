/**
 * Merging the shards' partial results. Everything here is addition, so the totals are the same
 * however flows were spread over shards (whatever --threads is).
 */
import type { FlowTotals, TrackerPartial } from './tracker.js';
import { VERDICT_NAMES } from './verdict.js';
import { CONN_STATES } from './zeek.js';

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function mergeTotals(parts: readonly TrackerPartial[]): FlowTotals {
  const out: FlowTotals = { flows: 0, connStates: {}, verdicts: {}, protocols: {}, evictions: 0, conntrackEntries: 0, orphanIcmpErrors: 0 };
  for (const p of parts) {
    const t = p.totals;
    out.flows += t.flows;
    out.evictions += t.evictions;
    out.conntrackEntries += t.conntrackEntries;
    out.orphanIcmpErrors += t.orphanIcmpErrors;
    addCounts(out.connStates, t.connStates);
    addCounts(out.verdicts, t.verdicts);
    addCounts(out.protocols, t.protocols);
  }
  // Keys in a fixed order, so the JSON is the same byte for byte whatever the shards did.
  out.connStates = ordered(out.connStates, CONN_STATES);
  out.verdicts = ordered(out.verdicts, VERDICT_NAMES);
  out.protocols = ordered(out.protocols, Object.keys(out.protocols).sort());
  return out;
}

function ordered(counts: Record<string, number>, order: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of order) if (counts[k] !== undefined) out[k] = counts[k];
  for (const k of Object.keys(counts).sort()) if (out[k] === undefined) out[k] = counts[k]!;
  return out;
}

/**
 * The number of live conntrack entries over capture time, from the shards' per-second deltas:
 * returns [second, live entries at the end of that second] for every second where it changed.
 */
export function liveSeries(parts: readonly TrackerPartial[], pick: (p: TrackerPartial) => Array<[number, number]>): Array<[number, number]> {
  const delta = new Map<number, number>();
  for (const p of parts) for (const [sec, d] of pick(p)) delta.set(sec, (delta.get(sec) ?? 0) + d);
  const out: Array<[number, number]> = [];
  let live = 0;
  for (const sec of [...delta.keys()].sort((a, b) => a - b)) {
    const d = delta.get(sec)!;
    if (d === 0) continue;
    live += d;
    out.push([sec, live]);
  }
  return out;
}
