/**
 * Piscina task for batch mode: analyzes one whole capture in a worker (flows tracked in the same
 * worker, one thread per file), so many files are analyzed in parallel.
 */
import { analyzeFile } from './analyze.js';
import { shareTmpfsWarned } from '../detectors/spill-rows.js';
import type { CaptureReport } from '../report/types.js';

export interface FileTask {
  file: string;
  options: Readonly<Record<string, number>>;
  /** Path of the flow export to append to (line-aligned appends from several workers). */
  flowsPath?: string;
  /** The process's "tmpfs warning printed" flag (see spill-rows.ts). */
  tmpfsWarned: SharedArrayBuffer;
}

export default async function analyzeTask(task: FileTask): Promise<CaptureReport> {
  shareTmpfsWarned(task.tmpfsWarned);
  const fs = await import('node:fs');
  const fd = task.flowsPath !== undefined ? fs.openSync(task.flowsPath, 'a') : undefined;
  try {
    return await analyzeFile(task.file, { threads: 1, inlineFlows: true, options: task.options, ...(fd !== undefined ? { flowsFd: fd } : {}) });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
