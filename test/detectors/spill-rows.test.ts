/**
 * SpillRows: rows that go to an unlinked temporary file a chunk at a time, and come back in order.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { bucketRows, BucketedRows, claimTmpfsWarning, closeSpill, forEachRowChunk, SpillRows, TmpfsWatch, tmpfsWarning, TMPFS_WARN_BYTES, type SpilledRowsPart } from '../../src/detectors/spill-rows.js';

const WIDTH = 3;

/** Appends `n` rows [i, i * 7, 0xffffffff - i]. */
function fill(rows: SpillRows, n: number): void {
  for (let i = 0; i < n; i++) {
    const at = rows.append();
    rows.data[at] = i;
    rows.data[at + 1] = i * 7;
    rows.data[at + 2] = 0xffffffff - i;
  }
}

function readBack(part: SpilledRowsPart): number[][] {
  const out: number[][] = [];
  forEachRowChunk(part, (d, n) => {
    for (let r = 0; r < n; r++) out.push([...d.subarray(r * WIDTH, r * WIDTH + WIDTH)]);
  });
  return out;
}

const expected = (n: number): number[][] => Array.from({ length: n }, (_, i) => [i, i * 7, 0xffffffff - i]);

const savedTmp = process.env['TMPDIR'];
afterEach(() => {
  if (savedTmp === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = savedTmp;
});

function freshTmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spill-'));
  process.env['TMPDIR'] = dir;
  return dir;
}

describe('SpillRows', () => {
  it('writes full chunks to a file that has no name, keeps the rest in memory, and reads all back in order', () => {
    const dir = freshTmp();
    // A chunk of 5 rows (60 bytes): 103 rows are 20 chunks written and 3 rows in memory.
    const rows = new SpillRows(WIDTH, 60);
    fill(rows, 103);
    const part = rows.part();
    expect([part.spilledRows, part.tail.length / WIDTH, rows.size]).toEqual([100, 3, 103]);
    expect(part.fd).toBeGreaterThanOrEqual(0);
    expect(fs.fstatSync(part.fd).size).toBe(100 * WIDTH * 4);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(readBack(part)).toEqual(expected(103));
    // Read twice: the file is read by position, not consumed.
    expect(readBack(part)).toEqual(expected(103));
    closeSpill(part);
    expect(part.fd).toBe(-1);
    expect(() => readBack(part)).toThrow(/after their temporary file was closed/);
  });

  it('clears a reused row: columns the caller leaves alone read 0, not the previous chunk', () => {
    freshTmp();
    const rows = new SpillRows(WIDTH, 24);
    fill(rows, 2);
    rows.append(); // written after the first chunk went out: left as appended
    const part = rows.part();
    expect(readBack(part)).toEqual([...expected(2), [0, 0, 0]]);
    closeSpill(part);
  });

  it('keeps everything in memory with a chunk of 0 bytes (PCAPSCAN_SPILL_BYTES=0)', () => {
    const rows = new SpillRows(WIDTH, 0);
    fill(rows, 1000);
    const part = rows.part();
    expect([part.fd, part.spilledRows, part.tail.length / WIDTH]).toEqual([-1, 0, 1000]);
    expect(readBack(part)).toEqual(expected(1000));
  });

  it('loses nothing when the file cannot be created: the rows stay in memory and the part says why', () => {
    process.env['TMPDIR'] = path.join(freshTmp(), 'no-such-directory');
    const rows = new SpillRows(WIDTH, 60);
    fill(rows, 23);
    const part = rows.part();
    expect([part.fd, part.spilledRows, part.tail.length / WIDTH]).toEqual([-1, 0, 23]);
    expect(part.spillError).toMatch(/could not write detector rows to a temporary file in .*no-such-directory: ENOENT/);
    expect(readBack(part)).toEqual(expected(23));
  });

  it('reads back rows spilled in more chunks than one read returns', () => {
    freshTmp();
    const rows = new SpillRows(WIDTH, 1200);
    fill(rows, 70_001);
    const part = rows.part();
    expect(part.spilledRows).toBe(70_000);
    let chunks = 0;
    forEachRowChunk(part, () => chunks++);
    expect(chunks).toBeGreaterThan(2);
    expect(readBack(part)).toEqual(expected(70_001));
    closeSpill(part);
  });
});

describe('BucketedRows', () => {
  /** Rows [i, bucket, i * 3] for i < n, bucket i % 7 (bucket 6 empty: i % 7 === 6 is skipped). */
  function fillBuckets(rows: BucketedRows, n: number): void {
    const row = new Uint32Array(WIDTH);
    for (let i = 0; i < n; i++) {
      const b = i % 7;
      if (b === 6) continue;
      row.set([i, b, i * 3]);
      rows.add(b, row, 0);
    }
  }
  const expectedBucket = (n: number, b: number): number[] => Array.from({ length: n }, (_, i) => i).filter((i) => b !== 6 && i % 7 === b).flatMap((i) => [i, b, i * 3]);

  it("sorts rows into buckets through one unnamed file and gives back each bucket's rows in the order added", () => {
    const dir = freshTmp();
    // Chunks of 4 rows (48 bytes): 7000 rows make about 250 chunks written, spread over 6 buckets.
    const rows = new BucketedRows(WIDTH, 7, 48);
    fillBuckets(rows, 7000);
    const part = rows.part();
    expect(part.fd).toBeGreaterThanOrEqual(0);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(part.chunkRows.length).toBeGreaterThan(200);
    for (let b = 0; b < 7; b++) expect([...bucketRows(part, b)]).toEqual(expectedBucket(7000, b));
    closeSpill(part);
    expect(() => bucketRows(part, 0)).toThrow(/after their temporary file was closed/);
    // A bucket with nothing written out is its tail: no file needed.
    expect([...bucketRows(part, 6)]).toEqual([]);
  });

  it('keeps every bucket in memory with chunks of unbounded size', () => {
    const rows = new BucketedRows(WIDTH, 7, Infinity);
    fillBuckets(rows, 3000);
    const part = rows.part();
    expect([part.fd, part.chunkRows.length]).toEqual([-1, 0]);
    for (let b = 0; b < 7; b++) expect([...bucketRows(part, b)]).toEqual(expectedBucket(3000, b));
  });

  it('loses nothing when the file cannot be created: the rows stay in memory and the part says why', () => {
    process.env['TMPDIR'] = path.join(freshTmp(), 'no-such-directory');
    const rows = new BucketedRows(WIDTH, 7, 48);
    fillBuckets(rows, 700);
    const part = rows.part();
    expect(part.fd).toBe(-1);
    expect(part.spillError).toMatch(/no-such-directory: ENOENT/);
    for (let b = 0; b < 7; b++) expect([...bucketRows(part, b)]).toEqual(expectedBucket(700, b));
  });
});

// statfs(2)'s f_type of a tmpfs. /dev/shm is one on most Linux systems, containers included.
const TMPFS = 0x01021994;
const isTmpfs = (dir: string): boolean => {
  try {
    return fs.statfsSync(dir).type === TMPFS;
  } catch {
    return false;
  }
};

describe('tmpfsWarning', () => {
  it.skipIf(!isTmpfs('/dev/shm'))('warns once, as the rows written reach the threshold, when they go to a tmpfs', () => {
    const watch = new TmpfsWatch(2e6, () => '/dev/shm');
    expect(watch.add(1.5e6)).toBeNull();
    expect(watch.add(1e6)).toMatch(/^3 MB of detector rows went to \/dev\/shm, which is a tmpfs/);
    expect(watch.add(1e6)).toBeNull();
  });

  it.skipIf(!isTmpfs('/dev/shm'))('warns from the threshold on when the rows went to a tmpfs, naming the directory and the fix', () => {
    expect(tmpfsWarning(TMPFS_WARN_BYTES, '/dev/shm')).toBe(
      `${(TMPFS_WARN_BYTES / 1e6).toFixed(0)} MB of detector rows went to /dev/shm, which is a tmpfs: they take RAM, outside pcapscan's own memory; for long captures set TMPDIR to a directory on disk`,
    );
    expect(tmpfsWarning(TMPFS_WARN_BYTES - 1, '/dev/shm')).toBeNull();
    expect(tmpfsWarning(5e6, '/dev/shm', 4e6)).toMatch(/^5 MB of detector rows went to \/dev\/shm/);
  });

  it('is printed by one thread of the process: a worker that shares the flag finds it taken', async () => {
    // The shard workers run the compiled module (dist/), as piscina loads it; so does this one.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const module = pathToFileURL(path.resolve('dist/src/detectors/spill-rows.js')).href;
    const inWorker = (): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const w = new Worker(
          `const { workerData, parentPort } = require('node:worker_threads');
           import(workerData.module).then((m) => { m.shareTmpfsWarned(workerData.flag); parentPort.postMessage(m.claimTmpfsWarning()); });`,
          { eval: true, workerData: { module, flag: flag.buffer } },
        );
        w.once('message', (claimed: boolean) => void w.terminate().then(() => resolve(claimed)));
        w.once('error', reject);
      });
    expect(await inWorker(), 'the first worker').toBe(true);
    expect(await inWorker(), 'a second worker').toBe(false);
    expect(Atomics.load(flag, 0)).toBe(1);
    // This thread's own flag (the main thread's in pcapscan) is another one: claimed once here.
    expect([claimTmpfsWarning(), claimTmpfsWarning()]).toEqual([true, false]);
  });

  it('says nothing for a directory on disk, or one that does not exist', () => {
    const here = process.cwd();
    if (isTmpfs(here)) console.log(`tmpfsWarning: ${here} is itself a tmpfs, the disk-directory case is not checked here`);
    else expect(tmpfsWarning(1e12, here)).toBeNull();
    expect(tmpfsWarning(1e12, path.join(freshTmp(), 'no-such-directory'))).toBeNull();
    const watch = new TmpfsWatch(10, () => path.join(freshTmp(), 'no-such-directory'));
    expect([watch.add(20), watch.add(20)]).toEqual([null, null]);
  });
});
