/**
 * CPU profile of one pcapscan pass, summarized by self time:
 *
 *   node dist/bench/profile.js [--mode decode] [--file bench/out/small-5M.pcap] [--top 25]
 *   node dist/bench/profile.js --summarize some.cpuprofile [--top 25]
 *
 * Runs `node --cpu-prof dist/bench/measure.js <mode> <file>` (profiles go to bench/out/profiles/)
 * and prints the functions with the most self time, and the same grouped by source file. V8
 * reports functions inlined by the optimizing compiler under their own name, so a decoder
 * function inlined into the parser loop still shows up as itself.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { OUT_DIR } from './generate.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

/** Self time per function (by name and source position), most first. */
export function selfTimes(profile: CpuProfile): { total: number; functions: SelfTime[]; files: SelfTime[] } {
  const byNode = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byNode.set(n.id, n);
  // timeDeltas[i] is the time from sample i-1 to sample i: charge it to sample i-1.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  let total = 0;
  const fn = new Map<string, SelfTime>();
  const file = new Map<string, SelfTime>();
  for (const [id, us] of selfUs) {
    const n = byNode.get(id)!;
    const cf = n.callFrame;
    const url = shortUrl(cf.url);
    const name = cf.functionName || (cf.url ? '(anonymous)' : '');
    const label = name || n.callFrame.functionName || '(unknown)';
    const where = url ? `${url}:${cf.lineNumber + 1}` : '';
    const key = `${label}@${where}`;
    total += us;
    const e = fn.get(key) ?? { name: label, where, ms: 0, percent: 0 };
    e.ms += us / 1000;
    fn.set(key, e);
    const fkey = url || label;
    const f = file.get(fkey) ?? { name: fkey, where: '', ms: 0, percent: 0 };
    f.ms += us / 1000;
    file.set(fkey, f);
  }
  const finish = (m: Map<string, SelfTime>): SelfTime[] =>
    [...m.values()].map((e) => ({ ...e, percent: total > 0 ? (100 * e.ms * 1000) / total : 0 })).sort((a, b) => b.ms - a.ms);
  return { total: total / 1000, functions: finish(fn), files: finish(file) };
}

function shortUrl(url: string): string {
  if (!url) return '';
  const p = url.startsWith('file://') ? fileURLToPath(url) : url;
  const i = p.indexOf('/dist/');
  return i >= 0 ? p.slice(i + 6) : p.startsWith('node:') ? p : path.basename(p);
}

export function printSelfTimes(profile: CpuProfile, top: number): void {
  const { total, functions, files } = selfTimes(profile);
  console.log(`sampled ${(total / 1000).toFixed(3)} s (the whole process, start-up included)`);
  const t = new Table({ head: ['self ms', '%', 'function', 'where (dist/, 1-based line)'], style: { head: [], border: [] }, colAligns: ['right', 'right', 'left', 'left'] });
  for (const e of functions.slice(0, top)) t.push([e.ms.toFixed(1), e.percent.toFixed(1), e.name, e.where]);
  console.log(t.toString());
  const f = new Table({ head: ['self ms', '%', 'file'], style: { head: [], border: [] }, colAligns: ['right', 'right', 'left'] });
  for (const e of files.slice(0, 12)) f.push([e.ms.toFixed(1), e.percent.toFixed(1), e.name]);
  console.log(f.toString());
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const top = Number(opt('--top') ?? 25);
  const given = opt('--summarize');
  if (given) {
    printSelfTimes(JSON.parse(fs.readFileSync(given, 'utf8')) as CpuProfile, top);
    return;
  }
  const mode = opt('--mode') ?? 'decode';
  const file = opt('--file') ?? path.join(OUT_DIR, 'small-5M.pcap');
  if (!fs.existsSync(file)) {
    console.error(`${file} does not exist: run npm run bench (or node dist/bench/generate.js) first`);
    process.exit(2);
  }
  const dir = path.join(OUT_DIR, 'profiles');
  fs.mkdirSync(dir, { recursive: true });
  const name = `${mode}-${path.basename(file, '.pcap')}-${Date.now()}.cpuprofile`;
  const measureJs = path.join(path.dirname(fileURLToPath(import.meta.url)), 'measure.js');
  const extra = (opt('--node-flags') ?? '').split(' ').filter(Boolean);
  const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`, ...extra, measureJs, mode, file], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(1);
  }
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line) {
    const m = JSON.parse(line.slice(7)) as { frames: number; wallS: number; userS: number; sysS: number };
    console.log(`${mode} ${file}: ${m.frames} frames in ${m.wallS.toFixed(3)} s wall, ${(m.userS + m.sysS).toFixed(3)} s CPU (profiler on)`);
  }
  const profPath = path.join(dir, name);
  console.log(`profile: ${path.relative(process.cwd(), profPath)}`);
  printSelfTimes(JSON.parse(fs.readFileSync(profPath, 'utf8')) as CpuProfile, top);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
