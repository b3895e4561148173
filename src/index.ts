/**
 * pcapscan as a library: `analyze(files)` returns the same document as `pcapscan --json`.
 *
 *   import { analyze } from 'pcapscan';
 *   const doc = await analyze(['capture.pcap'], { options: { 'fdb-ageing': 600 } });
 *   for (const f of doc.captures[0].findings) console.log(f.severity, f.id, f.summary);
 */
import os from 'node:os';
import { defaultThreads } from './analysis/analyze.js';
import { collectCaptures } from './batch/collect.js';
import { analyzeAll } from './batch/run.js';
import { ALL_OPTIONS } from './detectors/registry.js';
import { closeShardPool } from './flows/feeder.js';
import { resolveOptions } from './options.js';
import type { AnalysisDocument } from './report/types.js';
import { VERSION } from './version.js';

export type { AnalysisDocument, CaptureReport, Finding, Evidence, Severity, CaptureErrorJson, FlowSummary } from './report/types.js';
export type { OptionSpec } from './detectors/types.js';
export { ALL_OPTIONS, FINDING_IDS } from './detectors/registry.js';
export { VERSION } from './version.js';

export interface AnalyzeLibraryOptions {
  /** Option values by key (see ALL_OPTIONS), e.g. { 'fdb-ageing': 600, 'ct-max': 65536 }. */
  options?: Record<string, number>;
  /** Flow-tracking worker threads per capture (default: cores - 1, at least 1). */
  threads?: number;
  /** Captures analyzed in parallel (default: the number of cores). */
  jobs?: number;
  /** Write one JSON line per flow to this file. */
  flowsPath?: string;
}

/**
 * Analyzes captures (files, directories, or `-` for standard input), in order. Never throws for
 * bad captures: each report says what could be read. Throws for bad options.
 */
export async function analyze(inputs: string | readonly string[], opts: AnalyzeLibraryOptions = {}): Promise<AnalysisDocument> {
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  const options = resolveOptions(ALL_OPTIONS, {}, opts.options ?? {});
  const { files } = collectCaptures(list);
  try {
    const captures = await analyzeAll(files, {
      threads: opts.threads ?? defaultThreads(),
      jobs: opts.jobs ?? os.availableParallelism(),
      options,
      ...(opts.flowsPath !== undefined ? { flowsPath: opts.flowsPath } : {}),
    });
    return { tool: 'pcapscan', version: VERSION, captures };
  } finally {
    await closeShardPool();
  }
}
