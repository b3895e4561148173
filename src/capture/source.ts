import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

/**
 * Where capture bytes come from. A plain file is read synchronously into one reused buffer
 * (no per-chunk allocation, no event-loop round trip); gzip data and standard input arrive as
 * a stream of chunks.
 */
export type ChunkSource =
  | { kind: 'sync'; readSync(): Uint8Array | null; close(): void; totalBytes: number; compressed: null }
  | { kind: 'stream'; chunks: AsyncIterable<Uint8Array>; close(): void; totalBytes: number | null; compressed: 'gzip' | null };

/**
 * 64 KiB: the kernel copies each read into a buffer that stays in the core's L2 cache, and the
 * parser reads it from there. 4 MiB chunks measured 2-3 times slower on full-size frames (the
 * copy went to memory and came back from L3; see the bench notes in the README).
 */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Opens a file (or `-` for standard input); gzip is recognized by its magic bytes. Throws on I/O errors. */
export async function openSource(path: string, requestedChunkBytes = DEFAULT_CHUNK_BYTES): Promise<ChunkSource> {
  // zlib wants output chunks of at least 64 bytes; a zero-byte read buffer would look like an empty file.
  const chunkBytes = Math.max(64, Math.floor(requestedChunkBytes) || DEFAULT_CHUNK_BYTES);
  if (path === '-') return openStdin(chunkBytes);
  const fd = fs.openSync(path, 'r');
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    const head = new Uint8Array(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    if (n === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1) {
      fs.closeSync(fd);
      const file = fs.createReadStream(path, { highWaterMark: chunkBytes });
      const gunzip = zlib.createGunzip({ chunkSize: Math.min(chunkBytes, 1024 * 1024) });
      const stream = file.pipe(gunzip);
      file.on('error', (err) => gunzip.destroy(err));
      return {
        kind: 'stream',
        chunks: stream,
        close: () => {
          file.destroy();
          gunzip.destroy();
        },
        totalBytes: stat.size,
        compressed: 'gzip',
      };
    }
    return fileSource(fd, stat.size, Math.max(1, Math.floor(requestedChunkBytes) || DEFAULT_CHUNK_BYTES));
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    throw err;
  }
}

function fileSource(fd: number, size: number, chunkBytes: number): ChunkSource {
  const buf = new Uint8Array(chunkBytes);
  let position = 0;
  let closed = false;
  return {
    kind: 'sync',
    readSync(): Uint8Array | null {
      if (closed) return null;
      const n = fs.readSync(fd, buf, 0, buf.length, position);
      if (n === 0) return null;
      position += n;
      return buf.subarray(0, n);
    },
    close(): void {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
    },
    totalBytes: size,
    compressed: null,
  };
}

async function openStdin(chunkBytes: number): Promise<ChunkSource> {
  const input = process.stdin;
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  const head: Buffer | null = first.done ? null : first.value;
  async function* all(): AsyncGenerator<Uint8Array> {
    if (head) yield head;
    for (;;) {
      const r = await iterator.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const close = (): void => {
    input.destroy();
  };
  if (head && head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1) {
    const gunzip = zlib.createGunzip({ chunkSize: Math.min(chunkBytes, 1024 * 1024) });
    Readable.from(all()).pipe(gunzip);
    return { kind: 'stream', chunks: gunzip, close, totalBytes: null, compressed: 'gzip' };
  }
  return { kind: 'stream', chunks: all(), close, totalBytes: null, compressed: null };
}
