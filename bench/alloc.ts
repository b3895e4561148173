/**
 * Bytes allocated per packet on the hot path, counted with V8's sampling heap profiler (objects
 * already collected included), on the compiled code users run:
 *
 *   node dist/bench/alloc.js <capture> [<longer capture of the same traffic>]
 *
 * Two measurements, each after two passes that let the optimizing compiler settle:
 *   reader   read, decode, capture statistics, link detectors, packing the flow record (the
 *            reader thread's per-frame work)
 *   tracker  the flow tracker (conntrack, Zeek, evidence) on the packed records, no detector
 *
 * Prints one line per capture: `RESULT {"file", "frames", "readerBytes", "records", "trackerBytes"}`.
 * Each pass also allocates a fixed amount (detector tables, the first flows and hosts, read
 * buffers); the difference between two captures of the same traffic is the cost per packet. The hot path
 * should allocate nothing per packet: V8 boxes a number that is not a small integer (a time, an
 * address above 2^31, a 48-bit MAC) into a fresh heap object when it crosses a call that is not
 * inlined, and such a slip shows here as 16 bytes or more per packet.
 */
import inspector from 'node:inspector/promises';
import { CaptureStats } from '../src/analysis/capture-stats.js';
import { readCapture } from '../src/capture/reader.js';
import { decodeRecord } from '../src/decode/decoder.js';
import { Frame } from '../src/decode/frame.js';
import { frameClasses } from '../src/detectors/frame-class.js';
import { ALL_OPTIONS, LinkDetectors } from '../src/detectors/registry.js';
import { newEventCounters } from '../src/events.js';
import { defaultTrackerOptions } from '../src/flows/options.js';
import { packFrame, RECORD_WORDS } from '../src/flows/record.js';
import { FlowTracker } from '../src/flows/tracker.js';
import { resolveOptions } from '../src/options.js';

const SEED = 0x9e3779b1;

/** Bytes allocated while `run` runs (sampled every 512 bytes). */
async function allocatedBytes(run: () => Promise<void> | void): Promise<number> {
  const session = new inspector.Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
    await run();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let total = 0;
    const walk = (n: inspector.HeapProfiler.SamplingHeapProfileNode): void => {
      total += n.selfSize;
      for (const c of n.children) walk(c);
    };
    walk(profile.head);
    return total;
  } finally {
    session.disconnect();
  }
}

async function readerPass(file: string): Promise<number> {
  const events = newEventCounters();
  const frame = new Frame(events);
  const stats = new CaptureStats(events);
  const link = new LinkDetectors(resolveOptions(ALL_OPTIONS, {}, {}));
  const record = new Uint32Array(RECORD_WORDS);
  let frames = 0;
  await readCapture(
    file,
    {
      onRecord(rec) {
        decodeRecord(frame, rec);
        stats.add(frame);
        const classes = frameClasses(frame);
        if (classes !== 0) link.dispatch(frame, classes);
        packFrame(frame, record, 0, SEED);
        frames++;
      },
    },
    { events },
  );
  return frames;
}

async function packedRecords(file: string): Promise<{ records: Uint32Array; n: number }> {
  const events = newEventCounters();
  const frame = new Frame(events);
  let records = new Uint32Array(RECORD_WORDS * 65536);
  let n = 0;
  await readCapture(
    file,
    {
      onRecord(rec) {
        decodeRecord(frame, rec);
        if ((n + 1) * RECORD_WORDS > records.length) {
          const grown = new Uint32Array(records.length * 2);
          grown.set(records);
          records = grown;
        }
        if (packFrame(frame, records, n * RECORD_WORDS, SEED)) n++;
      },
    },
    { events },
  );
  return { records, n };
}

/** Measured passes per capture: the least is kept (a late re-optimization or a GC's timing only adds). */
const PASSES = 3;

/** The least that `pass` allocated over PASSES runs (each gets a fresh run of `pass`). */
async function leastAllocated(pass: () => Promise<void> | void): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < PASSES; i++) least = Math.min(least, await allocatedBytes(pass));
  return least;
}

/** One capture's measurements. */
async function measureCapture(file: string): Promise<{ file: string; frames: number; readerBytes: number; records: number; trackerBytes: number }> {
  await readerPass(file);
  await readerPass(file);
  let frames = 0;
  const readerBytes = await leastAllocated(async () => {
    frames = await readerPass(file);
  });
  const { records, n } = await packedRecords(file);
  for (let i = 0; i < 2; i++) new FlowTracker(defaultTrackerOptions(), 1_000_000).processBatch(records, n);
  // A fresh tracker per pass, created outside the measured part.
  const trackers = Array.from({ length: PASSES }, () => new FlowTracker(defaultTrackerOptions(), 1_000_000));
  const trackerBytes = await leastAllocated(() => trackers.pop()!.processBatch(records, n));
  return { file, frames, readerBytes, records: n, trackerBytes };
}

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/alloc.js <capture> [<longer capture of the same traffic>]\n');
    process.exit(2);
  }
  for (const file of files) process.stdout.write(`RESULT ${JSON.stringify(await measureCapture(file))}\n`);
}

await main();
