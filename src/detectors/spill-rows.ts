/**
 * Append-only uint32 rows kept on disk once they outgrow a chunk in memory: for the facts a
 * detector must keep for every handshake of a capture to merge shards exactly, which grow with
 * the capture's length rather than with its live flows. The rows go, a chunk at a time, to a
 * temporary file that is unlinked as soon as it is open (nothing is left behind, even after a
 * crash); its descriptor is shared by every thread of the process, so the reduce on the main
 * thread reads back what a shard worker wrote.
 *
 * BucketedRows does the same for rows sorted into buckets on their way (the reduce's batches):
 * one file whatever the number of buckets, and a directory of its chunks.
 *
 * Nothing is lost when the disk refuses: the first failed open or write stops spilling, and the
 * rows stay in memory from then on (the part says why).
 *
 * PCAPSCAN_SPILL_BYTES sets the chunk (bytes of rows held in memory before a write; default
 * 1 MiB); 0 keeps every row in memory. Where TMPDIR is a tmpfs, the files take RAM after all:
 * a PCAPSCAN_SPILL warning says so once a thread has written TMPFS_WARN_BYTES of them (printed
 * once per process).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { grownBuffer } from '../flows/buffers.js';
import { groupRows } from './rows.js';

/** Bytes of rows held in memory before they are written out. */
const DEFAULT_CHUNK_BYTES = 1 << 20;

/** The chunk's size in bytes: the PCAPSCAN_SPILL_BYTES setting, else 1 MiB. */
export function spillChunkBytes(): number {
  const text = process.env['PCAPSCAN_SPILL_BYTES'];
  if (text === undefined || text === '') return DEFAULT_CHUNK_BYTES;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_CHUNK_BYTES;
}

/** A SpillRows' contents as they cross threads: the spilled rows stay in the file. */
export interface SpilledRowsPart {
  width: number;
  /** The unlinked file holding the first `spilledRows` rows, -1 when none was written. */
  fd: number;
  spilledRows: number;
  /** The rows after those, in memory. */
  tail: Uint32Array;
  /** Why spilling stopped, when the file could not be created or written; null otherwise. */
  spillError: string | null;
}

export class SpillRows {
  /** The rows in memory; the offsets `append` returns index it until the next append. */
  data: Uint32Array;
  /** Rows in `data`. */
  private rows = 0;
  private fd = -1;
  private spilled = 0;
  private spillError: string | null = null;
  private readonly chunkRows: number;

  constructor(
    readonly width: number,
    chunkBytes = spillChunkBytes(),
  ) {
    // -1 (no row count matches it) when the chunk holds no row: nothing is ever written out.
    this.chunkRows = Math.floor(chunkBytes / (width * 4)) || -1;
    this.data = new Uint32Array(width * (this.chunkRows > 0 ? Math.min(256, this.chunkRows) : 256));
  }

  /** Rows appended in all, written out or not. */
  get size(): number {
    return this.spilled + this.rows;
  }

  /** Appends a zeroed row and returns the offset of its first number in `data`; the caller fills it. */
  append(): number {
    if (this.rows === this.chunkRows && this.spillError === null) this.writeOut();
    const at = this.rows * this.width;
    if (at + this.width > this.data.length) this.data = new Uint32Array(grownBuffer(this.data, this.data.byteLength * 2, 0));
    // After a write the chunk is reused: clear what the last one left in the row.
    this.data.fill(0, at, at + this.width);
    this.rows++;
    return at;
  }

  /** The rows for a partial result: the file's descriptor and a view of those still in memory. */
  part(): SpilledRowsPart {
    return { width: this.width, fd: this.fd, spilledRows: this.spilled, tail: this.data.subarray(0, this.rows * this.width), spillError: this.spillError };
  }

  /** Writes the rows in memory to the file and empties `data` for reuse. */
  private writeOut(): void {
    try {
      if (this.fd < 0) this.fd = openUnlinkedTemp();
      writeAll(this.fd, this.data.subarray(0, this.rows * this.width), this.spilled * this.width * 4);
      this.spilled += this.rows;
      noteSpilled(this.rows * this.width * 4);
      this.rows = 0;
    } catch (err) {
      // Keep the rows in memory from here on; what was written stays readable.
      this.spillError = spillErrorText(err);
    }
  }
}

/** Linux's TMPFS_MAGIC, statfs(2)'s f_type of a tmpfs: its files live in RAM (or swap). */
const TMPFS_MAGIC = 0x01021994;

/** Spilled bytes on a tmpfs from which the rows are worth a warning. */
export const TMPFS_WARN_BYTES = 256 * 1024 * 1024;

/**
 * A warning when `bytes` of rows went to `dir` and `dir` is a tmpfs (as /tmp is on several
 * distributions): the rows take RAM after all, only outside the process's own memory. Null below
 * `thresholdBytes`, elsewhere, or when the file system cannot be told.
 */
export function tmpfsWarning(bytes: number, dir = os.tmpdir(), thresholdBytes = TMPFS_WARN_BYTES): string | null {
  if (bytes < thresholdBytes) return null;
  let type: number;
  try {
    type = fs.statfsSync(dir).type;
  } catch {
    return null;
  }
  if (type !== TMPFS_MAGIC) return null;
  return `${(bytes / 1e6).toFixed(0)} MB of detector rows went to ${dir}, which is a tmpfs: they take RAM, outside pcapscan's own memory; for long captures set TMPDIR to a directory on disk`;
}

/**
 * The bytes this thread has spilled so far: once they reach `thresholdBytes`, `add` returns the
 * tmpfs warning if the directory is one (once; null otherwise). Checked as rows are written, not
 * when the report is made: on a tmpfs, running out of memory would come first.
 */
export class TmpfsWatch {
  private bytes = 0;
  private checked = false;

  constructor(
    private readonly thresholdBytes = TMPFS_WARN_BYTES,
    private readonly dir: () => string = () => os.tmpdir(),
  ) {}

  add(bytes: number): string | null {
    if (this.checked) return null;
    this.bytes += bytes;
    if (this.bytes < this.thresholdBytes) return null;
    this.checked = true;
    return tmpfsWarning(this.bytes, this.dir(), this.thresholdBytes);
  }
}

/** One per thread: each flow shard spills its own rows, the report its batches. */
const spillWatch = new TmpfsWatch();

/**
 * Set by the first thread of the process that prints the tmpfs warning, so that it is printed
 * once, not once per shard. The shard workers share the main thread's (shareTmpfsWarned).
 */
let tmpfsWarned = new Int32Array(new SharedArrayBuffer(4));

/** The flag to hand to a worker thread. */
export function tmpfsWarnedFlag(): SharedArrayBuffer {
  return tmpfsWarned.buffer as SharedArrayBuffer;
}

/** In a worker thread: takes the main thread's flag. */
export function shareTmpfsWarned(flag: SharedArrayBuffer): void {
  tmpfsWarned = new Int32Array(flag);
}

/** True for the first caller in the process (across the threads sharing the flag), false after. */
export function claimTmpfsWarning(): boolean {
  return Atomics.compareExchange(tmpfsWarned, 0, 0, 1) === 0;
}

function noteSpilled(bytes: number): void {
  const warning = spillWatch.add(bytes);
  if (warning !== null && claimTmpfsWarning()) process.emitWarning(warning, { code: 'PCAPSCAN_SPILL' });
}

function spillErrorText(err: unknown): string {
  return `could not write detector rows to a temporary file in ${os.tmpdir()}: ${err instanceof Error ? err.message : String(err)}`;
}

function openUnlinkedTemp(): number {
  const file = path.join(os.tmpdir(), `pcapscan-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.rows`);
  const fd = fs.openSync(file, 'wx+', 0o600);
  try {
    fs.unlinkSync(file);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

function writeAll(fd: number, rows: Uint32Array, position: number): void {
  const bytes = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Bytes of rows read back from the file per call of `forEachRowChunk`'s callback. */
const READ_CHUNK_BYTES = 256 << 10;

/**
 * Calls `fn` with the part's rows in order, a chunk at a time: those read back from the file,
 * then the tail. `data` is reused between calls.
 */
export function forEachRowChunk(part: SpilledRowsPart, fn: (data: Uint32Array, rows: number) => void): void {
  if (part.spilledRows > 0) {
    if (part.fd < 0) throw new Error('detector rows were read after their temporary file was closed');
    const chunkRows = Math.max(1, Math.floor(READ_CHUNK_BYTES / (part.width * 4)));
    const buf = new Uint32Array(chunkRows * part.width);
    const bytes = new Uint8Array(buf.buffer);
    for (let row = 0; row < part.spilledRows; ) {
      const rows = Math.min(chunkRows, part.spilledRows - row);
      readAll(part.fd, bytes, 0, rows * part.width * 4, row * part.width * 4);
      fn(buf, rows);
      row += rows;
    }
  }
  fn(part.tail, part.tail.length / part.width);
}

/** Reads `length` bytes at `position` of the file into `into` at `offset`. */
function readAll(fd: number, into: Uint8Array, offset: number, length: number, position: number): void {
  for (let got = 0; got < length; ) {
    const n = fs.readSync(fd, into, offset + got, length - got, position + got);
    if (n === 0) throw new Error(`temporary file of detector rows ended at byte ${position + got}, ${length - got} bytes short`);
    got += n;
  }
}

/**
 * Closes the file of a SpilledRowsPart or a BucketedRowsPart (the disk space goes with it); its
 * rows on disk cannot be read afterwards.
 */
export function closeSpill(part: { fd: number }): void {
  const fd = part.fd;
  if (fd < 0) return;
  // Forgotten first: Linux frees the number even when close fails, and it may be reused at once.
  part.fd = -1;
  fs.closeSync(fd);
}

/** BucketedRows' contents: where each bucket's rows are. */
export interface BucketedRowsPart {
  width: number;
  /** The unlinked file holding the chunks written, -1 when none was. */
  fd: number;
  /** The chunks of bucket b are chunkOrder[bucketStart[b] .. bucketStart[b + 1]), in order. */
  bucketStart: Int32Array;
  chunkOrder: Int32Array;
  /** Per chunk, in file order: its byte offset and its rows. */
  chunkOffset: Float64Array;
  chunkRows: Int32Array;
  /** Per bucket, its rows still in memory (after those in its chunks). */
  tails: Uint32Array[];
  spillError: string | null;
}

/**
 * Rows sorted into buckets on their way to one temporary file: each bucket fills a chunk of
 * `chunkBytes` in memory (at least one row) and writes it out when full, and a directory of chunks
 * says where each bucket's rows are. One descriptor whatever the number of buckets.
 */
export class BucketedRows {
  private readonly chunks: Uint32Array[];
  private readonly fill: Int32Array;
  private readonly chunkCap: number;
  private fd = -1;
  private writtenBytes = 0;
  private readonly dirBucket: number[] = [];
  private readonly dirRows: number[] = [];
  private spillError: string | null = null;

  constructor(
    readonly width: number,
    buckets: number,
    chunkBytes: number,
  ) {
    this.chunkCap = Math.max(1, Math.floor(chunkBytes / (width * 4)));
    this.chunks = Array.from({ length: buckets }, () => new Uint32Array(width * Math.min(16, this.chunkCap)));
    this.fill = new Int32Array(buckets);
  }

  /** Copies the row at `at` of `src` into bucket `b`. */
  add(b: number, src: Uint32Array, at: number): void {
    const w = this.width;
    let chunk = this.chunks[b]!;
    const n = this.fill[b]!;
    if (n === this.chunkCap && this.spillError === null) {
      this.writeOut(b);
      return this.add(b, src, at);
    }
    if ((n + 1) * w > chunk.length) this.chunks[b] = chunk = new Uint32Array(grownBuffer(chunk, chunk.byteLength * 2, 0));
    chunk.set(src.subarray(at, at + w), n * w);
    this.fill[b] = n + 1;
  }

  part(): BucketedRowsPart {
    const chunks = this.dirBucket.length;
    // The chunks by bucket, in file order within each.
    const byBucket = groupRows(Uint32Array.from(this.dirBucket), 1, 0, this.chunks.length);
    const chunkOffset = new Float64Array(chunks);
    for (let c = 0, offset = 0; c < chunks; c++) {
      chunkOffset[c] = offset;
      offset += this.dirRows[c]! * this.width * 4;
    }
    return {
      width: this.width,
      fd: this.fd,
      bucketStart: byBucket.start,
      chunkOrder: byBucket.order,
      chunkOffset,
      chunkRows: Int32Array.from(this.dirRows),
      tails: this.chunks.map((c, b) => c.subarray(0, this.fill[b]! * this.width)),
      spillError: this.spillError,
    };
  }

  /** Closes the file (after an error: the part was never made). */
  discard(): void {
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) fs.closeSync(fd);
  }

  private writeOut(b: number): void {
    const rows = this.fill[b]!;
    try {
      if (this.fd < 0) this.fd = openUnlinkedTemp();
      const bytes = rows * this.width * 4;
      writeAll(this.fd, this.chunks[b]!.subarray(0, rows * this.width), this.writtenBytes);
      this.writtenBytes += bytes;
      noteSpilled(bytes);
      this.dirBucket.push(b);
      this.dirRows.push(rows);
      this.fill[b] = 0;
    } catch (err) {
      this.spillError = spillErrorText(err);
    }
  }
}

/** Every row of bucket `b`, in the order added: its chunks read back from the file, then its tail. */
export function bucketRows(part: BucketedRowsPart, b: number): Uint32Array {
  const w = part.width;
  const tail = part.tails[b]!;
  const from = part.bucketStart[b]!;
  const to = part.bucketStart[b + 1]!;
  if (from === to) return tail;
  if (part.fd < 0) throw new Error('detector rows were read after their temporary file was closed');
  let rows = tail.length / w;
  for (let i = from; i < to; i++) rows += part.chunkRows[part.chunkOrder[i]!]!;
  const out = new Uint32Array(rows * w);
  const bytes = new Uint8Array(out.buffer);
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = part.chunkOrder[i]!;
    const len = part.chunkRows[c]! * w * 4;
    readAll(part.fd, bytes, n, len, part.chunkOffset[c]!);
    n += len;
  }
  out.set(tail, n / 4);
  return out;
}

