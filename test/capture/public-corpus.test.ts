/**
 * Every file of the public corpus (all formats, ~130 of them malformed) through `analyzeFile`:
 * it must answer without throwing or hanging, count the frames tshark counts, and explain every
 * file it cannot read completely with an error that says where.
 */
import fs from 'node:fs';
import { expect, it } from 'vitest';
import { analyzeFile } from '../../src/analysis/analyze.js';
import type { CaptureErrorKind } from '../../src/capture/errors.js';
import { EVENT_COUNT, eventName } from '../../src/events.js';
import type { CaptureReport } from '../../src/report/types.js';
import { describeWithPublicCaptures, loadPublicCaptures, PUBLIC_CAPTURES_DIR, type PublicCapture } from '../helpers/public-captures.js';

/** The documented error kinds (src/capture/errors.ts). */
const ERROR_KINDS = ['io', 'empty', 'not_a_capture', 'unsupported_version', 'corrupt_header', 'corrupt_record', 'truncated'] as const satisfies readonly CaptureErrorKind[];
// Fails to type-check (npm run typecheck) when a kind is added to CaptureErrorKind and not here.
const allKindsListed: Exclude<CaptureErrorKind, (typeof ERROR_KINDS)[number]> extends never ? true : never = true;

const REGISTERED_EVENTS = new Set(Array.from({ length: EVENT_COUNT }, (_, i) => eventName(i)));

/**
 * Hang detection, not a speed measurement: the files are small and take milliseconds. Only an
 * asynchronous hang (a stream that never ends) can be caught this way; an endless synchronous loop
 * would block the timer as well.
 */
const PER_FILE_TIMEOUT_MS = 10_000;

/** Manifest anomaly → the event our reader (or capture statistics) counts for it. */
const ANOMALY_EVENTS: Record<string, string> = {
  frac_overflow: 'capture.pcap.ts_fraction_overflow',
  incl_gt_orig: 'capture.record.caplen_exceeds_wirelen',
  incl_gt_snaplen: 'capture.record.caplen_exceeds_snaplen',
  ts_backwards: 'capture.record.time_went_backwards',
};

async function analyzeWithTimeout(file: string, opts: { chunkBytes?: number } = {}): Promise<CaptureReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer after ${PER_FILE_TIMEOUT_MS} ms (hang?)`)), PER_FILE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([analyzeFile(file, opts), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** tshark's error text in the manifest, if any. */
function tsharkError(c: PublicCapture): string | null {
  const m = /tshark: tshark: (.*)$/.exec(c.contents);
  return m ? m[1]! : null;
}

/** The manifest's header/record anomaly counts, e.g. {"frac_overflow": 2}. */
function anomalies(c: PublicCapture): Record<string, unknown> {
  const m = /hdr\/record anomalies (\{[^}]*\})/.exec(c.contents);
  return m ? (JSON.parse(m[1]!) as Record<string, unknown>) : {};
}

/** Checks one report against the manifest row; returns the problems found. */
function checkReport(c: PublicCapture, r: CaptureReport): string[] {
  const problems: string[] = [];
  const p = (s: string): void => void problems.push(`${c.file}: ${s}`);

  // Frame counts: tshark is the reference wherever it read the file.
  const tshark = tsharkError(c);
  if (c.packetsTshark !== null && c.packetsTshark > 0) {
    if (r.frames !== c.packetsTshark) p(`${r.frames} frames, tshark counts ${c.packetsTshark}`);
  } else if (c.packetsTshark === 0 && tshark === null) {
    // tshark read the file and found no packets: an empty but valid capture.
    if (r.frames !== 0 || r.error !== null) p(`tshark reads this as an empty capture; we read ${r.frames} frame(s), error ${r.error?.message ?? 'none'}`);
  } else if (c.packetsTshark === null && r.error === null) {
    p('tshark cannot read this file at all, but we report no error');
  }

  // Report consistency.
  const linkTypeSum = Object.values(r.linkTypes).reduce((s, n) => s + n, 0);
  if (linkTypeSum !== r.frames) p(`linkTypes add up to ${linkTypeSum}, frames is ${r.frames} (${JSON.stringify(r.linkTypes)})`);
  for (const name of Object.keys(r.events)) if (!REGISTERED_EVENTS.has(name)) p(`event "${name}" is not in the registry`);

  // Errors: a documented kind, and a message that says which file, where, and which frame.
  const e = r.error;
  if (e) {
    if (!(ERROR_KINDS as readonly string[]).includes(e.kind)) p(`error kind "${e.kind}" is not documented`);
    if (!e.message.startsWith(`${c.path}: `)) p(`error message does not start with the file name: ${e.message}`);
    if (!e.message.includes(`byte offset ${e.offset}`)) p(`error message does not give the byte offset ${e.offset}: ${e.message}`);
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > c.sizeBytes) p(`error offset ${e.offset} is outside the ${c.sizeBytes}-byte file`);
    if (e.frame > 0) {
      if (!e.message.includes(`frame ${e.frame}, `)) p(`error message does not name frame ${e.frame}: ${e.message}`);
      // The frame that could not be read is the one after the last frame read.
      if (e.frame !== r.frames + 1) p(`error names frame ${e.frame}, but ${r.frames} frame(s) were read before it`);
    } else {
      if (e.offset !== 0 || r.frames !== 0) p(`error names no frame (file header) but is at offset ${e.offset} after ${r.frames} frame(s)`);
    }
    if (e.kind === 'corrupt_record' && e.frame < 1) p(`record error without a frame number: ${e.message}`);
  }

  // Files tshark refuses or finds damaged must not pass silently.
  if (tshark !== null) {
    if (e === null && Object.keys(r.events).length === 0) p(`tshark says "${tshark}", but we report neither an error nor an event`);
    // A damaged file or an impossible header must stop us (an unknown link type need not).
    if (/damaged or corrupt|version|reserved field/.test(tshark) && e === null) p(`tshark says "${tshark}", but we report no error`);
  }

  // Anomalies the manifest counted over the whole file: counted as events when we read it whole.
  if (e === null) {
    for (const [anomaly, count] of Object.entries(anomalies(c))) {
      const event = ANOMALY_EVENTS[anomaly];
      if (event && (r.events[event] ?? 0) !== count) p(`manifest counts ${anomaly}=${String(count)}, we count ${event}=${r.events[event] ?? 0}`);
    }
  }
  return problems;
}

describeWithPublicCaptures('public capture corpus', () => {
  it('lists every file of the folder, and every listed file exists', () => {
    const rows = loadPublicCaptures();
    const onDisk = fs.readdirSync(PUBLIC_CAPTURES_DIR).filter((f) => f !== 'MANIFEST.tsv' && f !== 'README.md');
    expect(rows.length, 'manifest rows').toBeGreaterThanOrEqual(1000);
    expect(rows.map((r) => r.file).sort()).toEqual(onDisk.sort());
    for (const r of rows) expect(fs.statSync(r.path).size, `${r.file}: size in the manifest`).toBe(r.sizeBytes);
  });

  it('analyzes every file without throwing or hanging, with tshark frame counts and located errors', async () => {
    const rows = loadPublicCaptures();
    const problems: string[] = [];
    const errors: Array<[string, string]> = [];
    let analyzed = 0;
    let countedLikeTshark = 0;
    for (const c of rows) {
      let r: CaptureReport;
      try {
        r = await analyzeWithTimeout(c.path);
      } catch (err) {
        problems.push(`${c.file}: analyzeFile failed: ${(err as Error).stack ?? String(err)}`);
        continue;
      }
      analyzed++;
      if (c.packetsTshark !== null && c.packetsTshark > 0 && r.frames === c.packetsTshark) countedLikeTshark++;
      problems.push(...checkReport(c, r));
      if (r.error) errors.push([c.file, `[${r.error.kind}] ${r.error.message.replace(c.path, c.file)}`]);
    }

    const width = Math.max(...errors.map(([f]) => f.length));
    console.log(
      [
        `public corpus: ${analyzed} of ${rows.length} files analyzed; ${countedLikeTshark} with tshark's frame count; ${errors.length} with an error:`,
        ...errors.map(([f, m]) => `  ${f.padEnd(width)}  ${m}`),
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(analyzed).toBe(rows.length);
    expect(countedLikeTshark, 'files whose frame count was compared with tshark').toBeGreaterThan(900);
    expect(allKindsListed).toBe(true);
  });

  it('gives the same report when the file is read in small chunks (records straddle chunk boundaries)', async () => {
    const rows = loadPublicCaptures();
    const problems: string[] = [];
    for (const c of rows) {
      const whole = await analyzeWithTimeout(c.path);
      const chunked = await analyzeWithTimeout(c.path, { chunkBytes: 509 });
      try {
        expect(chunked).toEqual(whole);
      } catch {
        problems.push(`${c.file}: report with 509-byte chunks differs: ${JSON.stringify(diffKeys(whole, chunked))}`);
      }
    }
    expect(problems).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(1000);
  });
});

function diffKeys(a: CaptureReport, b: CaptureReport): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const k of Object.keys(a) as Array<keyof CaptureReport>) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out[k] = [a[k], b[k]];
  }
  return out;
}
