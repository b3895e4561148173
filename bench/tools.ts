/**
 * Helpers of the benchmark: machine description, running and timing external commands,
 * statistics and number formatting. Nothing here measures pcapscan itself.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface MachineInfo {
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cores: number;
  memoryGB: number;
  node: string;
  v8: string;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: osName(),
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpuModel(cpus[0]?.model),
    cores: cpus.length,
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function osName(): string {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text);
    if (m?.[1]) return m[1];
  } catch {
    // not Linux, or no os-release
  }
  return `${os.type()} ${os.release()}`;
}

/** os.cpus() says "AMD EPYC" on some VMs; /proc/cpuinfo and lscpu may say more. */
function cpuModel(fromNode: string | undefined): string {
  let model = (fromNode ?? 'unknown').trim();
  try {
    const r = spawnSync('lscpu', [], { encoding: 'utf8' });
    const m = /^Model name:\s*(.+)$/m.exec(r.stdout ?? '');
    if (m?.[1] && m[1].trim().length > model.length) model = m[1].trim();
    const mhz = /^CPU max MHz:\s*([\d.]+)$/m.exec(r.stdout ?? '');
    if (mhz?.[1]) model += ` (max ${Math.round(Number(mhz[1]))} MHz)`;
  } catch {
    // no lscpu
  }
  return model;
}

/** Path of an executable on PATH, or null (`command -v`). */
export function commandPath(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const p = (r.stdout ?? '').trim();
  return r.status === 0 && p ? p : null;
}

/** First line of `cmd --version` (or of `args`), for the results file. */
export function commandVersion(cmd: string, args: string[] = ['--version']): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return text.split('\n').find((l) => /\d+\.\d+/.test(l))?.trim() ?? 'unknown';
}

export interface TimedRun {
  command: string;
  status: number | null;
  /** Wall seconds seen by this process (spawn to exit). */
  wallS: number;
  /** From /usr/bin/time when available, else null. */
  userS: number | null;
  sysS: number | null;
  maxRssKB: number | null;
  stdout: string;
  stderr: string;
}

const TIME_BIN = '/usr/bin/time';

/**
 * Runs a command to completion under /usr/bin/time (when present) and measures it. Stdout goes
 * to /dev/null unless `captureStdout`.
 */
export function timeCommand(cmd: string, args: string[], opts: { captureStdout?: boolean } = {}): TimedRun {
  const haveTime = fs.existsSync(TIME_BIN);
  const timeFile = path.join(os.tmpdir(), `pcapscan-bench-time-${process.pid}-${Date.now()}.txt`);
  const argv = haveTime ? ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args] : args;
  const devNull = opts.captureStdout ? null : fs.openSync('/dev/null', 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(haveTime ? TIME_BIN : cmd, argv, {
    encoding: 'utf8',
    stdio: ['ignore', devNull ?? 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (devNull !== null) fs.closeSync(devNull);
  let userS: number | null = null;
  let sysS: number | null = null;
  let maxRssKB: number | null = null;
  if (haveTime) {
    try {
      const line = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
      const [, u, s, m] = line.split(/\s+/).map(Number);
      if (Number.isFinite(u) && Number.isFinite(s)) {
        userS = u!;
        sysS = s!;
      }
      if (Number.isFinite(m)) maxRssKB = m!;
    } catch {
      // time wrote nothing (the command could not start)
    }
    fs.rmSync(timeFile, { force: true });
  }
  return {
    command: [cmd, ...args].map(shellQuote).join(' '),
    status: r.status,
    wallS,
    userS,
    sysS,
    maxRssKB,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: r.stderr ?? '',
  };
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Reads a file once so that every measurement sees it in the page cache. Returns seconds. */
export function warmPageCache(file: string): number {
  const t0 = process.hrtime.bigint();
  const fd = fs.openSync(file, 'r');
  const buf = new Uint8Array(16 * 1024 * 1024);
  try {
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : Math.min(...xs);
}

export function max(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : Math.max(...xs);
}

/** 12345678 -> "12.35 M". */
export function fmtRate(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(digits)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(digits)} k`;
  return x.toFixed(digits);
}

/** Bytes per second as MB/s (10^6). */
export function fmtMBps(bps: number): string {
  if (!Number.isFinite(bps)) return '—';
  return (bps / 1e6).toFixed(bps >= 1e9 ? 0 : 1);
}

export function fmtSec(s: number): string {
  if (!Number.isFinite(s)) return '—';
  return s < 10 ? s.toFixed(3) : s.toFixed(1);
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return '—';
  return x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
}
