/**
 * Helpers to build findings: evidence entries that an engineer can look up in Wireshark, bounded
 * samples that merge deterministically across shards, and the ordering of findings.
 */
import { formatIpv4, formatMac, formatTimestamp } from '../report/format.js';
import type { Evidence, Finding, Severity } from '../report/types.js';

/** Default number of evidence frames kept per finding (the total is always reported). */
export const EVIDENCE_SAMPLE = 8;

/** A compact evidence item as detectors collect it (numbers only; formatted at the end). */
export interface EvidenceItem {
  frame: number;
  tsSec: number;
  tsNs: number;
  what: string;
  srcMac?: number;
  dstMac?: number;
  srcIp?: number;
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
}

export function toEvidence(e: EvidenceItem): Evidence {
  const out: Evidence = { frame: e.frame, time: formatTimestamp(e.tsSec, e.tsNs), what: e.what };
  if (e.srcMac !== undefined) out.srcMac = formatMac(e.srcMac);
  if (e.dstMac !== undefined) out.dstMac = formatMac(e.dstMac);
  if (e.srcIp !== undefined) out.src = e.srcPort !== undefined ? `${formatIpv4(e.srcIp)}:${e.srcPort}` : formatIpv4(e.srcIp);
  if (e.dstIp !== undefined) out.dst = e.dstPort !== undefined ? `${formatIpv4(e.dstIp)}:${e.dstPort}` : formatIpv4(e.dstIp);
  return out;
}

/**
 * Keeps the `limit` items with the lowest frame numbers. Deterministic whatever the order items
 * arrive in, so samples merged from shards equal a single-threaded run's.
 */
export class EvidenceSample {
  items: EvidenceItem[] = [];
  total = 0;

  constructor(private readonly limit = EVIDENCE_SAMPLE) {}

  add(item: EvidenceItem): void {
    this.total++;
    this.insert(item);
  }

  /** Adds a group of items that belong together (kept or dropped as a group, by first frame). */
  addAll(items: readonly EvidenceItem[], countAs = items.length): void {
    this.total += countAs;
    for (const it of items) this.insert(it);
  }

  private insert(item: EvidenceItem): void {
    const items = this.items;
    if (items.length >= this.limit && item.frame >= items[items.length - 1]!.frame) return;
    let i = items.length;
    while (i > 0 && items[i - 1]!.frame > item.frame) i--;
    items.splice(i, 0, item);
    if (items.length > this.limit) items.pop();
  }

  /** Merges another sample (from another shard). */
  merge(other: { items: readonly EvidenceItem[]; total: number }): void {
    this.total += other.total;
    for (const it of other.items) this.insert(it);
  }

  toJSON(): { items: EvidenceItem[]; total: number } {
    return { items: this.items, total: this.total };
  }
}

/** A finding with the common fields filled and times formatted. */
export function makeFinding(f: {
  id: string;
  severity: Severity;
  subject: string;
  summary: string;
  count: number;
  first: { sec: number; ns: number } | null;
  last: { sec: number; ns: number } | null;
  evidence: readonly EvidenceItem[];
  evidenceTotal: number;
  explanation: string;
  remediation: string;
  details?: Record<string, unknown>;
}): Finding {
  const out: Finding = {
    id: f.id,
    severity: f.severity,
    subject: f.subject,
    summary: f.summary,
    count: f.count,
    first: f.first ? formatTimestamp(f.first.sec, f.first.ns) : null,
    last: f.last ? formatTimestamp(f.last.sec, f.last.ns) : null,
    evidence: [...f.evidence].sort((a, b) => a.frame - b.frame).map(toEvidence),
    evidenceTotal: f.evidenceTotal,
    explanation: f.explanation,
    remediation: f.remediation,
  };
  if (f.details) out.details = f.details;
  return out;
}

const SEVERITY_RANK: Record<Severity, number> = { high: 3, medium: 2, low: 1, info: 0 };

/** Most severe first, then by id and subject: a stable order for reports and tests. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.id.localeCompare(b.id) || a.subject.localeCompare(b.subject, 'en', { numeric: true }),
  );
}

export function severityAtLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_RANK[s] >= SEVERITY_RANK[min];
}

/** A first..last time range kept as numbers (seconds and nanoseconds). */
export interface TimeRange {
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
}

/** Widens `r` to include first..last (a single time: the same twice). */
export function widenRange(r: TimeRange, firstSec: number, firstNs: number, lastSec: number, lastNs: number): void {
  if (firstSec < r.firstSec || (firstSec === r.firstSec && firstNs < r.firstNs)) {
    r.firstSec = firstSec;
    r.firstNs = firstNs;
  }
  if (lastSec > r.lastSec || (lastSec === r.lastSec && lastNs > r.lastNs)) {
    r.lastSec = lastSec;
    r.lastNs = lastNs;
  }
}

/** Adds per-name counts into `into`. */
export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

