/**
 * The hot path allocates nothing per packet: neither the reader thread's per-frame work (read,
 * decode, capture statistics, link detectors, packing the flow record) nor the flow tracker; nor,
 * for a netfilter log, the reader thread's work there (fw.nflog_rule).
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
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { ipv4, nflogRecord, tcp } from '../helpers/packets.js';

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
let nflogShort: Result;
let nflogLong: Result;

/**
 * A netfilter log (LINKTYPE_NFLOG) of `n` packets of a few connections, logged by three rules in
 * turn: every packet changes rule, as when rules interleave (fw.nflog_rule's lookup).
 */
function nflogCapture(file: string, n: number): void {
  const b = new CaptureBuilder();
  const prefixes = ['ACCEPT in', 'DROP "out"', 'nf_ct_proto_6: invalid new '];
  for (let i = 0; i < n; i++) {
    const packet = ipv4({ src: '10.0.0.1', dst: `10.0.1.${i % 4}`, proto: 6 }, tcp({ sport: 40000 + (i % 8), dport: 443, flags: 0x10, seq: i * 100, ack: 1 }));
    b.at(i * 1e-4).add(nflogRecord({ group: i % 2, prefix: prefixes[i % 3]! }, packet));
  }
  fs.writeFileSync(file, b.pcap({ linkType: 239 }));
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-alloc-'));
  const files = [SHORT, LONG].map((frames) => {
    const file = path.join(dir, `steady-${frames}.pcap`);
    generateCapture(file, { ...STEADY, frames });
    return file;
  });
  for (const frames of [SHORT / 3, LONG / 3]) nflogCapture(path.join(dir, `nflog-${frames}.pcap`), frames);
  files.push(path.join(dir, `nflog-${SHORT / 3}.pcap`), path.join(dir, `nflog-${LONG / 3}.pcap`));
  const out = execFileSync(process.execPath, [path.resolve('dist/bench/alloc.js'), ...files], { encoding: 'utf8' });
  [short, long, nflogShort, nflogLong] = out
    .split('\n')
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice('RESULT '.length)) as Result) as [Result, Result, Result, Result];
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

  it('on the reader thread, for a netfilter log whose records change rule at every packet', () => {
    expect([nflogShort.frames, nflogLong.frames]).toEqual([SHORT / 3, LONG / 3]);
    const perFrame = (nflogLong.readerBytes - nflogShort.readerBytes) / (nflogLong.frames - nflogShort.frames);
    expect(perFrame, `${nflogShort.readerBytes} bytes for ${nflogShort.frames} frames, ${nflogLong.readerBytes} for ${nflogLong.frames}`).toBeLessThan(MAX_BYTES_PER_PACKET);
  });

  it('in the flow tracker', () => {
    const perRecord = (long.trackerBytes - short.trackerBytes) / (long.records - short.records);
    expect(perRecord, `${short.trackerBytes} bytes for ${short.records} records, ${long.trackerBytes} for ${long.records}`).toBeLessThan(MAX_BYTES_PER_PACKET);
  });
});
