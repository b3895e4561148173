/**
 * Running tshark from tests: its version (null when it is not installed), `-T fields` output per
 * frame, and a small concurrency limiter to run it on two files at a time.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** tshark's version line, or null when tshark cannot be run. */
export function tsharkVersion(): string | null {
  try {
    const out = execFileSync('tshark', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: tsharkEnv() });
    return out.split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

let configDir: string | null = null;

/**
 * An environment with an empty Wireshark configuration directory: no personal preferences. The
 * directory is shared by every run (tshark only reads it), so none pile up in the temp dir.
 */
export function tsharkEnv(): NodeJS.ProcessEnv {
  if (!configDir) {
    configDir = path.join(os.tmpdir(), 'pcapscan-wireshark-empty-profile');
    fs.mkdirSync(configDir, { recursive: true });
  }
  return { ...process.env, WIRESHARK_CONFIG_DIR: configDir, LC_ALL: 'C' };
}

export interface TsharkResult {
  /** tshark's exit status (null when it was killed, e.g. after the 3-minute limit). */
  status: number | null;
  /** One row per frame: frame.number, then the fields in the order asked (occurrences comma-joined with occurrence=a). */
  rows: string[][];
  stderr: string;
}

/**
 * `tshark -r FILE -T fields -E separator=/t -E occurrence=<occurrence> -e frame.number -e ...`.
 * Column 0 of every row is frame.number. A file tshark cannot (fully) read still returns the rows
 * it printed, with its exit status.
 */
export function tsharkFields(file: string, fields: readonly string[], opts: { prefs?: readonly string[]; occurrence?: 'a' | 'f'; extra?: readonly string[] } = {}): Promise<TsharkResult> {
  const args = ['-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', `occurrence=${opts.occurrence ?? 'a'}`, '-E', 'aggregator=,'];
  for (const p of opts.prefs ?? []) args.push('-o', p);
  args.push(...(opts.extra ?? []));
  args.push('-e', 'frame.number');
  for (const f of fields) args.push('-e', f);
  return new Promise((resolve) => {
    // A file that keeps tshark busy for minutes is a tshark problem, not a reason to hang the suite.
    execFile('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 30, env: tsharkEnv(), timeout: 180_000 }, (err, stdout, stderr) => {
      // On a non-zero exit, err.code is the exit status; a string code means tshark did not run.
      const code: unknown = err?.code;
      const status = !err ? 0 : typeof code === 'number' ? code : null;
      const rows = stdout
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => l.split('\t'));
      resolve({ status, rows, stderr });
    });
  });
}

/** Runs `task` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
