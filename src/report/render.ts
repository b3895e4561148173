/**
 * The terminal report: one screen that answers "what is wrong here". Per capture, the header,
 * then a table of findings (most severe first), then one block per finding with the explanation,
 * the evidence frames (to jump to in Wireshark) and the fix. `brief` stops after the table.
 */
import Table from 'cli-table3';
import { escapeTerminal, type Style } from './style.js';
import { renderCaptureHeader } from './text.js';
import type { CaptureReport, Finding, Severity } from './types.js';

export interface RenderOptions {
  brief: boolean;
  /** Terminal width, for wrapping. */
  width: number;
}

function severityLabel(s: Severity, style: Style): string {
  switch (s) {
    case 'high':
      return style.red(style.bold('HIGH'));
    case 'medium':
      return style.yellow('MEDIUM');
    case 'low':
      return style.cyan('low');
    default:
      return style.dim('info');
  }
}

/** "14:13:37.037623" from an ISO timestamp: enough to find it in a capture of a day. */
function shortTime(iso: string | null): string {
  if (!iso) return '';
  const m = /T(\d\d:\d\d:\d\d(?:\.\d{1,6})?)/.exec(iso);
  return m ? m[1]! : iso;
}

export function renderFindingsTable(findings: readonly Finding[], style: Style, width: number): string {
  const table = new Table({
    head: ['severity', 'finding', 'subject', 'summary', 'count', 'first seen'].map((h) => style.bold(h)),
    style: { head: [], border: [] },
    wordWrap: true,
    wrapOnWordBoundary: true,
    colWidths: columnWidths(width),
  });
  for (const f of findings) {
    table.push([severityLabel(f.severity, style), escapeTerminal(f.id), escapeTerminal(f.subject), escapeTerminal(f.summary), String(f.count), shortTime(f.first)]);
  }
  return table.toString();
}

function columnWidths(width: number): number[] {
  const fixed = [10, 27, 21, 7, 17];
  const used = fixed.reduce((a, b) => a + b, 0) + 7;
  const summary = Math.max(30, width - used);
  return [fixed[0]!, fixed[1]!, fixed[2]!, summary, fixed[3]!, fixed[4]!];
}

/** Wraps text at spaces to `width`, with an indent. */
export function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line.length > 0 && indent.length + line.length + 1 + w.length > width) {
      lines.push(indent + line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

export function renderFindingBlock(f: Finding, index: number, style: Style, width: number): string {
  const out: string[] = [];
  out.push(`${style.bold(`${index}. ${escapeTerminal(f.id)}`)}  ${severityLabel(f.severity, style)}  ${escapeTerminal(f.subject)}`);
  out.push(wrap(escapeTerminal(f.summary), width, '   '));
  out.push(style.bold('   Why'));
  out.push(wrap(escapeTerminal(f.explanation), width, '     '));
  if (f.evidence.length > 0) {
    const more = f.evidenceTotal > f.evidence.length ? ` (${f.evidence.length} of ${f.evidenceTotal}; Wireshark: Go to packet, Ctrl+G)` : ' (Wireshark: Go to packet, Ctrl+G)';
    out.push(style.bold(`   Evidence`) + style.dim(more));
    for (const e of f.evidence) {
      const who = [e.srcMac && e.dstMac ? `${e.srcMac} → ${e.dstMac}` : (e.srcMac ?? ''), e.src && e.dst ? `${e.src} → ${e.dst}` : (e.src ?? e.dst ?? '')].filter(Boolean).join('  ');
      out.push(`     frame ${style.cyan(String(e.frame).padStart(6))}  ${shortTime(e.time)}  ${escapeTerminal(e.what)}${who ? style.dim(`  [${escapeTerminal(who)}]`) : ''}`);
    }
  }
  out.push(style.bold('   Fix'));
  out.push(wrap(escapeTerminal(f.remediation), width, '     '));
  return out.join('\n');
}

/** The whole report of one capture. */
export function renderCapture(report: CaptureReport, style: Style, opts: RenderOptions): string {
  const parts = [renderCaptureHeader(report, style)];
  if (report.findings.length === 0) {
    parts.push(style.green(report.frames > 0 ? '  No problem found.' : '  Nothing to analyze.'));
    return parts.join('\n') + '\n';
  }
  parts.push(renderFindingsTable(report.findings, style, opts.width));
  if (!opts.brief) report.findings.forEach((f, i) => parts.push('\n' + renderFindingBlock(f, i + 1, style, opts.width)));
  return parts.join('\n') + '\n';
}
