/**
 * Property tests of the capture reader: it never throws on any bytes, reads back exactly what the
 * writer wrote whatever the chunk size, and on a damaged capture keeps every record before the
 * damage. Seeded (FC_SEED overrides) so that CI runs are reproducible.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/analysis/analyze.js';
import type { CaptureErrorKind } from '../../src/capture/errors.js';
import { readCapture, type ReadOutcome } from '../../src/capture/reader.js';
import type { CaptureRecord } from '../../src/capture/record.js';
import {
  concatBytes,
  pcapFileHeader,
  pcapRecord,
  pcapngEnhancedPacket,
  pcapngInterface,
  pcapngSectionHeader,
  type PcapngInterfaceSpec,
  type WriteFrame,
} from '../../src/capture/writer.js';
import { eventCountsToObject, newEventCounters } from '../../src/events.js';

const SEED = Number(process.env.FC_SEED ?? 0x5eed_cafe);
/**
 * A run takes about a millisecond, but shrinking a failure of these inputs can take very long.
 * Stop after this (failing, with the smallest counterexample found so far): a hang guard only.
 */
const FC_LIMITS = { interruptAfterTimeLimit: 120_000, markInterruptAsFailure: true };
const ERROR_KINDS: readonly CaptureErrorKind[] = ['io', 'empty', 'not_a_capture', 'unsupported_version', 'corrupt_header', 'corrupt_record', 'truncated'];

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-reader-prop-'));
afterAll(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
let fileCounter = 0;

interface Got {
  frameNo: number;
  tsSec: number;
  tsNs: number;
  capLen: number;
  wireLen: number;
  linkType: number;
  ifIndex: number;
  hasTimestamp: number;
  fileOffset: number;
  data: Uint8Array;
}

interface ReadResult {
  file: string;
  outcome: ReadOutcome;
  records: Got[];
  events: Record<string, number>;
}

/**
 * Writes `bytes` to a file and reads it. Checks what must hold for every record whatever the
 * input: its window lies inside the chunk, numbers are sane, frames are numbered 1, 2, 3...
 */
async function readBytes(bytes: Uint8Array, chunkBytes: number, alsoAnalyze = false): Promise<ReadResult> {
  const file = path.join(tmpDir, `c${fileCounter++}.bin`);
  fs.writeFileSync(file, bytes);
  const records: Got[] = [];
  const events = newEventCounters();
  const bad: string[] = [];
  try {
    const outcome = await readCapture(
      file,
      {
        onRecord(r: CaptureRecord) {
          // Collected, not thrown: the reader would turn a throwing handler into a read error.
          const at = `frame ${records.length + 1}`;
          if (r.frameNo !== records.length + 1) bad.push(`${at}: frameNo ${r.frameNo}`);
          if (!Number.isInteger(r.off) || r.off < 0) bad.push(`${at}: off ${r.off}`);
          if (!Number.isInteger(r.capLen) || r.capLen < 0) bad.push(`${at}: capLen ${r.capLen}`);
          if (r.off + r.capLen > r.buf.length) bad.push(`${at}: record window [${r.off}, ${r.off + r.capLen}) past the ${r.buf.length}-byte chunk`);
          if (!Number.isInteger(r.wireLen) || r.wireLen < 0) bad.push(`${at}: wireLen ${r.wireLen}`);
          // Any integer: a 64-bit pcapng tick count at a coarse resolution can exceed 2^53 seconds.
          if (!Number.isInteger(r.tsSec)) bad.push(`${at}: tsSec ${r.tsSec}`);
          if (!Number.isInteger(r.tsNs) || r.tsNs < 0 || r.tsNs >= 1e9) bad.push(`${at}: tsNs ${r.tsNs}`);
          records.push({
            frameNo: r.frameNo,
            tsSec: r.tsSec,
            tsNs: r.tsNs,
            capLen: r.capLen,
            wireLen: r.wireLen,
            linkType: r.linkType,
            ifIndex: r.ifIndex,
            hasTimestamp: r.hasTimestamp,
            fileOffset: r.fileOffset,
            data: r.buf.slice(r.off, r.off + r.capLen),
          });
        },
      },
      { events, chunkBytes },
    );
    expect(bad, 'records as handed out').toEqual([]);
    if (alsoAnalyze) {
      // The whole pipeline (decoder, statistics, report) on the same bytes.
      const report = await analyzeFile(file, { chunkBytes });
      expect(report.frames, 'analyzeFile frames vs readCapture frames').toBe(outcome.frames);
      expect(report.error, 'analyzeFile error vs readCapture error').toEqual(outcome.error ? outcome.error.toJSON() : null);
      expect(Object.values(report.linkTypes).reduce((n, x) => n + x, 0), 'linkTypes add up to frames').toBe(report.frames);
      expect(() => JSON.stringify(report)).not.toThrow();
    }
    return { file, outcome, records, events: eventCountsToObject(events) };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** What must hold for any outcome: a frame count, and an error that says what, where and which frame. */
function checkOutcome(res: ReadResult, inputLength: number, compressed: boolean): void {
  const { outcome, records, file } = res;
  expect(outcome.frames, 'outcome.frames vs records delivered').toBe(records.length);
  for (let i = 1; i < records.length; i++) {
    expect(records[i]!.fileOffset, `frame ${i + 1}: fileOffset after frame ${i}'s`).toBeGreaterThan(records[i - 1]!.fileOffset);
  }
  const e = outcome.error;
  if (e === null) {
    if (!compressed) expect(outcome.bytesParsed, 'a read without an error consumed the whole file').toBe(inputLength);
    return;
  }
  expect(ERROR_KINDS, `error kind of: ${e.message}`).toContain(e.kind);
  expect(Number.isInteger(e.offset) && e.offset >= 0, `error offset ${e.offset}`).toBe(true);
  expect(Number.isInteger(e.frame) && e.frame >= 0, `error frame ${e.frame}`).toBe(true);
  expect(e.message.startsWith(`${file}: `), `message names the file: ${e.message}`).toBe(true);
  expect(e.message, 'message gives the byte offset').toContain(`byte offset ${e.offset}`);
  if (e.frame > 0) {
    expect(e.message, 'message names the frame').toContain(`frame ${e.frame}, `);
    expect(e.frame, `error frame vs frames read (${e.message})`).toBe(records.length + 1);
  } else {
    expect(records.length, `an error about the file header comes before any frame (${e.message})`).toBe(0);
    expect(e.offset, `an error about the file header is at offset 0 (${e.message})`).toBe(0);
  }
  if (!compressed) {
    expect(e.offset, `error offset inside the ${inputLength}-byte file (${e.message})`).toBeLessThanOrEqual(inputLength);
    if (records.length > 0) expect(e.offset, `error offset after the last frame read (${e.message})`).toBeGreaterThan(records[records.length - 1]!.fileOffset);
  }
}

// ---------------------------------------------------------------------------------------------
// Building valid captures, unit by unit, with the expected records and where each unit lies.

interface Unit {
  bytes: Uint8Array;
  /** Index into `expected` when the unit is a packet record. */
  record: number | null;
}

interface Expected {
  tsSec: number;
  tsNs: number;
  /** Tolerance in ns: pcapng resolutions finer than 1e-11 s or 2^-23 s are exact only to 1 ns. */
  tsTolNs: number;
  capLen: number;
  wireLen: number;
  linkType: number;
  ifIndex: number;
  data: Uint8Array;
}

interface Built {
  bytes: Uint8Array;
  units: Unit[];
  expected: Expected[];
  format: string;
  events: Record<string, number>;
  /** End of the file header (pcap) or of the first section's header and interfaces (pcapng). */
  headerEnd: number;
}

interface FrameGen {
  data: Uint8Array;
  /** Seconds relative to the interface's if_tsoffset (pcap: absolute). */
  rel: number;
  tsNs: number;
  /** undefined: wire length = captured length. */
  wireLen: number | undefined;
}

interface PcapGen {
  kind: 'pcap';
  nanos: boolean;
  bigEndian: boolean;
  linkType: number;
  snapLen: number;
  frames: FrameGen[];
}

interface SectionGen {
  bigEndian: boolean;
  ifaces: PcapngInterfaceSpec[];
  frames: Array<FrameGen & { ifIndex: number }>;
}

interface PcapngGen {
  kind: 'pcapng';
  sections: SectionGen[];
}

const TWO64 = 1n << 64n;

/** Units per second of an if_tsresol byte (undefined: microseconds). */
function unitsPerSecond(tsResol: number | undefined): bigint {
  if (tsResol === undefined) return 1_000_000n;
  return (tsResol & 0x80) === 0 ? 10n ** BigInt(tsResol) : 1n << BigInt(tsResol & 0x7f);
}

/** Whole seconds representable in a 64-bit tick count at this resolution (and in a u32 for pcap). */
function maxRelSeconds(tsResol: number | undefined): number {
  const max = TWO64 / unitsPerSecond(tsResol) - 1n;
  return Number(max < 0xffffffffn ? max : 0xffffffffn);
}

const dataArb = fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: 120 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 121, maxLength: 1600 }) });

function frameArb(maxRel: number): fc.Arbitrary<FrameGen> {
  return fc
    .record({
      data: dataArb,
      rel: fc.integer({ min: 0, max: maxRel }),
      tsNs: fc.integer({ min: 0, max: 999_999_999 }),
      wireExtra: fc.option(fc.integer({ min: -200, max: 3000 }), { nil: undefined }),
    })
    .map(({ data, rel, tsNs, wireExtra }) => ({ data, rel, tsNs, wireLen: wireExtra === undefined ? undefined : Math.max(0, data.length + wireExtra) }));
}

const snapLenArb = fc.oneof(fc.constant(0), fc.constant(262144), fc.integer({ min: 1, max: 262144 }));

const pcapArb: fc.Arbitrary<PcapGen> = fc.record({
  kind: fc.constant('pcap' as const),
  nanos: fc.boolean(),
  bigEndian: fc.boolean(),
  linkType: fc.integer({ min: 0, max: 0xffff }),
  snapLen: snapLenArb,
  frames: fc.array(frameArb(0xffffffff), { maxLength: 25 }),
});

const ifaceArb: fc.Arbitrary<PcapngInterfaceSpec> = fc
  .record({
    linkType: fc.integer({ min: 0, max: 0xffff }),
    snapLen: snapLenArb,
    tsResol: fc.option(fc.oneof(fc.integer({ min: 0, max: 18 }), fc.integer({ min: 0, max: 63 }).map((e) => 0x80 | e)), { nil: undefined }),
    tsOffsetSec: fc.option(fc.integer({ min: 0, max: 4_000_000_000 }), { nil: undefined }),
  })
  .map((i) => {
    const spec: PcapngInterfaceSpec = { linkType: i.linkType, snapLen: i.snapLen };
    if (i.tsResol !== undefined) spec.tsResol = i.tsResol;
    if (i.tsOffsetSec !== undefined) spec.tsOffsetSec = i.tsOffsetSec;
    return spec;
  });

const sectionArb: fc.Arbitrary<SectionGen> = fc.array(ifaceArb, { minLength: 1, maxLength: 3 }).chain((ifaces) =>
  fc.record({
    bigEndian: fc.boolean(),
    ifaces: fc.constant(ifaces),
    frames: fc.array(
      fc.integer({ min: 0, max: ifaces.length - 1 }).chain((ifIndex) => frameArb(maxRelSeconds(ifaces[ifIndex]!.tsResol)).map((f) => ({ ...f, ifIndex }))),
      { maxLength: 12 },
    ),
  }),
);

const pcapngArb: fc.Arbitrary<PcapngGen> = fc.record({ kind: fc.constant('pcapng' as const), sections: fc.array(sectionArb, { minLength: 1, maxLength: 3 }) });

const captureArb: fc.Arbitrary<PcapGen | PcapngGen> = fc.oneof(pcapArb, pcapngArb);

/** The time our reader must give for a pcapng frame: the ticks the writer stores, converted exactly. */
function pcapngExpectedTime(f: FrameGen, iface: PcapngInterfaceSpec): { tsSec: number; tsNs: number; tsTolNs: number } {
  const units = unitsPerSecond(iface.tsResol);
  const totalNs = BigInt(f.rel) * 1_000_000_000n + BigInt(f.tsNs);
  // The stored tick count, truncated to the resolution (pcapng spec: timestamp in if_tsresol units).
  const ticks = (totalNs * units) / 1_000_000_000n;
  const backNs = (ticks * 1_000_000_000n) / units;
  return { tsSec: (iface.tsOffsetSec ?? 0) + Number(backNs / 1_000_000_000n), tsNs: Number(backNs % 1_000_000_000n), tsTolNs: timeToleranceNs(iface.tsResol ?? 6) };
}

/**
 * timestamp.ts promises exact times for every decimal resolution (finer than 1 ns is cut to whole
 * nanoseconds, as the writer does) and for binary ones up to 2^-23 s, and 1 ns beyond.
 */
function timeToleranceNs(tsResol: number): number {
  if ((tsResol & 0x80) !== 0) return (tsResol & 0x7f) <= 23 ? 0 : 1;
  return 0;
}

function build(gen: PcapGen | PcapngGen): Built {
  const units: Unit[] = [];
  const expected: Expected[] = [];
  let overWire = 0;
  let overSnap = 0;
  const addRecord = (bytes: Uint8Array, e: Expected, snapLen: number): void => {
    units.push({ bytes, record: expected.length });
    expected.push(e);
    if (e.capLen > e.wireLen) overWire++;
    if (snapLen > 0 && e.capLen > snapLen) overSnap++;
  };
  let format: string;
  let headerEnd: number;
  if (gen.kind === 'pcap') {
    const opts = { nanos: gen.nanos, bigEndian: gen.bigEndian, linkType: gen.linkType, snapLen: gen.snapLen };
    units.push({ bytes: pcapFileHeader(opts), record: null });
    headerEnd = 24;
    for (const f of gen.frames) {
      const w: WriteFrame = { data: f.data, tsSec: f.rel, tsNs: f.tsNs };
      if (f.wireLen !== undefined) w.wireLen = f.wireLen;
      addRecord(
        pcapRecord(w, opts),
        {
          tsSec: f.rel,
          tsNs: gen.nanos ? f.tsNs : Math.floor(f.tsNs / 1000) * 1000,
          tsTolNs: 0,
          capLen: f.data.length,
          wireLen: f.wireLen ?? f.data.length,
          linkType: gen.linkType,
          ifIndex: 0,
          data: f.data,
        },
        gen.snapLen,
      );
    }
    format = `pcap-${gen.nanos ? 'ns' : 'us'}-${gen.bigEndian ? 'be' : 'le'}`;
  } else {
    headerEnd = -1;
    for (const s of gen.sections) {
      const le = !s.bigEndian;
      units.push({ bytes: pcapngSectionHeader(le), record: null });
      for (const i of s.ifaces) units.push({ bytes: pcapngInterface(i, le), record: null });
      if (headerEnd < 0) headerEnd = units.reduce((n, u) => n + u.bytes.length, 0);
      for (const f of s.frames) {
        const iface = s.ifaces[f.ifIndex]!;
        const w: WriteFrame = { data: f.data, tsSec: f.rel + (iface.tsOffsetSec ?? 0), tsNs: f.tsNs, ifIndex: f.ifIndex };
        if (f.wireLen !== undefined) w.wireLen = f.wireLen;
        addRecord(
          pcapngEnhancedPacket(w, iface, le),
          { ...pcapngExpectedTime(f, iface), capLen: f.data.length, wireLen: f.wireLen ?? f.data.length, linkType: iface.linkType, ifIndex: f.ifIndex, data: f.data },
          iface.snapLen ?? 262144,
        );
      }
    }
    const orders = new Set(gen.sections.map((s) => s.bigEndian));
    format = orders.size === 2 ? 'pcapng-mixed' : orders.has(true) ? 'pcapng-be' : 'pcapng-le';
  }
  const events: Record<string, number> = {};
  if (overWire > 0) events['capture.record.caplen_exceeds_wirelen'] = overWire;
  if (overSnap > 0) events['capture.record.caplen_exceeds_snaplen'] = overSnap;
  return { bytes: concatBytes(units.map((u) => u.bytes)), units, expected, format, events, headerEnd };
}

/** Start offset of every unit, and the total length. */
function unitStarts(units: Unit[]): number[] {
  const starts: number[] = [];
  let o = 0;
  for (const u of units) {
    starts.push(o);
    o += u.bytes.length;
  }
  starts.push(o);
  return starts;
}

function expectRecord(got: Got, exp: Expected, i: number): void {
  const at = `frame ${i + 1}`;
  expect(got.capLen, `${at}: capLen`).toBe(exp.capLen);
  expect(got.wireLen, `${at}: wireLen`).toBe(exp.wireLen);
  expect(got.linkType, `${at}: linkType`).toBe(exp.linkType);
  expect(got.ifIndex, `${at}: ifIndex`).toBe(exp.ifIndex);
  expect(got.hasTimestamp, `${at}: hasTimestamp`).toBe(1);
  if (exp.tsTolNs === 0) {
    expect([got.tsSec, got.tsNs], `${at}: [tsSec, tsNs]`).toEqual([exp.tsSec, exp.tsNs]);
  } else {
    const diff = (BigInt(got.tsSec) * 1_000_000_000n + BigInt(got.tsNs)) - (BigInt(exp.tsSec) * 1_000_000_000n + BigInt(exp.tsNs));
    expect(diff >= -BigInt(exp.tsTolNs) && diff <= BigInt(exp.tsTolNs), `${at}: time ${got.tsSec}.${got.tsNs} vs ${exp.tsSec}.${exp.tsNs} (±${exp.tsTolNs} ns)`).toBe(true);
  }
  expect(Buffer.from(got.data).equals(Buffer.from(exp.data)), `${at}: bytes (${got.data.length} read, ${exp.data.length} written)`).toBe(true);
}

const chunkArb = fc.integer({ min: 1, max: 300 });

// ---------------------------------------------------------------------------------------------

describe('readCapture on arbitrary bytes', () => {
  const magics = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
    [0x0a, 0x0d, 0x0d, 0x0a],
  ].map((m) => Uint8Array.from(m));

  /** Random bytes; random bytes after a real magic; a valid capture with bytes overwritten or cut. */
  const inputArb: fc.Arbitrary<Uint8Array> = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.tuple(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 600 })).map(([m, rest]) => concatBytes([m, rest])),
    fc
      .tuple(captureArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.option(fc.nat(), { nil: undefined }))
      .map(([gen, edits, cut]) => {
        const bytes = build(gen).bytes.slice();
        for (const [at, v] of edits) if (bytes.length > 0) bytes[at % bytes.length] = v;
        return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
      }),
  );

  it('never throws, always resolves, and reports any problem with kind, offset, frame and message', async () => {
    await fc.assert(
      fc.asyncProperty(inputArb, chunkArb, async (bytes, chunkBytes) => {
        const res = await readBytes(bytes, chunkBytes, true);
        checkOutcome(res, bytes.length, false);
      }),
      { seed: SEED, numRuns: 600, ...FC_LIMITS },
    );
  });

  it('never throws on gzip data, whole or cut short, of any of those inputs', async () => {
    // chunkBytes >= 64: below that, gzip input fails to open (see the report: zlib's minimum chunkSize).
    await fc.assert(
      fc.asyncProperty(inputArb, fc.option(fc.nat(), { nil: undefined }), fc.integer({ min: 64, max: 300 }), async (bytes, cut, chunkBytes) => {
        const gz = zlib.gzipSync(bytes);
        const input = cut === undefined ? gz : gz.subarray(0, cut % (gz.length + 1));
        const res = await readBytes(input, chunkBytes);
        checkOutcome(res, input.length, true);
        if (cut === undefined && res.outcome.error === null) expect(res.outcome.bytesParsed, 'whole gzip: all decompressed bytes parsed').toBe(bytes.length);
      }),
      { seed: SEED, numRuns: 200, ...FC_LIMITS },
    );
  });
});

describe('readCapture on valid captures', () => {
  it('gives back exactly the records written (pcap µs/ns LE/BE, pcapng LE/BE with any tsresol), whatever the chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(captureArb, chunkArb, async (gen, chunkBytes) => {
        const built = build(gen);
        const res = await readBytes(built.bytes, chunkBytes);
        expect(res.outcome.error, 'error').toBeNull();
        expect(res.outcome.format).toBe(built.format);
        expect(res.records.length, 'records').toBe(built.expected.length);
        built.expected.forEach((e, i) => expectRecord(res.records[i]!, e, i));
        const starts = unitStarts(built.units);
        const recordOffsets = built.units.flatMap((u, i) => (u.record === null ? [] : [starts[i]!]));
        expect(res.records.map((r) => r.fileOffset), 'fileOffset of each record').toEqual(recordOffsets);
        expect(res.outcome.bytesParsed).toBe(built.bytes.length);
        expect(res.events, 'events').toEqual(built.events);
        if (gen.kind === 'pcapng') expect(res.outcome.interfaces.length).toBe(gen.sections.reduce((n, s) => n + s.ifaces.length, 0));
      }),
      { seed: SEED, numRuns: 400, ...FC_LIMITS },
    );
  });

  it('gives back the same records from gzip-compressed captures', async () => {
    await fc.assert(
      fc.asyncProperty(captureArb, fc.integer({ min: 64, max: 300 }), async (gen, chunkBytes) => {
        const built = build(gen);
        const res = await readBytes(zlib.gzipSync(built.bytes), chunkBytes);
        expect(res.outcome.error, 'error').toBeNull();
        expect(res.outcome.format).toBe(`${built.format}+gzip`);
        expect(res.records.length, 'records').toBe(built.expected.length);
        built.expected.forEach((e, i) => expectRecord(res.records[i]!, e, i));
      }),
      { seed: SEED, numRuns: 100, ...FC_LIMITS },
    );
  });

  // A 64-bit tick count at 1e-12 s exceeds 2^53: the division must be exact (it once was a double's).
  it('keeps pcapng times exact at a 1e-12 s resolution', async () => {
    const iface = { linkType: 1, tsResol: 12 };
    const bytes = concatBytes([
      pcapngSectionHeader(true),
      pcapngInterface(iface, true),
      pcapngEnhancedPacket({ data: new Uint8Array(4), tsSec: 9_223_372, tsNs: 49_740_502 }, iface, true),
    ]);
    const res = await readBytes(bytes, 4096);
    expect(res.records[0]!.tsSec).toBe(9_223_372);
    expect(res.records[0]!.tsNs).toBe(49_740_502);
  });
});

describe('readCapture on damaged captures', () => {
  it('cut anywhere: the records wholly before the cut, then a truncated error at the cut unit (none at a unit boundary)', async () => {
    await fc.assert(
      fc.asyncProperty(captureArb, fc.nat(), chunkArb, async (gen, cutSeed, chunkBytes) => {
        const built = build(gen);
        const cut = cutSeed % (built.bytes.length + 1);
        const res = await readBytes(built.bytes.subarray(0, cut), chunkBytes);
        checkOutcome(res, cut, false);
        const starts = unitStarts(built.units);
        // Units wholly before the cut, and the one the cut falls into.
        let whole = 0;
        while (whole < built.units.length && starts[whole + 1]! <= cut) whole++;
        const k = built.units.slice(0, whole).filter((u) => u.record !== null).length;
        expect(res.records.length, `records before the cut at ${cut}`).toBe(k);
        built.expected.slice(0, k).forEach((e, i) => expectRecord(res.records[i]!, e, i));
        const e = res.outcome.error;
        if (cut === 0) {
          expect(e?.kind, 'empty file').toBe('empty');
        } else if (cut === starts[whole]) {
          expect(e, `cut at the unit boundary ${cut}: a shorter but valid capture`).toBeNull();
        } else {
          const start = starts[whole]!;
          expect(e?.kind, `cut at ${cut} inside the unit at ${start}`).toBe('truncated');
          expect(e?.offset, 'offset of the cut unit').toBe(start);
          expect(e?.frame, 'frame of the cut unit (0 inside the file header)').toBe(start === 0 ? 0 : k + 1);
        }
      }),
      { seed: SEED, numRuns: 400, ...FC_LIMITS },
    );
  });

  it('corrupted from some point on: never throws, and every record wholly before the first damaged byte is delivered intact', async () => {
    const damageArb = fc.record({
      first: fc.nat(),
      flip: fc.integer({ min: 1, max: 255 }),
      more: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    });
    await fc.assert(
      fc.asyncProperty(captureArb, damageArb, chunkArb, async (gen, damage, chunkBytes) => {
        const built = build(gen);
        const starts = unitStarts(built.units);
        const total = built.bytes.length;
        // Damage after the file (or first section) header: before it, the format itself changes.
        fc.pre(total > built.headerEnd);
        const first = built.headerEnd + (damage.first % (total - built.headerEnd));
        const bytes = built.bytes.slice();
        bytes[first] = bytes[first]! ^ damage.flip;
        for (const [at, v] of damage.more) bytes[first + (at % (total - first))] = v;

        const res = await readBytes(bytes, chunkBytes);
        checkOutcome(res, total, false);
        let whole = 0;
        while (whole < built.units.length && starts[whole + 1]! <= first) whole++;
        const k = built.units.slice(0, whole).filter((u) => u.record !== null).length;
        expect(res.records.length, `records wholly before the damage at ${first}`).toBeGreaterThanOrEqual(k);
        built.expected.slice(0, k).forEach((e, i) => expectRecord(res.records[i]!, e, i));
        // Everything before the damaged unit parses: an error can only be at or after it.
        if (res.outcome.error) expect(res.outcome.error.offset, `error offset (damage at ${first}, in the unit at ${starts[whole]})`).toBeGreaterThanOrEqual(starts[whole]!);
      }),
      { seed: SEED, numRuns: 400, ...FC_LIMITS },
    );
  });
});
