/**
 * Regression checks against sample captures. Beside a capture NAME.pcap sits NAME.expect.json:
 *
 *   {
 *     "options": { "fdb-ageing": 10 },                       // analysis options for this capture
 *     "findings": [                                          // must appear
 *       { "id": "tcp.conflicting_responses", "subject": "192.0.2.20:22",
 *         "count": { "min": 3, "max": 3 }, "severity": "high" }
 *     ],
 *     "absent": ["tcp.syn_recv_buildup"],                    // must not appear (any subject)
 *     "error": null                                          // or { "kind": "truncated" }: the read error expected
 *   }
 *
 * `compare` returns the differences, one readable line each; none means the capture passes.
 */
import fs from 'node:fs';
import type { CaptureReport, Finding, Severity } from '../report/types.js';

export interface ExpectedFinding {
  id: string;
  subject?: string;
  count?: { min?: number; max?: number };
  severity?: Severity;
}

export interface Expectations {
  /** What the capture is, for people. */
  description?: string;
  options?: Record<string, number>;
  findings: ExpectedFinding[];
  absent?: string[];
  /** null: the whole file must read cleanly; { kind }: this read error is expected; absent: not checked. */
  error?: { kind: string } | null;
}

/** The expectations file beside a capture: foo.pcap → foo.expect.json (a .gz is dropped first). */
export function expectationsPath(capture: string): string {
  const base = capture.replace(/\.gz$/i, '').replace(/\.(pcapng|pcap|cap)$/i, '');
  return `${base}.expect.json`;
}

export function readExpectations(file: string): Expectations {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Expectations>;
  if (!Array.isArray(parsed.findings)) throw new Error(`${file}: "findings" must be an array`);
  for (const f of parsed.findings) if (typeof f.id !== 'string') throw new Error(`${file}: every expected finding needs an "id"`);
  if (parsed.absent !== undefined && !Array.isArray(parsed.absent)) throw new Error(`${file}: "absent" must be an array of ids`);
  return parsed as Expectations;
}

function describe(e: ExpectedFinding): string {
  const bounds = e.count ? ` count ${e.count.min ?? 0}..${e.count.max ?? '∞'}` : '';
  return `${e.id}${e.subject !== undefined ? ` [${e.subject}]` : ''}${bounds}${e.severity ? ` ${e.severity}` : ''}`;
}

function matches(f: Finding, e: ExpectedFinding): boolean {
  return f.id === e.id && (e.subject === undefined || f.subject === e.subject);
}

/** The differences between a report and its expectations; empty when it passes. */
export function compare(report: CaptureReport, exp: Expectations): string[] {
  const diff: string[] = [];
  for (const e of exp.findings) {
    const found = report.findings.filter((f) => matches(f, e));
    if (found.length === 0) {
      const sameId = report.findings.filter((f) => f.id === e.id).map((f) => f.subject);
      diff.push(`- missing   ${describe(e)}${sameId.length ? ` (found ${e.id} for: ${sameId.join(', ')})` : ''}`);
      continue;
    }
    const count = found.reduce((n, f) => n + f.count, 0);
    if (e.count?.min !== undefined && count < e.count.min) diff.push(`~ count     ${describe(e)}: got ${count}`);
    if (e.count?.max !== undefined && count > e.count.max) diff.push(`~ count     ${describe(e)}: got ${count}`);
    if (e.severity !== undefined && !found.some((f) => f.severity === e.severity)) diff.push(`~ severity  ${describe(e)}: got ${found.map((f) => f.severity).join(', ')}`);
  }
  for (const id of exp.absent ?? []) {
    for (const f of report.findings.filter((x) => x.id === id)) diff.push(`+ unexpected ${f.id} [${f.subject}] count ${f.count} ${f.severity}: ${f.summary}`);
  }
  if (exp.error !== undefined) {
    const got = report.error?.kind ?? null;
    const want = exp.error?.kind ?? null;
    if (got !== want) diff.push(`~ error     expected ${want ?? 'none'}, got ${got ?? 'none'}${report.error ? ` (${report.error.message})` : ''}`);
  }
  return diff;
}

/** Expectations that the current report meets exactly, keeping the file's options and description. */
export function expectationsFrom(report: CaptureReport, previous: Expectations | null, knownIds: readonly string[]): Expectations {
  const present = new Set(report.findings.map((f) => f.id));
  const out: Expectations = {
    ...(previous?.description ? { description: previous.description } : {}),
    ...(previous?.options ? { options: previous.options } : {}),
    findings: report.findings.map((f) => ({ id: f.id, subject: f.subject, count: { min: f.count, max: f.count }, severity: f.severity })),
    absent: knownIds.filter((id) => !present.has(id)),
    error: report.error ? { kind: report.error.kind } : null,
  };
  return out;
}
