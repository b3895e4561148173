/**
 * pcapscan as a library: `analyze(files)` returns the same document as `pcapscan --json`.
 */
import { analyzeFile, type AnalyzeOptions } from './analysis/analyze.js';
import type { AnalysisDocument } from './report/types.js';
import { VERSION } from './version.js';

export type { AnalysisDocument, CaptureReport, Finding, Evidence, Severity, CaptureErrorJson } from './report/types.js';
export type { AnalyzeOptions } from './analysis/analyze.js';
export { analyzeFile } from './analysis/analyze.js';

/** Analyzes capture files (or `-` for standard input), in order. Never throws for bad captures. */
export async function analyze(files: string | readonly string[], opts: AnalyzeOptions = {}): Promise<AnalysisDocument> {
  const list = typeof files === 'string' ? [files] : files;
  const captures = [];
  for (const file of list) captures.push(await analyzeFile(file, opts));
  return { tool: 'pcapscan', version: VERSION, captures };
}
