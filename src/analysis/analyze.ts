import { readCapture } from '../capture/reader.js';
import type { CaptureRecord, RecordHandler } from '../capture/record.js';
import { decodeRecord } from '../decode/decoder.js';
import { Frame } from '../decode/frame.js';
import { eventCountsToObject, newEventCounters } from '../events.js';
import { formatTimestamp } from '../report/format.js';
import type { CaptureReport } from '../report/types.js';
import { CaptureStats } from './capture-stats.js';

export interface AnalyzeOptions {
  chunkBytes?: number;
  onProgress?: (bytesRead: number, totalBytes: number | null) => void;
}

/** Decodes every record and feeds the per-frame consumers. */
class FramePipeline implements RecordHandler {
  readonly frame: Frame;
  readonly stats: CaptureStats;

  constructor(readonly events: Float64Array) {
    this.frame = new Frame(events);
    this.stats = new CaptureStats(events);
  }

  onRecord(rec: CaptureRecord): void {
    const f = this.frame;
    decodeRecord(f, rec);
    this.stats.add(f);
  }
}

/** Reads, decodes and analyzes one capture file (or `-` for standard input). Never throws for bad input. */
export async function analyzeFile(path: string, opts: AnalyzeOptions = {}): Promise<CaptureReport> {
  const events = newEventCounters();
  const pipeline = new FramePipeline(events);
  const outcome = await readCapture(path, pipeline, {
    events,
    ...(opts.chunkBytes !== undefined ? { chunkBytes: opts.chunkBytes } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const s = pipeline.stats;
  const hasFrames = s.frames > 0;
  return {
    file: path === '-' ? '<stdin>' : path,
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
    events: eventCountsToObject(events),
    droppedByCapture: outcome.droppedByCapture >= 0 ? outcome.droppedByCapture : null,
    error: outcome.error ? outcome.error.toJSON() : null,
    findings: [],
  };
}
