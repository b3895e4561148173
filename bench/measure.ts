/**
 * One pcapscan measurement, run in a fresh process by bench/run.ts so that peak RSS belongs to
 * that measurement alone:
 *
 *   node dist/bench/measure.js <mode> <capture> [chunkBytes] [threads]
 *
 * Modes:
 *   io       the floor: fs.readSync of the file in the reader's chunk size, no parsing
 *   read     readCapture with a handler that only counts records
 *   decode   readCapture + decodeRecord + CaptureStats.add (the per-frame work of analyzeFile)
 *   table    decode, then the flow record and a bare flow-table loop: find or insert the flow, count
 *            its packets and bytes. The reference ("a bare decode-plus-flow-table loop"),
 *            on the project's own FlowTable, with no conntrack, Zeek, evidence or expiry. Records
 *            are packed into batches and the batch is then looked up, as the pipeline does.
 *   shard    one flow shard's work alone: every record is decoded and packed first (not timed, and
 *            held in memory: the peak RSS is not comparable), then the timed pass runs the
 *            tracker and the flow detectors over the batches and ends the capture. The most one
 *            shard can track per second, however fast the reader.
 *   serial   analyzeFile() with the flow tracker on the reader thread: all of the full pipeline's
 *            work on one thread, which is its CPU cost per frame.
 *   analyze  analyzeFile() itself, the full pipeline: read, decode, link detectors, flow tracking on
 *            `threads` shards (default 1), flow detectors, the report. CPU time is the whole
 *            process's, worker threads included.
 *
 * Wall time (process.hrtime) and CPU time (process.cpuUsage, user + system) cover the pass
 * only; Node start-up and module loading are outside. Prints one line: `RESULT {json}`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureStats } from '../src/analysis/capture-stats.js';
import { readCapture } from '../src/capture/reader.js';
import type { CaptureRecord, RecordHandler } from '../src/capture/record.js';
import { DEFAULT_CHUNK_BYTES } from '../src/capture/source.js';
import { decodeRecord } from '../src/decode/decoder.js';
import { Frame } from '../src/decode/frame.js';
import { eventCountsToObject, newEventCounters } from '../src/events.js';
import { D, FlowTable } from '../src/flows/flow-table.js';
import { BATCH_RECORDS, packFrame, R, RECORD_WORDS } from '../src/flows/record.js';
import { canonicalKey, K } from './flow-key.js';

export const MODES = ['io', 'read', 'decode', 'table', 'shard', 'serial', 'analyze'] as const;
export type Mode = (typeof MODES)[number];

export interface Measurement {
  mode: Mode;
  file: string;
  fileBytes: number;
  chunkBytes: number;
  /** Flow shards (analyze only). */
  threads: number | null;
  /** Records seen (0 for io). */
  frames: number;
  /** analyze: flows and findings in the report. */
  flows: number | null;
  findings: number | null;
  /** Bytes the reader parsed (the file size when all went well). */
  bytesParsed: number;
  wallS: number;
  userS: number;
  sysS: number;
  /** Peak resident set of this process, whole life (kB, from process.resourceUsage). */
  maxRssKB: number;
  /** Resident set just before the pass (kB): Node's own baseline. */
  rssBeforeKB: number;
  /** Reader error, if any. */
  error: string | null;
  /** Non-zero event counters (decode/analyze): a clean synthetic capture has none. */
  events: Record<string, number>;
  /** decode: what CaptureStats counted, as a sanity check. */
  stats: { frames: number; ipv4: number; vlan: number; truncated: number } | null;
}

/** Counts records, nothing else. */
class CountingHandler implements RecordHandler {
  frames = 0;
  onRecord(_rec: CaptureRecord): void {
    this.frames++;
  }
}

/** The same per-frame work as analyzeFile's pipeline (src/analysis/analyze.ts). */
class DecodeHandler implements RecordHandler {
  readonly frame: Frame;
  readonly record: Frame;
  readonly stats: CaptureStats;
  constructor(events: Float64Array) {
    this.frame = new Frame(events);
    this.record = this.frame;
    this.stats = new CaptureStats(events);
  }
  onRecord(rec: CaptureRecord): void {
    const f = this.frame;
    decodeRecord(f, rec);
    this.stats.add(f);
  }
}

export async function measure(mode: Mode, file: string, chunkBytes = DEFAULT_CHUNK_BYTES, threads = 1): Promise<Measurement> {
  const fileBytes = fs.statSync(file).size;
  const rssBeforeKB = Math.round(process.memoryUsage().rss / 1024);
  const events = newEventCounters();
  let frames = 0;
  let bytesParsed = 0;
  let error: string | null = null;
  let stats: Measurement['stats'] = null;
  let flows: number | null = null;
  let findings: number | null = null;

  // shard: the records and the shard (its modules loaded) are made before the timed pass.
  const packed = mode === 'shard' ? await packAll(file, events, chunkBytes) : null;
  const shard = mode === 'shard' ? await makeShard() : null;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  switch (mode) {
    case 'io': {
      const fd = fs.openSync(file, 'r');
      const buf = new Uint8Array(chunkBytes);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, bytesParsed);
        if (n === 0) break;
        bytesParsed += n;
      }
      fs.closeSync(fd);
      break;
    }
    case 'read': {
      const h = new CountingHandler();
      const out = await readCapture(file, h, { events, chunkBytes });
      frames = h.frames;
      bytesParsed = out.bytesParsed;
      error = out.error ? out.error.message : null;
      break;
    }
    case 'decode': {
      const h = new DecodeHandler(events);
      const out = await readCapture(file, h, { events, chunkBytes });
      frames = h.stats.frames;
      bytesParsed = out.bytesParsed;
      error = out.error ? out.error.message : null;
      stats = { frames: h.stats.frames, ipv4: h.stats.ipv4Frames, vlan: h.stats.vlanFrames, truncated: h.stats.truncatedFrames };
      break;
    }
    case 'table': {
      const h = new FlowTableHandler(events);
      const out = await readCapture(file, h, { events, chunkBytes });
      h.lookUpBatch();
      frames = h.stats.frames;
      flows = h.table.live;
      bytesParsed = out.bytesParsed;
      error = out.error ? out.error.message : null;
      break;
    }
    case 'shard': {
      const p = packed!;
      for (const b of p.batches) shard!.tracker.processBatch(b.records, b.count);
      flows = shard!.finish(p.endTime).tracker.totals.flows;
      frames = p.frames;
      bytesParsed = p.bytesParsed;
      error = p.error;
      break;
    }
    case 'serial':
    case 'analyze': {
      // Loaded only here, so that the other modes do not load the analysis pipeline's modules.
      const { analyzeFile } = await import('../src/analysis/analyze.js');
      const report = await analyzeFile(file, mode === 'serial' ? { chunkBytes, threads: 1, inlineFlows: true } : { chunkBytes, threads });
      frames = report.frames;
      flows = report.flows.total;
      findings = report.findings.length;
      bytesParsed = fileBytes; // the report does not say; checked through `frames`
      error = report.error ? JSON.stringify(report.error) : null;
      break;
    }
  }
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  return {
    mode,
    file,
    fileBytes,
    chunkBytes,
    threads: mode === 'analyze' ? threads : null,
    frames,
    flows,
    findings,
    bytesParsed,
    wallS: Number(t1 - t0) / 1e9,
    userS: cpu.user / 1e6,
    sysS: cpu.system / 1e6,
    maxRssKB: process.resourceUsage().maxRSS,
    rssBeforeKB,
    error,
    events: eventCountsToObject(events),
    stats,
  };
}

/**
 * The bare decode-plus-flow-table loop: the record the shards get, packed into a batch; then, for
 * each record of the batch, its canonical key (the lower endpoint first, as the tracker orders
 * it), one FlowTable lookup, an insert for a new key, and three counters in the flow's slot.
 * Flows never expire, so the table holds every flow at the end.
 */
class FlowTableHandler extends DecodeHandler {
  private readonly batch = new Uint32Array(BATCH_RECORDS * RECORD_WORDS);
  private count = 0;
  private readonly key = new Uint32Array(K.WORDS);
  readonly table = new FlowTable(4096, 1 << 24);
  override onRecord(rec: CaptureRecord): void {
    super.onRecord(rec);
    if (!packFrame(this.frame, this.batch, this.count * RECORD_WORDS, 0x5eed)) return;
    if (++this.count === BATCH_RECORDS) this.lookUpBatch();
  }
  /** Looks up the records of the batch (called when it is full, and at the end). */
  lookUpBatch(): void {
    const r = this.batch;
    const k = this.key;
    const t = this.table;
    for (let i = 0; i < this.count; i++) {
      const base = i * RECORD_WORDS;
      canonicalKey(r, base, k);
      let s = t.find(r[base + R.HASH]!, k[K.VLAN]!, k[K.PROTO]!, k[K.IP_A]!, k[K.IP_B]!, k[K.PORTS]!);
      if (s < 0) s = t.insert(r[base + R.HASH]!, k[K.VLAN]!, k[K.PROTO]!, k[K.IP_A]!, k[K.IP_B]!, k[K.PORTS]!);
      const d = s * D.STRIDE;
      t.f64[d + D.PKTS + k[K.DIR]!]++;
      t.f64[d + D.IP_BYTES + k[K.DIR]!] += r[base + R.IP_LEN]!;
      t.f64[d + D.LAST_TIME] = r[base + R.TS_SEC]! + r[base + R.TS_NS]! * 1e-9;
    }
    this.count = 0;
  }
}

/** A flow shard with the default options and every flow detector, as analyzeFile makes one. */
async function makeShard(): Promise<import('../src/flows/shard.js').Shard> {
  // Loaded only here, so that the other modes do not load the detectors' modules.
  const { Shard } = await import('../src/flows/shard.js');
  const { ALL_OPTIONS, makeShardObservers } = await import('../src/detectors/registry.js');
  const { resolveOptions, trackerOptionsFrom } = await import('../src/options.js');
  const options = resolveOptions(ALL_OPTIONS, {}, {});
  const tracker = trackerOptionsFrom(options);
  return new Shard({ tracker, maxFlows: tracker.maxFlows, observers: { options } }, null, makeShardObservers);
}

/** A capture's records, decoded and packed in batches, for the shard mode. */
interface PackedCapture {
  batches: Array<{ records: Uint32Array; count: number }>;
  frames: number;
  records: number;
  /** The last frame's time (seconds): where the capture ends. */
  endTime: number;
  bytesParsed: number;
  error: string | null;
}

/** Decodes and packs every frame of `file`, as the reader thread does for the shards. */
async function packAll(file: string, events: Float64Array, chunkBytes: number): Promise<PackedCapture> {
  const h = new PackingHandler(events);
  const out = await readCapture(file, h, { events, chunkBytes });
  if (h.count > 0) h.batches.push({ records: h.batch, count: h.count });
  const s = h.stats;
  return {
    batches: h.batches,
    frames: s.frames,
    records: h.records,
    endTime: s.startSec === Infinity ? -Infinity : s.endSec + s.endNs * 1e-9,
    bytesParsed: out.bytesParsed,
    error: out.error ? out.error.message : null,
  };
}

class PackingHandler extends DecodeHandler {
  readonly batches: Array<{ records: Uint32Array; count: number }> = [];
  batch = new Uint32Array(BATCH_RECORDS * RECORD_WORDS);
  count = 0;
  records = 0;
  private readonly seed = 0x5eed;
  override onRecord(rec: CaptureRecord): void {
    super.onRecord(rec);
    if (!packFrame(this.frame, this.batch, this.count * RECORD_WORDS, this.seed)) return;
    this.records++;
    if (++this.count === BATCH_RECORDS) {
      this.batches.push({ records: this.batch, count: this.count });
      this.batch = new Uint32Array(BATCH_RECORDS * RECORD_WORDS);
      this.count = 0;
    }
  }
}

async function main(): Promise<void> {
  const [mode, file, chunk, threadsArg] = process.argv.slice(2);
  const chunkBytes = chunk === undefined || chunk === '-' ? DEFAULT_CHUNK_BYTES : Number(chunk);
  const threads = threadsArg === undefined ? 1 : Number(threadsArg);
  if (!mode || !file || !(MODES as readonly string[]).includes(mode) || !Number.isInteger(chunkBytes) || chunkBytes < 4096 || !Number.isInteger(threads) || threads < 1) {
    console.error(`usage: node dist/bench/measure.js <${MODES.join('|')}> <capture> [chunkBytes >= 4096 | -] [threads]`);
    process.exit(2);
  }
  const m = await measure(mode as Mode, file, chunkBytes, threads);
  if (mode === 'analyze') {
    const { closeShardPool } = await import('../src/flows/feeder.js');
    await closeShardPool();
  }
  process.stdout.write(`RESULT ${JSON.stringify(m)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
