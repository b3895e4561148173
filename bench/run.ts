/**
 * pcapscan benchmark: `npm run bench [-- --quick] [-- --only small|large] [-- --repeat N]`.
 *
 * For each synthetic capture (bench/generate.ts) it measures, in one run and on the same file:
 *   - the I/O floor (fs.readSync only), pcapscan read-only, pcapscan read+decode(+stats), a bare
 *     decode-plus-flow-table loop, the full pipeline on one thread, and the full pipeline (read,
 *     decode, detectors, flow tracking) with --threads 1 and 2; each
 *     `--repeat` times (default 3), each in a fresh child process (bench/measure.ts);
 *   - tcpdump, tshark io,stat and tshark conv,tcp once each (not with --quick), with /usr/bin/time;
 * then whether memory stays flat: the full pipeline on the same traffic (same live flows) twice as
 * long. It prints the figures with the project's goals and the pcapscan/tool ratios, and writes
 * bench/out/results.json. Other load on the machine moves absolute times: compare ratios.
 *
 * Options:
 *   --quick            smaller captures (1M small frames, 200 MB of full-size frames), no tools
 *   --only small|large one capture
 *   --repeat N         runs per pcapscan measurement (default 3)
 *   --tools / --no-tools   force the external tools on or off
 *   --modes a,b,...    pcapscan measurements among io,read,decode,table,shard,serial,analyze (default all)
 *   --threads 1,2      --threads values of the full pipeline (analyze) runs (default 1,2)
 *   --flat / --no-flat the memory-flatness runs (default: on, off with --quick)
 *   --chunk-bytes N    reader chunk size (default: the reader's own, 64 KiB)
 *   --force            regenerate the captures
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { benchCaptures, ensureCapture, FLAT_FRAMES, OUT_DIR, SMALL_FRAMES, withFrames, type BenchCapture, type CaptureStats } from './generate.js';
import { MODES, type Measurement, type Mode } from './measure.js';
import {
  commandPath,
  commandVersion,
  fmtInt,
  fmtMBps,
  fmtRate,
  fmtRatio,
  fmtSec,
  machineInfo,
  max,
  median,
  min,
  timeCommand,
  warmPageCache,
  type TimedRun,
} from './tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MEASURE_JS = path.join(HERE, 'measure.js');
const NODE_FLAGS = ['--max-old-space-size=4096'];

interface Options {
  quick: boolean;
  only: 'small' | 'large' | null;
  repeat: number;
  tools: boolean;
  modes: Mode[];
  threads: number[];
  flat: boolean;
  force: boolean;
  chunkBytes: number | null;
}

/** One pcapscan measurement: a mode, and for the full pipeline its --threads. */
interface Plan {
  mode: Mode;
  threads: number | null;
  key: string;
}

function plans(opts: Options): Plan[] {
  return opts.modes.flatMap((mode): Plan[] => (mode === 'analyze' ? opts.threads.map((t) => ({ mode, threads: t, key: `analyze:${t}` })) : [{ mode, threads: null, key: mode }]));
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, only: null, repeat: 3, tools: true, modes: [...MODES], threads: [1, 2], flat: true, force: false, chunkBytes: null };
  let toolsGiven: boolean | null = null;
  let flatGiven: boolean | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--force') o.force = true;
    else if (a === '--tools') toolsGiven = true;
    else if (a === '--no-tools') toolsGiven = false;
    else if (a === '--flat') flatGiven = true;
    else if (a === '--no-flat') flatGiven = false;
    else if (a === '--threads') {
      const list = value().split(',').map(Number);
      if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) usage('--threads takes a list of whole numbers, e.g. 1,2');
      o.threads = list;
    }
    else if (a === '--only') {
      const v = value();
      if (v !== 'small' && v !== 'large') usage(`--only takes small or large, not ${v}`);
      o.only = v;
    } else if (a === '--repeat') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) usage('--repeat takes a positive integer');
      o.repeat = n;
    } else if (a === '--modes') {
      const list = value().split(',');
      for (const m of list) if (!(MODES as readonly string[]).includes(m)) usage(`unknown mode ${m} (${MODES.join(', ')})`);
      o.modes = list as Mode[];
    } else if (a === '--chunk-bytes') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 4096) usage('--chunk-bytes takes an integer >= 4096');
      o.chunkBytes = n;
    } else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown option ${a}`);
  }
  o.tools = toolsGiven ?? !o.quick;
  o.flat = flatGiven ?? !o.quick;
  return o;
}

function usage(problem: string | null): never {
  if (problem) console.error(problem);
  console.error(
    'usage: npm run bench -- [--quick] [--only small|large] [--repeat N] [--tools|--no-tools] [--modes io,read,decode,table,shard,serial,analyze] [--threads 1,2] [--flat|--no-flat] [--chunk-bytes N] [--force]',
  );
  process.exit(problem ? 2 : 0);
}

interface Goal {
  label: string;
  met: (framesPerS: number, bytesPerS: number, peakRssMB: number) => boolean;
}

/**
 * The project's goals: read+decode (the foundation issue) and the full pipeline (the flow tracker
 * issue), each judged on its own line.
 */
/** The flow tracker issue's throughput goal for the full pipeline on the small-frame capture. */
const PIPELINE_GOAL_FPS = 5e6;

const GOALS: Record<BenchCapture['id'], Partial<Record<Mode, Goal[]>>> = {
  small: {
    decode: [{ label: '≥ 12 M frames/s', met: (fps) => fps >= 12e6 }],
    analyze: [
      { label: '≥ 5 M frames/s', met: (fps) => fps >= PIPELINE_GOAL_FPS },
      { label: 'peak RSS < 300 MB', met: (_fps, _bps, rss) => rss < 300 },
    ],
  },
  large: {
    decode: [{ label: '≥ 3 GB/s', met: (_fps, bps) => bps >= 3e9 }],
  },
};

const MODE_LABEL: Record<Mode, string> = {
  io: 'floor: fs.readSync only',
  read: 'pcapscan read-only',
  decode: 'pcapscan read+decode',
  table: 'bare decode + flow table',
  shard: 'one flow shard alone',
  serial: 'full pipeline on one thread',
  analyze: 'pcapscan full pipeline',
};

function planLabel(p: { mode: Mode; threads: number | null }): string {
  return p.threads === null ? MODE_LABEL[p.mode] : `${MODE_LABEL[p.mode]}, --threads ${p.threads}`;
}

const MODE_LEGEND: Record<Mode, string> = {
  io: 'floor = fs.readSync of the file in the reader\'s chunk size, no parsing (the most a reader could do)',
  read: 'read-only = readCapture with a handler that only counts records',
  decode: 'read+decode = readCapture + decodeRecord + CaptureStats.add, the per-frame work of analyzeFile',
  table: 'bare decode + flow table = read+decode, the flow record, one FlowTable lookup or insert and three counters per packet, batch by batch as the shards take them: the reference loop of the flow tracker issue, without conntrack, Zeek, evidence, expiry or detectors (one thread)',
  shard: 'one flow shard alone = the tracker and the flow detectors of one shard on records decoded and packed beforehand (untimed, held in memory, so its RSS is not comparable): the most one shard tracks per second, however fast the reader',
  serial: 'full pipeline on one thread = analyzeFile() with the flow tracker on the reader thread: the whole per-frame cost on one core',
  analyze: 'full pipeline = analyzeFile(): read, decode, link detectors, flow tracking (conntrack + Zeek) on --threads shards, flow detectors, the report; CPU includes the worker threads',
};

/** Progress on a terminal only: a log file gets the tables alone. */
function progress(text: string | null): void {
  if (!process.stdout.isTTY) return;
  process.stdout.write(text === null ? '\r\x1b[K' : `\r\x1b[K${text}`);
}

interface PcapscanResult {
  mode: Mode;
  threads: number | null;
  key: string;
  runs: Measurement[];
  /** Wall seconds of each child process as seen from here: start-up and module loading included. */
  processWallS: number[];
  summary: Summary;
}

interface Summary {
  runs: number;
  wallBestS: number;
  wallMedianS: number;
  cpuMedianS: number;
  framesPerSBest: number;
  framesPerSMedian: number;
  framesPerCpuS: number;
  bytesPerSBest: number;
  bytesPerSMedian: number;
  bytesPerCpuS: number;
  maxRssMB: number;
  /** Each goal of this measurement, met by the best run, by the median, per CPU-second. */
  goals: Array<{ label: string; met: { best: boolean; median: boolean; cpu: boolean } }>;
}

interface ToolResult {
  name: ToolName;
  command: string;
  installed: boolean;
  version: string | null;
  run: TimedRun | null;
  /** Frames the tool says it read (tshark io,stat), when it says. */
  framesReported: number | null;
  summary: Summary | null;
  note: string | null;
}

interface CaptureResult {
  id: BenchCapture['id'];
  title: string;
  file: string;
  fileBytes: number;
  frames: number;
  generator: { spec: BenchCapture['spec']; stats: CaptureStats; generatedNow: boolean; seconds: number };
  pageCacheWarmS: number;
  pcapscan: PcapscanResult[];
  tools: ToolResult[];
  ratios: Record<string, number | null>;
  warnings: string[];
}

function runChild(mode: Mode, file: string, chunkBytes: number | null, threads: number | null = null): { m: Measurement; processWallS: number } {
  const t0 = process.hrtime.bigint();
  const args = [...NODE_FLAGS, MEASURE_JS, mode, file, chunkBytes ? String(chunkBytes) : '-', ...(threads !== null ? [String(threads)] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const processWallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) {
    throw new Error(`measure ${mode} ${file} failed (status ${r.status}): ${r.stderr || r.stdout}`);
  }
  return { m: JSON.parse(line.slice('RESULT '.length)) as Measurement, processWallS };
}

function summarize(walls: number[], cpus: number[], rssKB: number[], frames: number, bytes: number, goals: readonly Goal[]): Summary {
  const wallBestS = min(walls);
  const wallMedianS = median(walls);
  const cpuMedianS = median(cpus);
  const s: Summary = {
    runs: walls.length,
    wallBestS,
    wallMedianS,
    cpuMedianS,
    framesPerSBest: frames / wallBestS,
    framesPerSMedian: frames / wallMedianS,
    framesPerCpuS: frames / cpuMedianS,
    bytesPerSBest: bytes / wallBestS,
    bytesPerSMedian: bytes / wallMedianS,
    bytesPerCpuS: bytes / cpuMedianS,
    maxRssMB: max(rssKB) / 1024,
    goals: [],
  };
  for (const goal of goals) {
    s.goals.push({
      label: goal.label,
      met: {
        best: goal.met(s.framesPerSBest, s.bytesPerSBest, s.maxRssMB),
        median: goal.met(s.framesPerSMedian, s.bytesPerSMedian, s.maxRssMB),
        cpu: goal.met(s.framesPerCpuS, s.bytesPerCpuS, s.maxRssMB),
      },
    });
  }
  return s;
}

type ToolName = 'tcpdump' | 'tcpdump -w' | 'tshark' | 'tshark conv';

/**
 * The external tools. `tcpdump` is the command the project compares with (it prints the
 * matching SYN and SYN+ACK lines, to /dev/null); `tcpdump -w` runs the same BPF filter but writes
 * the matches to /dev/null instead of printing them, which isolates tcpdump's read + filter pass.
 */
const TOOLS: ReadonlyArray<{ name: ToolName; bin: string; args: (file: string) => string[]; command: string }> = [
  { name: 'tcpdump', bin: 'tcpdump', args: (f) => ['-nn', '-r', f, 'tcp[13]&2!=0'], command: "tcpdump -nn -r F 'tcp[13]&2!=0' >/dev/null" },
  { name: 'tcpdump -w', bin: 'tcpdump', args: (f) => ['-r', f, '-w', '/dev/null', 'tcp[13]&2!=0'], command: "tcpdump -r F -w /dev/null 'tcp[13]&2!=0'" },
  { name: 'tshark', bin: 'tshark', args: (f) => ['-q', '-r', f, '-z', 'io,stat,0'], command: 'tshark -q -r F -z io,stat,0' },
  { name: 'tshark conv', bin: 'tshark', args: (f) => ['-q', '-r', f, '-z', 'conv,tcp'], command: 'tshark -q -r F -z conv,tcp >/dev/null' },
];

function runTool(name: ToolName, file: string, frames: number, bytes: number): ToolResult {
  const tool = TOOLS.find((t) => t.name === name)!;
  const args = tool.args(file);
  const command = tool.command;
  const where = commandPath(tool.bin);
  if (!where) {
    return { name, command, installed: false, version: null, run: null, framesReported: null, summary: null, note: 'not installed' };
  }
  const version = commandVersion(where, ['--version']);
  const run = timeCommand(where, args, { captureStdout: name === 'tshark' });
  let framesReported: number | null = null;
  let note: string | null = null;
  if (name === 'tshark') {
    // "|  0.0 <> 179.9 | 5000000 | 395000000 |"
    const m = /<>[^|]*\|\s*(\d+)\s*\|/.exec(run.stdout);
    if (m?.[1]) framesReported = Number(m[1]);
    if (framesReported !== frames) note = `tshark reported ${framesReported ?? 'no'} frames, expected ${frames}`;
  }
  if (run.status !== 0) note = `exit status ${run.status}: ${run.stderr.trim().split('\n').pop()}`;
  const cpu = run.userS !== null && run.sysS !== null ? run.userS + run.sysS : NaN;
  const summary = summarize([run.wallS], [cpu], run.maxRssKB !== null ? [run.maxRssKB] : [], frames, bytes, []);
  run.stdout = run.stdout.slice(0, 4000);
  return { name, command, installed: true, version, run, framesReported, summary, note };
}

function mark(ok: boolean): string {
  return ok ? 'PASS' : 'FAIL';
}

function printCapture(c: CaptureResult, opts: Options): void {
  const s = c.generator.stats;
  console.log('');
  console.log(`== ${c.title}: ${path.relative(process.cwd(), c.file) || c.file}`);
  console.log(
    `   ${fmtInt(c.frames)} frames, ${(c.fileBytes / 1e6).toFixed(1)} MB (${(c.fileBytes / c.frames).toFixed(1)} B/record incl. 16 B header), ` +
      `TCP frames ${s.minTcpFrameBytes}-${s.maxTcpFrameBytes} B (all ${s.minFrameBytes}-${s.maxFrameBytes} B), ${fmtInt(s.tcpFlows)} TCP flows (${fmtInt(c.generator.spec.liveFlows)} live at a time), ` +
      `${fmtInt(s.tcpFrames)} TCP / ${fmtInt(s.udpFrames)} UDP / ${fmtInt(s.icmpFrames)} ICMP / ${fmtInt(s.arpFrames)} ARP, ${fmtInt(s.vlanFrames)} VLAN-tagged` +
      (s.fullSizeFrames > 0 ? `, ${((100 * s.fullSizeFrames) / s.frames).toFixed(1)}% of frames 1514 B` : ''),
  );
  const t = new Table({
    head: ['measurement', 'runs', 'wall s\nbest / med', 'frames/s\nbest / med', 'MB/s\nbest / med', 'CPU s\nmed', 'per CPU-s:\nframes, MB', 'peak RSS\nMB', 'goal', 'goal met?\nbest/med/CPU'],
    style: { head: [], border: [] },
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
  });
  const row = (label: string, sm: Summary | null, note?: string): void => {
    if (!sm) {
      t.push([label, '', { colSpan: 8, content: note ?? '' }] as never);
      return;
    }
    const pair = (a: string, b: string, runs: number): string => (runs > 1 ? `${a} / ${b}` : a);
    t.push([
      label,
      String(sm.runs),
      pair(fmtSec(sm.wallBestS), fmtSec(sm.wallMedianS), sm.runs),
      pair(fmtRate(sm.framesPerSBest), fmtRate(sm.framesPerSMedian), sm.runs),
      pair(fmtMBps(sm.bytesPerSBest), fmtMBps(sm.bytesPerSMedian), sm.runs),
      fmtSec(sm.cpuMedianS),
      `${fmtRate(sm.framesPerCpuS)}, ${fmtMBps(sm.bytesPerCpuS)}`,
      Number.isFinite(sm.maxRssMB) ? sm.maxRssMB.toFixed(0) : '—',
      sm.goals.map((g) => g.label).join('\n'),
      sm.goals.map((g) => `${mark(g.met.best)} / ${mark(g.met.median)} / ${mark(g.met.cpu)}`).join('\n'),
    ]);
  };
  for (const p of c.pcapscan) row(planLabel(p), p.summary);
  for (const tr of c.tools) {
    const label = tr.command.replace(' >/dev/null', '');
    if (!tr.installed) row(label, null, 'not installed: skipped, no ratio');
    else row(label, tr.summary);
  }
  if (!opts.tools) row('tcpdump, tshark', null, opts.quick ? 'skipped (--quick; add --tools to run them)' : 'skipped (--no-tools)');
  console.log(t.toString());
  for (const mode of new Set(c.pcapscan.map((p) => p.mode))) console.log(`   ${MODE_LEGEND[mode]}`);
  const toolNote: Record<ToolName, string> = {
    tcpdump: 'prints the matching SYN and SYN+ACK lines',
    'tcpdump -w': 'the same filter, matches written as pcap to /dev/null, nothing printed: tcpdump\'s read + BPF pass alone',
    tshark: 'full dissection, one io,stat row',
    'tshark conv': 'full dissection and a table of TCP conversations (its nearest equivalent of flow tracking)',
  };
  for (const tr of c.tools) if (tr.installed) console.log(`   ${tr.command}: ${toolNote[tr.name]} (${tr.version}; run once, start-up included)`);

  const tools = c.tools.filter((x) => x.installed && x.summary);
  const compared = c.pcapscan.filter((p) => p.mode !== 'io');
  if (tools.length > 0 && compared.length > 0) {
    const rt = new Table({
      head: ['pcapscan throughput ÷ tool throughput (×, higher = pcapscan faster)', ...tools.map((x) => `vs ${x.name}`)],
      style: { head: [], border: [] },
      colAligns: ['left', ...tools.map(() => 'right' as const)],
    });
    for (const p of compared) {
      const label = p.mode === 'analyze' ? `full pipeline --threads ${p.threads}` : MODE_LABEL[p.mode].replace(/^pcapscan /, '');
      rt.push([`${label}, wall, median of ${p.summary.runs}`, ...tools.map((x) => fmtRatio(x.summary!.wallMedianS / p.summary.wallMedianS))]);
      rt.push([`${label}, wall, best of ${p.summary.runs}`, ...tools.map((x) => fmtRatio(x.summary!.wallMedianS / p.summary.wallBestS))]);
      rt.push([`${label}, CPU (user+sys), median`, ...tools.map((x) => fmtRatio(x.summary!.cpuMedianS / p.summary.cpuMedianS))]);
    }
    console.log(rt.toString());
  }
  if (c.id === 'small') printBudget(c);
  for (const w of c.warnings) console.log(`   WARNING: ${w}`);
}

/**
 * Where the CPU goes, per frame, against what the pipeline goal allows: at PIPELINE_GOAL_FPS on
 * this machine's cores, all threads together have cores ÷ goal CPU-seconds per frame. CPU time,
 * not wall time, so that a rung counts every thread's work whatever they overlap. The rungs are
 * cumulative (each adds work to the one before), except the shard alone, which has no reader.
 */
function printBudget(c: CaptureResult): void {
  const cores = os.availableParallelism();
  const budgetUs = (cores / PIPELINE_GOAL_FPS) * 1e6;
  const perFrameUs = (p: PcapscanResult): number => (p.summary.cpuMedianS / c.frames) * 1e6;
  const rungs = c.pcapscan.filter((p) => p.mode !== 'io' && p.mode !== 'read');
  if (rungs.length === 0) return;
  console.log(`   CPU per frame (median CPU s ÷ frames), against ${fmtRate(PIPELINE_GOAL_FPS)} frames/s on ${cores} cores = ${budgetUs.toFixed(2)} CPU-µs per frame for everything:`);
  for (const p of rungs) {
    const us = perFrameUs(p);
    console.log(`     ${planLabel(p).padEnd(42)} ${us.toFixed(3)} µs  ${(us / budgetUs).toFixed(2)}× the budget`);
  }
}

function checkRuns(c: { frames: number; fileBytes: number }, p: PcapscanResult, warnings: string[]): void {
  for (const m of p.runs) {
    if (m.error) warnings.push(`${p.key}: reader error: ${m.error}`);
    if (m.mode !== 'io' && m.frames !== c.frames) warnings.push(`${p.key}: ${m.frames} frames read, expected ${c.frames}`);
    if (m.mode !== 'analyze' && m.bytesParsed !== c.fileBytes) warnings.push(`${p.key}: ${m.bytesParsed} bytes parsed, file has ${c.fileBytes}`);
    if (Object.keys(m.events).length > 0) warnings.push(`${p.key}: events on a clean capture: ${JSON.stringify(m.events)}`);
  }
}

interface FlatRun {
  file: string;
  frames: number;
  captureSeconds: number;
  generatorFlows: number;
  /** Every run of it; the median peak RSS is what is compared. */
  runs: Measurement[];
  /** The run with the median peak RSS. */
  m: Measurement;
}

/** Peak RSS may grow by this much when the file doubles and still count as flat. */
const FLAT_TOLERANCE = 0.1;

/**
 * Memory flatness: the full pipeline (--threads 1) on the same traffic, FLAT_FRAMES, at two
 * lengths (the second twice the first). Live flows are the same; only the number of flows that
 * came and went grows. Each is run --repeat times and the median peak compared: a single peak
 * moves by several MB with the garbage collector's timing (single runs gave +16 to +24 % here).
 */
function runFlat(opts: Options): { runs: FlatRun[]; growth: number; flat: boolean } {
  const sizes = opts.quick ? [1_000_000, 2_000_000] : [5_000_000, 10_000_000];
  const runs: FlatRun[] = [];
  for (const frames of sizes) {
    const file = path.join(OUT_DIR, `flat-${frames / 1_000_000}M.pcap`);
    const g = ensureCapture(file, withFrames(FLAT_FRAMES, frames), { force: opts.force, log: (m) => console.log(m) });
    warmPageCache(file);
    const all: Measurement[] = [];
    for (let i = 0; i < opts.repeat; i++) {
      progress(`flat: ${path.basename(file)} ${i + 1}/${opts.repeat}...`);
      all.push(runChild('analyze', file, opts.chunkBytes, 1).m);
    }
    progress(null);
    const byRss = [...all].sort((x, y) => x.maxRssKB - y.maxRssKB);
    runs.push({ file, frames, captureSeconds: g.stats.lastTs - g.stats.firstTs, generatorFlows: g.stats.tcpFlows, runs: all, m: byRss[(byRss.length - 1) >> 1]! });
  }
  const [a, b] = runs as [FlatRun, FlatRun];
  const growth = b.m.maxRssKB / a.m.maxRssKB - 1;
  console.log('');
  console.log('== memory flatness: the full pipeline (--threads 1) on the same traffic twice as long (every flow ends: live flows level off after 120 s)');
  const t = new Table({
    head: ['capture', 'frames', 'capture s', 'flows', 'wall s', 'frames/s', 'peak RSS MB (median)', 'every run'],
    style: { head: [], border: [] },
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  });
  for (const r of runs) {
    const every = r.runs.map((x) => (x.maxRssKB / 1024).toFixed(0)).join(', ');
    t.push([path.relative(process.cwd(), r.file), fmtInt(r.frames), r.captureSeconds.toFixed(0), fmtInt(r.m.flows ?? 0), fmtSec(r.m.wallS), fmtRate(r.frames / r.m.wallS), (r.m.maxRssKB / 1024).toFixed(0), every]);
  }
  console.log(t.toString());
  const flat = growth <= FLAT_TOLERANCE;
  console.log(`   peak RSS ${growth >= 0 ? 'grew' : 'shrank'} by ${(Math.abs(growth) * 100).toFixed(1)}% while the file doubled: ${flat ? 'PASS' : 'FAIL'} (flat = at most ${FLAT_TOLERANCE * 100}%)`);
  return { runs, growth, flat };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const machine = machineInfo();
  fs.mkdirSync(OUT_DIR, { recursive: true });
  console.log(`pcapscan benchmark, ${started.toISOString()}${opts.quick ? ' (--quick)' : ''}`);
  console.log(`machine: ${machine.os}, ${machine.kernel}, ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGB} GB; node ${machine.node} (V8 ${machine.v8})`);
  console.log(`load average at start: ${machine.loadAverage.join(' ')} (other work on this machine moves absolute times; compare the ratios)`);
  console.log(
    'method: every pcapscan measurement runs in a fresh child process (node --max-old-space-size=4096 dist/bench/measure.js <mode> <file>); ' +
      'wall (process.hrtime) and CPU (process.cpuUsage, user+sys) cover the pass over the file only: Node start-up and module loading are excluded ' +
      '(they are in results.json as processWallS). Peak RSS is the child\'s maxRSS over its life, so it includes Node\'s own ~40-50 MB. ' +
      'tcpdump and tshark run once, under /usr/bin/time, start-up included. The file is read once beforehand so every run reads from the page cache. ' +
      'MB and GB are 10^6 and 10^9 bytes of file (record headers included); frames/s counts every record.',
  );

  const captures: CaptureResult[] = [];
  for (const bc of benchCaptures(opts.quick)) {
    if (opts.only && bc.id !== opts.only) continue;
    const g = ensureCapture(bc.file, bc.spec, { force: opts.force, log: (m) => console.log(m) });
    if (g.generated) console.log(`generated ${bc.file} in ${g.seconds.toFixed(1)} s`);
    const fileBytes = fs.statSync(bc.file).size;
    const frames = g.stats.frames;
    const pageCacheWarmS = warmPageCache(bc.file);
    const warnings: string[] = [];

    const results = new Map<string, { runs: Measurement[]; processWallS: number[] }>();
    for (const pl of plans(opts)) results.set(pl.key, { runs: [], processWallS: [] });
    for (let r = 0; r < opts.repeat; r++) {
      // Interleaved (io, read, decode, analyze, io, read, ...) so that a burst of load elsewhere hits all alike.
      for (const pl of plans(opts)) {
        progress(`${bc.id}: ${pl.key} run ${r + 1}/${opts.repeat}...`);
        const { m, processWallS } = runChild(pl.mode, bc.file, opts.chunkBytes, pl.threads);
        results.get(pl.key)!.runs.push(m);
        results.get(pl.key)!.processWallS.push(processWallS);
      }
    }
    progress(null);
    const pcapscan: PcapscanResult[] = plans(opts).map(({ mode, threads, key }) => {
      const x = results.get(key)!;
      const p: PcapscanResult = {
        mode,
        threads,
        key,
        runs: x.runs,
        processWallS: x.processWallS,
        summary: summarize(
          x.runs.map((m) => m.wallS),
          x.runs.map((m) => m.userS + m.sysS),
          x.runs.map((m) => m.maxRssKB),
          frames,
          fileBytes,
          GOALS[bc.id][mode] ?? [],
        ),
      };
      checkRuns({ frames, fileBytes }, p, warnings);
      return p;
    });

    const tools: ToolResult[] = [];
    if (opts.tools) {
      for (const { name } of TOOLS) {
        progress(`${bc.id}: ${name}...`);
        const tr = runTool(name, bc.file, frames, fileBytes);
        if (tr.note && tr.installed) warnings.push(`${name}: ${tr.note}`);
        tools.push(tr);
      }
      progress(null);
    }

    const ratios: Record<string, number | null> = {};
    for (const p of pcapscan) {
      if (p.mode === 'io') continue;
      for (const tr of tools) {
        const k = `${p.key}/${tr.name}`;
        ratios[`${k}/wallMedian`] = tr.summary ? tr.summary.wallMedianS / p.summary.wallMedianS : null;
        ratios[`${k}/wallBest`] = tr.summary ? tr.summary.wallMedianS / p.summary.wallBestS : null;
        ratios[`${k}/cpu`] = tr.summary ? tr.summary.cpuMedianS / p.summary.cpuMedianS : null;
      }
    }

    const c: CaptureResult = {
      id: bc.id,
      title: bc.title,
      file: bc.file,
      fileBytes,
      frames,
      generator: { spec: bc.spec, stats: g.stats, generatedNow: g.generated, seconds: g.seconds },
      pageCacheWarmS,
      pcapscan,
      tools,
      ratios,
      warnings,
    };
    captures.push(c);
    printCapture(c, opts);
  }

  const flat = opts.flat ? runFlat(opts) : null;

  // Tool start-up, for reading their wall times: the same commands on a 1000-frame capture.
  const startup: Record<string, number | string> = {};
  if (opts.tools) {
    const tiny = ensureCapture(path.join(OUT_DIR, 'tiny-1k.pcap'), { ...withFrames(SMALL_FRAMES, 1000), liveFlows: 100 });
    for (const { name } of TOOLS) {
      const tr = runTool(name, tiny.path, tiny.stats.frames, tiny.stats.bytes);
      startup[name] = tr.run ? tr.run.wallS : 'not installed';
    }
    const node = runChild('decode', tiny.path, opts.chunkBytes);
    startup['pcapscan (node child, decode, process wall)'] = node.processWallS;
    console.log(
      `\nstart-up (same commands on a 1,000-frame capture, wall s): ${Object.entries(startup)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(3) : v}`)
        .join(', ')}`,
    );
  }

  const finished = new Date();
  const out = {
    date: started.toISOString(),
    finished: finished.toISOString(),
    machine: { ...machine, loadAverageAtEnd: machineInfo().loadAverage },
    options: opts,
    method: {
      pcapscan: 'fresh child process per measurement: node --max-old-space-size=4096 dist/bench/measure.js <mode> <file>; wall and CPU over the pass only (start-up excluded, see processWallS); maxRssKB over the child life',
      tools: 'once per capture under /usr/bin/time -f "%e %U %S %M", start-up included',
      units: 'MB = 1e6 bytes, GB = 1e9 bytes of file; frames = records',
      goals: Object.fromEntries(Object.entries(GOALS).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([mode, gs]) => [mode, gs.map((g) => g.label)]))])),
    },
    toolStartupWallS: startup,
    captures,
    flat,
  };
  const resultsFile = path.join(OUT_DIR, 'results.json');
  const json = JSON.stringify(out, null, 2) + '\n';
  fs.writeFileSync(resultsFile, json);
  // A dated copy too, so that a later run (e.g. --quick) does not lose this one.
  const dated = path.join(OUT_DIR, 'history', `results-${started.toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
  fs.mkdirSync(path.dirname(dated), { recursive: true });
  fs.writeFileSync(dated, json);
  console.log(`\nresults: ${path.relative(process.cwd(), resultsFile)} (and ${path.relative(process.cwd(), dated)})  (load average at end: ${out.machine.loadAverageAtEnd.join(' ')}; ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s in all)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
