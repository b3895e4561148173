/**
 * Append-only uint32 rows kept on disk once they outgrow a chunk in memory: for the facts a
 * detector must keep for every handshake of a capture to merge shards exactly, which grow with
 * the capture's length rather than with its live flows. The rows go, a chunk at a time, to a
 * temporary file that is unlinked as soon as it is open (nothing is left behind, even after a
 * crash); its descriptor is shared by every thread of the process, so the reduce on the main
 * thread reads back what a shard worker wrote.
 *
 * Nothing is lost when the disk refuses: the first failed open or write stops spilling, and the
 * rows stay in memory from then on (the part says why).
 *
 * PCAPSCAN_SPILL_BYTES sets the chunk (bytes of rows held in memory before a write; default
 * 1 MiB); 0 keeps every row in memory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
    if (at + this.width > this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
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
      this.rows = 0;
    } catch (err) {
      // Keep the rows in memory from here on; what was written stays readable.
      this.spillError = `could not write detector rows to a temporary file in ${os.tmpdir()}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
}

function openUnlinkedTemp(): number {
  const file = path.join(os.tmpdir(), `pcapscan-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.rows`);
  const fd = fs.openSync(file, 'wx+', 0o600);
  fs.unlinkSync(file);
  return fd;
}

function writeAll(fd: number, rows: Uint32Array, position: number): void {
  const bytes = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Rows read back from the file per call of `forEachRowChunk`'s callback. */
const READ_CHUNK_ROWS = 32768;

/**
 * Calls `fn` with the part's rows in order, a chunk at a time: those read back from the file,
 * then the tail. `data` is reused between calls.
 */
export function forEachRowChunk(part: SpilledRowsPart, fn: (data: Uint32Array, rows: number) => void): void {
  if (part.spilledRows > 0) {
    if (part.fd < 0) throw new Error('detector rows were read after their temporary file was closed');
    const buf = new Uint32Array(READ_CHUNK_ROWS * part.width);
    const bytes = new Uint8Array(buf.buffer);
    for (let row = 0; row < part.spilledRows; ) {
      const rows = Math.min(READ_CHUNK_ROWS, part.spilledRows - row);
      const want = rows * part.width * 4;
      const position = row * part.width * 4;
      for (let got = 0; got < want; ) {
        const n = fs.readSync(part.fd, bytes, got, want - got, position + got);
        if (n === 0) throw new Error(`temporary file of detector rows ended at byte ${position + got} of ${part.spilledRows * part.width * 4}`);
        got += n;
      }
      fn(buf, rows);
      row += rows;
    }
  }
  fn(part.tail, part.tail.length / part.width);
}

/** Closes the part's file (the disk space goes with it); its spilled rows cannot be read afterwards. */
export function closeSpill(part: SpilledRowsPart): void {
  if (part.fd < 0) return;
  fs.closeSync(part.fd);
  part.fd = -1;
}
