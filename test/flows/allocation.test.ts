/**
 * The hot path allocates nothing per packet: neither the reader thread's per-frame work (read,
 * decode, capture statistics, link detectors, packing the flow record) nor the flow tracker.
 *
 * bench/alloc.ts counts the bytes with V8's sampling heap profiler on the compiled code (dist/
 * must be built, as `npm test` does). It measures bytes, not time. Each pass also allocates a
 * fixed amount (detector tables, read buffers) and some per new host and per new flow; so the
 * test runs the same steady traffic (a few hosts, long flows) at two lengths and checks the
 * difference per packet. A boxed number slipping into the hot path (V8 boxes a time, an address
 * above 2^31 or a 48-bit MAC that crosses a call it does not inline) costs 16 bytes or more per
 * packet.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCapture, SMALL_FRAMES } from '../../bench/generate.js';

const SHORT = 60_000;
const LONG = 180_000;
const MAX_BYTES_PER_PACKET = 4;
/** Long flows between few hosts: new flows and hosts are rare, packets are not. */
const STEADY = { ...SMALL_FRAMES, liveFlows: 200, clientHosts: 50, serverHosts: 50, dataFramesMin: 100, dataFramesMax: 400 };

interface Result {
  frames: number;
  readerBytes: number;
  records: number;
  trackerBytes: number;
}
let dir = '';
let short: Result;
let long: Result;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-alloc-'));
  const files = [SHORT, LONG].map((frames) => {
    const file = path.join(dir, `steady-${frames}.pcap`);
    generateCapture(file, { ...STEADY, frames });
    return file;
  });
  const out = execFileSync(process.execPath, [path.resolve('dist/bench/alloc.js'), ...files], { encoding: 'utf8' });
  [short, long] = out
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice('RESULT '.length)) as Result) as [Result, Result];
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the hot path allocates nothing per packet', () => {
  it('on the reader thread: read, decode, statistics, link detectors, flow record', () => {
    expect([short.frames, long.frames]).toEqual([SHORT, LONG]);
    const perFrame = (long.readerBytes - short.readerBytes) / (long.frames - short.frames);
    expect(perFrame, `${short.readerBytes} bytes for ${short.frames} frames, ${long.readerBytes} for ${long.frames}`).toBeLessThan(MAX_BYTES_PER_PACKET);
  });

  it('in the flow tracker', () => {
    const perRecord = (long.trackerBytes - short.trackerBytes) / (long.records - short.records);
    expect(perRecord, `${short.trackerBytes} bytes for ${short.records} records, ${long.trackerBytes} for ${long.records}`).toBeLessThan(MAX_BYTES_PER_PACKET);
  });
});
