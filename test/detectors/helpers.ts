/** Runs a capture built in a test through the whole analysis and picks the findings of one id. */
import { analyzeFile } from '../../src/analysis/analyze.js';
import type { Finding } from '../../src/report/types.js';
import type { CaptureBuilder } from '../helpers/capture-builder.js';

export async function findingsOf(b: CaptureBuilder, id: string, options: Record<string, number> = {}, format: 'pcap' | 'pcapng' = 'pcap', linkType?: number): Promise<Finding[]> {
  const file = b.writeTemp(`t.${format}`, format, linkType !== undefined ? { linkType } : {});
  const report = await analyzeFile(file, { threads: 1, options });
  return report.findings.filter((f) => f.id === id);
}

export async function reportOf(file: string, options: Record<string, number> = {}) {
  return analyzeFile(file, { threads: 1, options });
}

/** Frame numbers of a finding's evidence. */
export function frames(f: Finding): number[] {
  return f.evidence.map((e) => e.frame);
}
