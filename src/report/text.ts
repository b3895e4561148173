import { etherTypeName } from '../decode/ethertypes.js';
import { formatDuration } from './format.js';
import { escapeTerminal, type Style } from './style.js';
import type { CaptureReport } from './types.js';

const num = (n: number): string => n.toLocaleString('en-US');

/** "1.2 MB" */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** "IPv4 1,200 · ARP 20 · 0xfe68 (unknown) 10 · 802.3/LLC 4" */
function etherTypeLine(report: CaptureReport, style: Style): string {
  const entries = Object.entries(report.etherTypes).sort((a, b) => b[1] - a[1]);
  return entries
    .map(([key, n]) => {
      if (key === '802.3') return `802.3/LLC ${num(n)}`;
      const name = etherTypeName(parseInt(key, 16));
      return name ? `${name} (${key}) ${num(n)}` : style.yellow(`${key} (unknown) ${num(n)}`);
    })
    .join(' · ');
}

/**
 * The per-capture header: file, format, link types, frames, bytes, the time span, frames per
 * EtherType and per IP protocol, decode events, and the read error if reading stopped early.
 */
export function renderCaptureHeader(report: CaptureReport, style: Style): string {
  const lines: string[] = [];
  const linkTypes = Object.entries(report.linkTypes)
    .map(([k, n]) => (Object.keys(report.linkTypes).length > 1 ? `${k} ${num(n)}` : k))
    .join(', ');
  lines.push(`${style.bold(escapeTerminal(report.file))}  ${report.format}${linkTypes ? `  ${linkTypes}` : ''}`);
  const span = report.start && report.end ? `${report.start} → ${report.end} (${formatDuration(report.durationSeconds)})` : 'no frames';
  lines.push(`  frames ${num(report.frames)}  bytes ${formatBytes(report.bytes)}  ${span}`);
  const et = etherTypeLine(report, style);
  if (et) lines.push(`  EtherTypes: ${et}`);
  if (report.stp > 0) lines.push(`  STP BPDUs: ${num(report.stp)}`);
  if (report.vlanFrames > 0) lines.push(`  VLAN-tagged frames: ${num(report.vlanFrames)}`);
  const ip = Object.entries(report.ipProtocols)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${num(n)}`)
    .join(' · ');
  if (ip) lines.push(`  IPv4 protocols: ${ip}`);
  const events = Object.entries(report.events);
  if (events.length > 0) {
    lines.push(`  decode events: ${events.map(([k, n]) => `${k} ${num(n)}`).join(' · ')}`);
  }
  if (report.droppedByCapture !== null && report.droppedByCapture > 0) {
    lines.push(style.yellow(`  the capturing tool reported ${num(report.droppedByCapture)} dropped packet(s)`));
  }
  if (report.error) lines.push(style.red(`  error: ${escapeTerminal(report.error.message)}`));
  return lines.join('\n');
}
