import { u32le } from '../bytes.js';
import { CaptureError } from './errors.js';
import { PcapParser, pcapVariant } from './pcap.js';
import { BlockType, PcapngParser, type PcapngInterface } from './pcapng.js';
import type { RecordHandler } from './record.js';
import { openSource, DEFAULT_CHUNK_BYTES, type ChunkSource } from './source.js';
import { Stitcher } from './stitcher.js';
import type { UnitParser } from './unit-parser.js';

export interface ReadOptions {
  /** Counters for capture-level events (see events.ts); the decoder shares them. */
  events: Float64Array;
  chunkBytes?: number;
  /**
   * Called after each chunk has been parsed. If it returns a promise the reader waits for it:
   * this is how a slow consumer (the flow shards) pushes back on the reader.
   */
  afterChunk?: () => Promise<void> | void;
  /** Bytes of the file read so far, its size when known, and frames read (for a progress bar). */
  onProgress?: (bytesRead: number, totalBytes: number | null, frames: number) => void;
}

export interface ReadOutcome {
  /** e.g. "pcap-us-le", "pcap-ns-be", "pcapng-le", with "+gzip" when compressed; "unknown" if unreadable. */
  format: string;
  frames: number;
  /** Bytes of capture data parsed (after decompression). */
  bytesParsed: number;
  /** Why reading stopped early, or null if the whole file was read. */
  error: CaptureError | null;
  /** pcapng only: every interface of every section. */
  interfaces: PcapngInterface[];
  /** Packets the capturing tool said it dropped (pcapng interface statistics), or -1 if unknown. */
  droppedByCapture: number;
}

/** Bytes needed to tell the formats apart: the longest magic we look at. */
const MAGIC_BYTES = 4;

/**
 * Reads one capture file (or `-` for standard input) and hands every record to `handler`, in
 * order. Never throws for bad input: the outcome says what was read and where it stopped.
 */
export async function readCapture(path: string, handler: RecordHandler, opts: ReadOptions): Promise<ReadOutcome> {
  const name = path === '-' ? '<stdin>' : path;
  const outcome: ReadOutcome = { format: 'unknown', frames: 0, bytesParsed: 0, error: null, interfaces: [], droppedByCapture: -1 };
  let source: ChunkSource;
  try {
    source = await openSource(path, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  } catch (err) {
    outcome.error = new CaptureError('io', name, 0, 0, `cannot open: ${(err as Error).message}`);
    return outcome;
  }
  const compressedSuffix = source.compressed ? `+${source.compressed}` : '';
  let parser: UnitParser | null = null;
  let stitcher: Stitcher | null = null;
  let head: Uint8Array = new Uint8Array(0); // the first bytes, until the magic can be read
  let bytesRead = 0;
  /** True while our own code (parser, consumer) runs: an exception then is a bug, not bad input. */
  let inConsumer = false;

  /** Returns false when reading must stop. */
  const onChunk = (chunk: Uint8Array): boolean => {
    bytesRead += chunk.length;
    if (!stitcher) {
      if (head.length + chunk.length < MAGIC_BYTES) {
        head = concat(head, chunk);
        return true;
      }
      const first = head.length > 0 ? concat(head, chunk) : chunk;
      head = new Uint8Array(0);
      parser = chooseParser(name, first, handler, opts.events);
      if (!parser) {
        outcome.error = notACapture(name, first);
        return false;
      }
      stitcher = new Stitcher(parser);
      return stitcher.push(first);
    }
    return stitcher.push(chunk);
  };

  try {
    if (source.kind === 'sync') {
      for (;;) {
        const chunk = source.readSync();
        if (!chunk) break;
        inConsumer = true;
        const more = onChunk(chunk);
        inConsumer = false;
        if (!more) break;
        opts.onProgress?.(bytesRead, source.totalBytes, (parser as UnitParser | null)?.frames ?? 0);
        const wait = opts.afterChunk?.();
        if (wait) await wait;
      }
    } else {
      for await (const chunk of source.chunks) {
        inConsumer = true;
        const more = onChunk(chunk);
        inConsumer = false;
        if (!more) break;
        opts.onProgress?.(bytesRead, source.totalBytes, (parser as UnitParser | null)?.frames ?? 0);
        const wait = opts.afterChunk?.();
        if (wait) await wait;
      }
    }
  } catch (err) {
    if (inConsumer) {
      source.close();
      throw err;
    }
    // A stream error: corrupt or cut-off gzip data, or an I/O error mid-file.
    const p = parser as UnitParser | null;
    const what = source.compressed ? `${source.compressed} data is corrupt or cut short` : 'read error';
    outcome.error = new CaptureError(source.compressed ? 'truncated' : 'io', name, p?.consumed ?? bytesRead, (p?.frames ?? 0) + 1, `${what}: ${(err as Error).message}`);
  } finally {
    source.close();
  }

  const p = parser as UnitParser | null;
  if (p) {
    outcome.format = p.formatName() + compressedSuffix;
    outcome.frames = p.frames;
    outcome.bytesParsed = p.consumed;
    if (p instanceof PcapngParser) {
      outcome.interfaces = p.allInterfaces;
      const drops = p.allInterfaces.filter((i) => i.dropped >= 0);
      if (drops.length > 0) outcome.droppedByCapture = drops.reduce((s, i) => s + i.dropped, 0);
    }
    if (!outcome.error) outcome.error = p.error;
    if (!outcome.error && stitcher) {
      const left = (stitcher as Stitcher).leftover();
      if (left) outcome.error = truncation(name, p, left);
    }
  } else if (!outcome.error) {
    outcome.error =
      bytesRead === 0
        ? new CaptureError('empty', name, 0, 0, 'empty file: 0 bytes, no capture header')
        : new CaptureError('truncated', name, 0, 0, `the file is only ${bytesRead} byte(s) long, too short for a capture magic number`);
  }
  return outcome;
}

function chooseParser(name: string, first: Uint8Array, handler: RecordHandler, events: Float64Array): UnitParser | null {
  const magic = u32le(first, 0);
  if (magic === BlockType.SECTION_HEADER) return new PcapngParser(name, handler, events);
  const variant = pcapVariant(magic);
  if (variant) return new PcapParser(name, variant, handler, events);
  return null;
}

/** Names what the file looks like instead, so the user knows what they gave us. */
function notACapture(name: string, first: Uint8Array): CaptureError {
  const hex = Array.from(first.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = Buffer.from(first.subarray(0, 8)).toString('latin1');
  let guess = '';
  if (text.startsWith('snoop')) guess = ' (a Solaris snoop file)';
  else if (text.startsWith('GMBU')) guess = ' (a Microsoft Network Monitor file)';
  else if (text.startsWith('XCP')) guess = ' (a NetXray/Sniffer file)';
  else if (first[0] === 0x1f && first[1] === 0x8b) guess = ' (gzip inside gzip)';
  else if (/^[\x09\x0a\x0d\x20-\x7e]{4}/.test(text)) guess = ` (text: "${text.replace(/[^\x20-\x7e]/g, '.')}")`;
  return new CaptureError(
    'not_a_capture',
    name,
    0,
    0,
    `not a capture file: magic bytes ${hex}${guess}; expected pcap (a1b2c3d4, a1b23c4d) or pcapng (0a0d0d0a)`,
  );
}

function truncation(name: string, p: UnitParser, left: { have: number; need: number; needKnown: boolean }): CaptureError {
  const frame = p.frames + 1;
  if (p.consumed === 0) {
    return new CaptureError('truncated', name, 0, 0, `truncated file header: the file ends after ${left.have} of ${left.need} header bytes`);
  }
  const problem = left.needKnown
    ? `truncated last record: frame ${frame} has ${left.have} of its ${left.need} bytes (${left.need - left.have} missing)`
    : `truncated last record: the file ends ${left.have} byte(s) into the header of frame ${frame} (at least ${left.need - left.have} more needed)`;
  return new CaptureError('truncated', name, p.consumed, frame, problem);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
