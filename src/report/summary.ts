/** The summary table that ends a batch run: one row per capture, frames and findings by severity. */
import Table from 'cli-table3';
import { escapeTerminal, type Style } from './style.js';
import type { CaptureReport } from './types.js';

export function renderSummaryTable(reports: readonly CaptureReport[], style: Style): string {
  const table = new Table({
    head: ['capture', 'frames', 'high', 'medium', 'low', 'info', 'read error'].map((h) => style.bold(h)),
    style: { head: [], border: [] },
  });
  for (const r of reports) {
    const n = (sev: string): number => r.findings.filter((f) => f.severity === sev).length;
    const high = n('high');
    const medium = n('medium');
    table.push([
      escapeTerminal(r.file),
      r.frames.toLocaleString('en-US'),
      high > 0 ? style.red(String(high)) : '0',
      medium > 0 ? style.yellow(String(medium)) : '0',
      String(n('low')),
      String(n('info')),
      r.error ? style.red(escapeTerminal(r.error.kind)) : '',
    ]);
  }
  return table.toString();
}
