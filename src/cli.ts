#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import fs from 'node:fs';
import { analyzeFile, defaultThreads } from './analysis/analyze.js';
import { ALL_OPTIONS } from './detectors/registry.js';
import type { OptionValues } from './detectors/types.js';
import { closeShardPool } from './flows/feeder.js';
import { readConfigFile, resolveOptions } from './options.js';
import { makeStyle } from './report/style.js';
import { renderCaptureHeader } from './report/text.js';
import type { AnalysisDocument, CaptureReport } from './report/types.js';
import { VERSION } from './version.js';

/** Exit codes. */
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
  captures?: unknown[];
  json: boolean;
  flows?: string;
  threads: number;
  config?: string;
  color?: boolean;
  help?: boolean;
  version?: boolean;
  /** Thresholds and timeouts, by option key. */
  [option: string]: unknown;
}

/** A yargs option per threshold and timeout; no default here, so the config file can set them. */
function thresholdOptions(): Record<string, { type: 'number'; describe: string }> {
  const out: Record<string, { type: 'number'; describe: string }> = {};
  for (const o of ALL_OPTIONS) out[o.key] = { type: 'number', describe: `${o.description} [default ${o.default}${o.unit ? ` ${o.unit}` : ''}]` };
  return out;
}

/** yargs drops a lone "-"; it stands for standard input, so it is carried through under another name. */
const STDIN_TOKEN = '\u0000stdin';

async function main(rawArgv: string[]): Promise<number> {
  const argv = rawArgv.map((a) => (a === '-' ? STDIN_TOKEN : a));
  let usageError: string | null = null;
  const parser = yargs(argv)
    .scriptName('pcapscan')
    .usage('$0 [options] <capture...>\n\nReads pcap/pcapng captures (gzip too, `-` for stdin) and tells what is wrong on layers 2 to 4.')
    .command('$0 [captures..]', false, (y) => y.positional('captures', { type: 'string', array: true, describe: 'capture files, or - for standard input' }))
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document' })
    .option('flows', { type: 'string', describe: 'write one JSON line per flow (conn.log style) to this file' })
    .option('threads', { type: 'number', default: defaultThreads(), describe: 'flow-tracking worker threads (1: track on the reader thread)' })
    .option('config', { type: 'string', describe: 'JSON file of option values, e.g. {"fdb-ageing": 600, "ct-max": 65536}' })
    .option('color', { type: 'boolean', describe: 'colour the output (default: when stdout is a terminal and NO_COLOR is unset)' })
    .options(thresholdOptions())
    .group(ALL_OPTIONS.map((o) => o.key), 'Thresholds and timeouts (also settable in --config):')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .fail((msg, err) => {
      usageError = msg ?? err?.message ?? 'usage error';
    })
    .exitProcess(false);
  const args = (await parser.parseAsync()) as unknown as CliArgs;
  if (usageError !== null || args.help || args.version) {
    if (usageError !== null) {
      process.stderr.write(`pcapscan: ${usageError}\n\n${await parser.getHelp()}\n`);
      return ExitCode.USAGE_OR_UNREADABLE;
    }
    return ExitCode.OK;
  }
  const files = (args.captures ?? []).map((a) => (a === STDIN_TOKEN ? '-' : String(a)));
  if (files.length === 0) {
    process.stderr.write(`pcapscan: no capture given\n\n${await parser.getHelp()}\n`);
    return ExitCode.USAGE_OR_UNREADABLE;
  }

  const threads = args.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) return usage(parser, `--threads must be a whole number from 1 to 256, not ${threads}`);
  let options: OptionValues;
  try {
    const config = args.config !== undefined ? readConfigFile(args.config) : {};
    const fromCli: Record<string, unknown> = {};
    for (const o of ALL_OPTIONS) fromCli[o.key] = args[o.key];
    options = resolveOptions(ALL_OPTIONS, config, fromCli);
  } catch (err) {
    return usage(parser, (err as Error).message);
  }
  let flowsFd: number | undefined;
  if (args.flows !== undefined) {
    try {
      flowsFd = fs.openSync(args.flows, 'w');
    } catch (err) {
      return usage(parser, `cannot write --flows ${args.flows}: ${(err as Error).message}`);
    }
  }

  const style = makeStyle(args.color, process.stdout);
  const reports: CaptureReport[] = [];
  for (const file of files) {
    const report = await analyzeFile(file, { threads, options, ...(flowsFd !== undefined ? { flowsFd } : {}) });
    reports.push(report);
    if (!args.json) process.stdout.write(renderCaptureHeader(report, style) + '\n\n');
    if (report.error) process.stderr.write(`pcapscan: ${report.error.message}\n`);
  }
  if (flowsFd !== undefined) fs.closeSync(flowsFd);
  await closeShardPool();
  if (args.json) {
    const doc: AnalysisDocument = { tool: 'pcapscan', version: VERSION, captures: reports };
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  }
  return reports.some(isUnreadable) ? ExitCode.USAGE_OR_UNREADABLE : ExitCode.OK;
}

async function usage(parser: { getHelp(): Promise<string> }, message: string): Promise<number> {
  process.stderr.write(`pcapscan: ${message}\n\n${await parser.getHelp()}\n`);
  return ExitCode.USAGE_OR_UNREADABLE;
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
