/**
 * Analyzes a list of captures: one after the other in this process (flows on --threads shards),
 * or, for several files with --jobs > 1, in parallel on a piscina pool, one task per file. Reports
 * are handed out in input order as soon as each is ready, so output is deterministic.
 */
import fs from 'node:fs';
import { Piscina } from 'piscina';
import { analyzeFile } from '../analysis/analyze.js';
import type { FileTask } from '../analysis/file-worker.js';
import { tmpfsWarnedFlag } from '../detectors/spill-rows.js';
import type { CaptureReport } from '../report/types.js';
import { workerFile } from '../workers.js';

export interface RunOptions {
  threads: number;
  jobs: number;
  options: Readonly<Record<string, number>>;
  /** Flow export file (truncated first); every capture's flows go there. */
  flowsPath?: string;
  /** Progress of a single in-process analysis. */
  onProgress?: (bytesRead: number, totalBytes: number | null, frames: number) => void;
  /** Called with each report, in input order. */
  onReport?: (report: CaptureReport, index: number) => void;
}

export async function analyzeAll(files: readonly string[], opts: RunOptions): Promise<CaptureReport[]> {
  if (opts.flowsPath !== undefined) fs.writeFileSync(opts.flowsPath, '');
  const parallel = files.length > 1 && opts.jobs > 1 && !files.includes('-');
  return parallel ? runParallel(files, opts) : runSequential(files, opts);
}

async function runSequential(files: readonly string[], opts: RunOptions): Promise<CaptureReport[]> {
  const fd = opts.flowsPath !== undefined ? fs.openSync(opts.flowsPath, 'a') : undefined;
  const reports: CaptureReport[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      const report = await analyzeFile(files[i]!, {
        threads: opts.threads,
        options: opts.options,
        ...(fd !== undefined ? { flowsFd: fd } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
      reports.push(report);
      opts.onReport?.(report, i);
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return reports;
}

async function runParallel(files: readonly string[], opts: RunOptions): Promise<CaptureReport[]> {
  const pool = new Piscina({ filename: workerFile('analysis/file-worker.js'), minThreads: 1, maxThreads: opts.jobs, idleTimeout: 1000 });
  const results: Array<CaptureReport | undefined> = new Array(files.length);
  let next = 0;
  const flush = (): void => {
    while (next < files.length && results[next] !== undefined) {
      opts.onReport?.(results[next]!, next);
      next++;
    }
  };
  try {
    await Promise.all(
      files.map(async (file, i) => {
        const task: FileTask = { file, options: opts.options, tmpfsWarned: tmpfsWarnedFlag(), ...(opts.flowsPath !== undefined ? { flowsPath: opts.flowsPath } : {}) };
        results[i] = (await pool.run(task)) as CaptureReport;
        flush();
      }),
    );
  } finally {
    await pool.destroy();
  }
  return results as CaptureReport[];
}
