import fs from 'node:fs';
import os from 'node:os';
import { readCapture } from '../capture/reader.js';
import type { CaptureRecord, RecordHandler } from '../capture/record.js';
import { decodeRecord } from '../decode/decoder.js';
import { Frame, Layer } from '../decode/frame.js';
import { frameClasses } from '../detectors/frame-class.js';
import { OPT_NFLOG_GROUP } from '../detectors/nflog-rule.js';
import { ALL_OPTIONS, LinkDetectors, makeShardObservers, reduceFindings, releaseFlowPartials, type ObserverSettings } from '../detectors/registry.js';
import { FrameClass, type OptionValues } from '../detectors/types.js';
import { resolveOptions, trackerOptionsFrom } from '../options.js';
import { eventCountsToObject, newEventCounters } from '../events.js';
import { FlowFeeder } from '../flows/feeder.js';
import { mergeTotals } from '../flows/merge.js';
import type { TrackerOptions } from '../flows/options.js';
import type { ShardResult } from '../flows/shard.js';
import { formatTimestamp } from '../report/format.js';
import type { CaptureReport, FlowSummary } from '../report/types.js';
import { CaptureStats } from './capture-stats.js';

export interface AnalyzeOptions {
  chunkBytes?: number;
  onProgress?: (bytesRead: number, totalBytes: number | null, frames: number) => void;
  /** Flow shards (worker threads). Default: cores - 1, at least 1. */
  threads?: number;
  /**
   * Track flows on the reader thread instead of one worker (only with threads = 1). Default: for
   * a capture file under INLINE_BELOW_BYTES, where starting a worker costs more than it saves.
   * Batch file workers set it: they already run one capture per core.
   */
  inlineFlows?: boolean;
  /** Option values (defaults for those not given), as the CLI and config file set them: { "fdb-ageing": 600 }. */
  options?: Readonly<Record<string, number>>;
  /** Tracker settings on top of the options (for tests). */
  tracker?: Partial<TrackerOptions>;
  /** Appends one JSON line per flow to this file descriptor. */
  flowsFd?: number;
}

/**
 * Below this file size, one flow shard runs on the reader thread: the capture takes well under a
 * second, and a worker's start (loading its modules) would cost more than the overlap saves.
 */
export const INLINE_BELOW_BYTES = 16 * 1024 * 1024;

/** Whether one flow shard should run on the reader thread for this input. */
function inlineByDefault(path: string): boolean {
  if (path === '-') return false;
  try {
    return fs.statSync(path).size < INLINE_BELOW_BYTES;
  } catch {
    return true; // readCapture reports the problem; nothing to track
  }
}

/** The default --threads: the number of cores minus one, at least 1. */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/** Decodes every record and feeds the per-frame consumers. */
class FramePipeline implements RecordHandler {
  readonly frame: Frame;
  /** The reader fills the frame itself (see RecordHandler.record). */
  readonly record: Frame;
  readonly stats: CaptureStats;

  constructor(
    readonly events: Float64Array,
    readonly feeder: FlowFeeder,
    readonly link: LinkDetectors,
    /** --nflog-group: in a netfilter log, the only group analyzed (-1: all). */
    readonly nflogGroup: number,
  ) {
    this.frame = new Frame(events);
    this.record = this.frame;
    this.stats = new CaptureStats(events);
  }

  onRecord(rec: CaptureRecord): void {
    const f = this.frame;
    decodeRecord(f, rec);
    this.stats.add(f);
    if (this.nflogGroup >= 0 && (f.layers & Layer.NFLOG) !== 0 && f.nflogGroup !== this.nflogGroup) {
      // Another NFLOG group than the one asked for (often copies of packets it holds): listed by
      // fw.nflog_rule, read by nothing else.
      this.link.dispatch(f, FrameClass.NFLOG);
      return;
    }
    const classes = frameClasses(f);
    if (classes !== 0) this.link.dispatch(f, classes);
    this.feeder.add(f);
  }
}

/** Reads, decodes and analyzes one capture file (or `-` for standard input). Never throws for bad input. */
export async function analyzeFile(path: string, opts: AnalyzeOptions = {}): Promise<CaptureReport> {
  const file = path === '-' ? '<stdin>' : path;
  const events = newEventCounters();
  const options: OptionValues = resolveOptions(ALL_OPTIONS, {}, opts.options ?? {});
  const trackerOptions: TrackerOptions = { ...trackerOptionsFrom(options), ...opts.tracker };
  const flowsFd = opts.flowsFd;
  const exportSink =
    flowsFd !== undefined
      ? (chunk: string): void => {
          // Name the capture in every line, so one file can hold the flows of several captures.
          fs.writeSync(flowsFd, chunk.replace(/^\{/gm, `{"capture":${JSON.stringify(file)},`));
        }
      : null;
  const threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
  const feeder = new FlowFeeder({
    threads,
    inline: threads === 1 && (opts.inlineFlows ?? inlineByDefault(path)),
    tracker: { ...trackerOptions, exportFlows: exportSink !== null },
    observers: { options } satisfies ObserverSettings,
    makeObservers: makeShardObservers,
    exportSink,
    // Another shard failed: this one's results are dropped, with its detectors' open files.
    discard: (r) => releaseFlowPartials([r.observers]),
  });
  const link = new LinkDetectors(options);
  const pipeline = new FramePipeline(events, feeder, link, options[OPT_NFLOG_GROUP] ?? -1);
  let outcome: Awaited<ReturnType<typeof readCapture>>;
  try {
    outcome = await readCapture(path, pipeline, {
      events,
      afterChunk: () => feeder.afterChunk(),
      ...(opts.chunkBytes !== undefined ? { chunkBytes: opts.chunkBytes } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  } catch (err) {
    // An internal failure (bad input never throws): the shards still hold open tasks and files.
    await feeder.abort();
    throw err;
  }
  const s = pipeline.stats;
  const hasFrames = s.startSec !== Infinity;
  const shards = await feeder.finish(hasFrames ? s.endSec + s.endNs * 1e-9 : -Infinity);
  const observers = shards.map((r) => r.observers);
  let flows: ReturnType<typeof flowSummary>;
  let eventCounts: ReturnType<typeof eventCountsToObject>;
  let findings: ReturnType<typeof reduceFindings>;
  try {
    flows = flowSummary(shards, feeder);
    eventCounts = eventCountsToObject(events);
    findings = reduceFindings(link, observers, {
      options,
      startSec: hasFrames ? s.startSec : null,
      startNs: s.startNs,
      endSec: hasFrames ? s.endSec : null,
      endNs: s.endNs,
      frames: s.frames,
      tracker: shards.map((r) => r.tracker),
      capture: {
        events: eventCounts,
        truncatedFrames: s.truncatedFrames,
        error: outcome.error ? outcome.error.toJSON() : null,
        droppedByCapture: outcome.droppedByCapture >= 0 ? outcome.droppedByCapture : null,
        flowEvictions: flows.evictions,
        untrackedFrames: flows.untrackedFrames,
      },
    });
  } finally {
    // Also when a reduce failed: the detectors' files must not stay open until the process ends.
    releaseFlowPartials(observers);
  }
  return {
    file,
    format: outcome.format,
    frames: s.frames,
    bytes: s.wireBytes,
    capturedBytes: s.capturedBytes,
    start: hasFrames ? formatTimestamp(s.startSec, s.startNs) : null,
    end: hasFrames ? formatTimestamp(s.endSec, s.endNs) : null,
    durationSeconds: hasFrames ? s.endSec - s.startSec + (s.endNs - s.startNs) / 1e9 : 0,
    linkTypes: s.linkTypeCounts(),
    etherTypes: s.etherTypeCounts(),
    ipProtocols: s.ipProtocolCounts(),
    stp: s.stpFrames,
    vlanFrames: s.vlanFrames,
    truncatedFrames: s.truncatedFrames,
    events: eventCounts,
    droppedByCapture: outcome.droppedByCapture >= 0 ? outcome.droppedByCapture : null,
    error: outcome.error ? outcome.error.toJSON() : null,
    flows,
    findings,
  };
}

function flowSummary(shards: ShardResult[], feeder: FlowFeeder): FlowSummary {
  const totals = mergeTotals(shards.map((r) => r.tracker));
  return {
    total: totals.flows,
    connStates: totals.connStates,
    verdicts: totals.verdicts,
    protocols: totals.protocols,
    evictions: totals.evictions,
    conntrackEntries: totals.conntrackEntries,
    orphanIcmpErrors: totals.orphanIcmpErrors,
    trackedFrames: feeder.tracked,
    untrackedFrames: feeder.untracked,
  };
}
