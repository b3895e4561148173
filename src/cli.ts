#!/usr/bin/env node
/**
 * The pcapscan command line:
 *   pcapscan [options] CAPTURE|DIR...     analyze captures (directories are walked)
 *   pcapscan check [DIR]                  compare captures with their NAME.expect.json
 * Exit codes: 0 clean, 1 a finding reached --fail-on (or a check failed), 2 usage error or
 * unreadable capture.
 */
import fs from 'node:fs';
import os from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { defaultThreads } from './analysis/analyze.js';
import { collectCaptures } from './batch/collect.js';
import { analyzeAll } from './batch/run.js';
import { toJUnit, type CheckResult } from './check/junit.js';
import { runCheck } from './check/run.js';
import { severityAtLeast } from './detectors/finding.js';
import { ALL_OPTIONS } from './detectors/registry.js';
import type { OptionValues } from './detectors/types.js';
import { closeShardPool } from './flows/feeder.js';
import { readConfigFile, resolveOptions } from './options.js';
import { ProgressReporter } from './report/progress.js';
import { renderCapture } from './report/render.js';
import { renderSummaryTable } from './report/summary.js';
import { escapeTerminal, makeStyle } from './report/style.js';
import type { AnalysisDocument, CaptureReport, Severity } from './report/types.js';
import { VERSION } from './version.js';

export const ExitCode = {
  OK: 0,
  FINDINGS: 1,
  USAGE_OR_UNREADABLE: 2,
} as const;

/** Errors that leave nothing to analyze: the capture is unreadable. */
const UNREADABLE = new Set(['io', 'empty', 'not_a_capture', 'unsupported_version', 'corrupt_header']);

export function isUnreadable(report: CaptureReport): boolean {
  return report.error !== null && (UNREADABLE.has(report.error.kind) || report.frames === 0);
}

/** The parsed command line. */
interface CliArgs {
  _: Array<string | number>;
  captures?: unknown[];
  dir?: string;
  json: boolean;
  ndjson: boolean;
  brief: boolean;
  quiet: boolean;
  flows?: string;
  threads: number;
  jobs: number;
  config?: string;
  'fail-on'?: Severity;
  color?: boolean;
  update: boolean;
  junit?: string;
  help?: boolean;
  version?: boolean;
  /** Thresholds and timeouts, by option key. */
  [option: string]: unknown;
}

/** A yargs option per threshold and timeout; no default here, so the config file can set them. */
function thresholdOptions(): Record<string, { type: 'number' | 'string'; describe: string }> {
  const out: Record<string, { type: 'number' | 'string'; describe: string }> = {};
  for (const o of ALL_OPTIONS) {
    out[o.key] = o.mac
      ? { type: 'string', describe: o.description }
      : { type: 'number', describe: `${o.description} [default ${o.default}${o.unit ? ` ${o.unit}` : ''}]` };
  }
  return out;
}

/** yargs drops a lone "-"; it stands for standard input, so it is carried through under another name. */
const STDIN_TOKEN = '\u0000stdin';

function buildParser(argv: string[], onFail: (msg: string) => void) {
  return yargs(argv)
    .scriptName('pcapscan')
    .usage('$0 [options] <capture|dir...>\n$0 check [dir]\n\nReads pcap/pcapng captures (gzip too, `-` for stdin) and tells what is wrong on layers 2 to 4, with the evidence and the fix.')
    .command('$0 [captures..]', 'analyze captures (directories are walked for captures)', (y) =>
      y.positional('captures', { type: 'string', array: true, describe: 'capture files or directories, or - for standard input' }),
    )
    .command('check [dir]', 'compare every capture that has a NAME.expect.json beside it with its expectations', (y) =>
      y
        .positional('dir', { type: 'string', default: 'captures', describe: 'directory of captures and expectations' })
        .option('update', { type: 'boolean', default: false, describe: 'write the expectations from the current results (review them!)' })
        .option('junit', { type: 'string', describe: 'write JUnit XML results to this file' }),
    )
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document (the schema is in the README)' })
    .option('ndjson', { type: 'boolean', default: false, describe: 'print a stream of JSON lines: one per finding, then one per capture' })
    .option('brief', { type: 'boolean', default: false, describe: 'print the findings table only' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but errors (use the exit code)' })
    .option('flows', { type: 'string', describe: 'write one JSON line per flow (conn.log style) to this file' })
    .option('threads', { type: 'number', default: defaultThreads(), describe: 'flow-tracking worker threads per capture (with 1, captures under 16 MB are tracked on the reader thread)' })
    .option('jobs', { type: 'number', default: os.availableParallelism(), describe: 'captures analyzed in parallel when several are given' })
    .option('config', { type: 'string', describe: 'JSON file of option values, e.g. {"fdb-ageing": 600, "ct-max": 65536}' })
    .option('fail-on', { choices: ['low', 'medium', 'high'] as const, describe: 'exit 1 when a finding reaches this severity' })
    .option('color', { type: 'boolean', describe: 'colour the output (default: on a terminal, unless NO_COLOR is set; --no-color to disable)' })
    .options(thresholdOptions())
    .group(
      ALL_OPTIONS.map((o) => o.key),
      'Thresholds and timeouts (also settable in --config):',
    )
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => onFail(msg ?? err?.message ?? 'usage error'))
    .exitProcess(false);
}

async function main(rawArgv: string[]): Promise<number> {
  const argv = rawArgv.map((a) => (a === '-' ? STDIN_TOKEN : a));
  let usageError: string | null = null;
  const parser = buildParser(argv, (msg) => {
    usageError = msg;
  });
  const args = (await parser.parseAsync()) as unknown as CliArgs;
  const usage = async (message: string): Promise<number> => {
    process.stderr.write(`pcapscan: ${message}\n\n${await parser.getHelp()}\n`);
    return ExitCode.USAGE_OR_UNREADABLE;
  };
  if (usageError !== null) return usage(usageError);
  if (args.help || args.version) return ExitCode.OK;

  const threads = args.threads;
  const jobs = args.jobs;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) return usage(`--threads must be a whole number from 1 to 256, not ${threads}`);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256) return usage(`--jobs must be a whole number from 1 to 256, not ${jobs}`);
  if (args.json && args.ndjson) return usage('--json and --ndjson exclude each other');
  let config: Record<string, unknown> = {};
  let options: OptionValues;
  try {
    if (args.config !== undefined) config = readConfigFile(args.config);
    const fromCli: Record<string, unknown> = {};
    for (const o of ALL_OPTIONS) fromCli[o.key] = args[o.key];
    options = resolveOptions(ALL_OPTIONS, config, fromCli);
  } catch (err) {
    return usage((err as Error).message);
  }
  const style = makeStyle(args.color, process.stdout);
  const width = Math.max(80, Math.min(160, process.stdout.columns || 120));

  try {
    if (args._[0] === 'check') return await check(args, threads, { ...config, ...pickGiven(args) }, style);

    const inputs = (args.captures ?? []).map((a) => (a === STDIN_TOKEN ? '-' : String(a)));
    if (inputs.length === 0) return usage('no capture given');
    const { files, problems } = collectCaptures(inputs);
    for (const p of problems) process.stderr.write(`pcapscan: ${escapeTerminal(p.input)}: ${p.message}\n`);
    if (files.length === 0) {
      process.stderr.write('pcapscan: no capture found in the given directories\n');
      return ExitCode.USAGE_OR_UNREADABLE;
    }
    if (args.flows !== undefined) {
      try {
        fs.writeFileSync(args.flows, '');
      } catch (err) {
        return usage(`cannot write --flows ${args.flows}: ${(err as Error).message}`);
      }
    }
    const progress = !args.quiet && files.length === 1 ? new ProgressReporter(process.stderr) : null;
    const reports = await analyzeAll(files, {
      threads,
      jobs,
      options,
      ...(args.flows !== undefined ? { flowsPath: args.flows } : {}),
      ...(progress ? { onProgress: (read: number, total: number | null, frames: number) => progress.update(read, total, frames) } : {}),
      onReport: (report) => {
        progress?.done();
        if (report.error) process.stderr.write(`pcapscan: ${escapeTerminal(report.error.message)}\n`);
        if (args.quiet || args.json) return;
        if (args.ndjson) {
          for (const f of report.findings) process.stdout.write(JSON.stringify({ type: 'finding', capture: report.file, ...f }) + '\n');
          const { findings: _f, ...summary } = report;
          process.stdout.write(JSON.stringify({ type: 'capture', ...summary, findings: report.findings.length }) + '\n');
          return;
        }
        process.stdout.write(renderCapture(report, style, { brief: args.brief, width }) + '\n');
      },
    });
    if (args.json && !args.quiet) {
      const doc: AnalysisDocument = { tool: 'pcapscan', version: VERSION, captures: reports };
      process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    }
    if (!args.quiet && !args.json && !args.ndjson && reports.length > 1) process.stdout.write(renderSummaryTable(reports, style) + '\n');
    if (reports.some(isUnreadable)) return ExitCode.USAGE_OR_UNREADABLE;
    const failOn = args['fail-on'];
    if (failOn && reports.some((r) => r.findings.some((f) => severityAtLeast(f.severity, failOn)))) return ExitCode.FINDINGS;
    return ExitCode.OK;
  } finally {
    await closeShardPool();
  }
}

/** The threshold flags given on the command line (for `check`, they apply under each file's options). */
function pickGiven(args: CliArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of ALL_OPTIONS) if (args[o.key] !== undefined) out[o.key] = args[o.key];
  return out;
}

async function check(args: CliArgs, threads: number, config: Record<string, unknown>, style: ReturnType<typeof makeStyle>): Promise<number> {
  const dir = args.dir ?? 'captures';
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    process.stderr.write(`pcapscan check: ${escapeTerminal(dir)} is not a directory\n`);
    return ExitCode.USAGE_OR_UNREADABLE;
  }
  const results: CheckResult[] = await runCheck(dir, {
    threads,
    config,
    update: args.update,
    onResult: (r) => {
      if (args.quiet) return;
      if (r.error !== null) process.stdout.write(`${style.red('ERROR')} ${escapeTerminal(r.capture)}: ${escapeTerminal(r.error)}\n`);
      else if (args.update) process.stdout.write(`${style.cyan('UPDATED')} ${escapeTerminal(r.capture)}\n`);
      else if (r.diff.length === 0) process.stdout.write(`${style.green('PASS')} ${escapeTerminal(r.capture)}\n`);
      else process.stdout.write(`${style.red('FAIL')} ${escapeTerminal(r.capture)}\n${r.diff.map((d) => `    ${escapeTerminal(d)}`).join('\n')}\n`);
    },
  });
  if (args.junit !== undefined) fs.writeFileSync(args.junit, toJUnit(results));
  const failed = results.filter((r) => r.diff.length > 0 || r.error !== null).length;
  if (!args.quiet) process.stdout.write(`${results.length} capture(s) checked, ${failed} failed\n`);
  if (results.length === 0) {
    process.stderr.write(`pcapscan check: no capture with an expectations file (NAME.expect.json) under ${escapeTerminal(dir)}\n`);
    return ExitCode.USAGE_OR_UNREADABLE;
  }
  return failed > 0 ? ExitCode.FINDINGS : ExitCode.OK;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`pcapscan: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70;
  },
);
