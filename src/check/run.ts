/**
 * `pcapscan check [DIR]`: analyze every capture under DIR that has an expectations file beside
 * it, and compare (or, with --update, rewrite the expectations for a person to review).
 */
import fs from 'node:fs';
import { analyzeFile } from '../analysis/analyze.js';
import { collectCaptures } from '../batch/collect.js';
import { ALL_OPTIONS, FINDING_IDS } from '../detectors/registry.js';
import { resolveOptions } from '../options.js';
import type { CaptureReport } from '../report/types.js';
import { compare, expectationsFrom, expectationsPath, readExpectations, type Expectations } from './expectations.js';
import type { CheckResult } from './junit.js';

export interface CheckOptions {
  threads: number;
  /** Option values from --config, under each file's own "options". */
  config: Record<string, unknown>;
  update: boolean;
  onResult?: (r: CheckResult, report: CaptureReport | null) => void;
}

/** The captures under `dir` that have an expectations file. */
export function checkedCaptures(dir: string): string[] {
  return collectCaptures([dir]).files.filter((f) => fs.existsSync(expectationsPath(f)));
}

export async function runCheck(dir: string, opts: CheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const capture of checkedCaptures(dir)) {
    const expFile = expectationsPath(capture);
    const started = process.hrtime.bigint();
    let exp: Expectations;
    try {
      exp = readExpectations(expFile);
    } catch (err) {
      const r: CheckResult = { capture, diff: [], error: `cannot read ${expFile}: ${(err as Error).message}`, seconds: 0 };
      results.push(r);
      opts.onResult?.(r, null);
      continue;
    }
    let report: CaptureReport | null = null;
    let result: CheckResult;
    try {
      const options = resolveOptions(ALL_OPTIONS, { ...opts.config, ...exp.options }, {});
      report = await analyzeFile(capture, { threads: opts.threads, options });
      if (opts.update) {
        fs.writeFileSync(expFile, JSON.stringify(expectationsFrom(report, exp, FINDING_IDS), null, 2) + '\n');
        result = { capture, diff: [], error: null, seconds: 0 };
      } else {
        result = { capture, diff: compare(report, exp), error: null, seconds: 0 };
      }
    } catch (err) {
      result = { capture, diff: [], error: (err as Error).message, seconds: 0 };
    }
    result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    results.push(result);
    opts.onResult?.(result, report);
  }
  return results;
}
