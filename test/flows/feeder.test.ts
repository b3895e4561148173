/**
 * The feeder's failure paths: when one flow shard fails, or the reader thread gives up on the
 * capture, every other shard still ends (its worker is free for the next capture) and its result
 * goes to `discard`, which closes the files its detectors spilled rows to. The shards run the
 * compiled workers in dist/ (built by `npm test` first).
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_OPTIONS, makeShardObservers, releaseFlowPartials, type ObserverSettings } from '../../src/detectors/registry.js';
import { tmpfsWarnedFlag, type SpilledRowsPart } from '../../src/detectors/spill-rows.js';
import { closeShardPool, FlowFeeder } from '../../src/flows/feeder.js';
import { defaultTrackerOptions } from '../../src/flows/options.js';
import type { ShardResult } from '../../src/flows/shard.js';
import { resolveOptions } from '../../src/options.js';
import { CaptureBuilder, type Host } from '../helpers/capture-builder.js';
import { decodeFile } from '../helpers/frame-fields.js';

// 1,515 SYNs from as many client ports to one server: flows on every shard, and rows for
// tcp.syn_recv_buildup, which go to files with chunks this small.
const SYN_FLOOD = fileURLToPath(new URL('../../captures/syn-flood.pcap', import.meta.url));
const FAILING_WORKER = fileURLToPath(new URL('../helpers/failing-shard-worker.mjs', import.meta.url));
const FAILING_FINISH_WORKER = fileURLToPath(new URL('../helpers/failing-finish-shard-worker.mjs', import.meta.url));
const FLAG_WORKER = fileURLToPath(new URL('../helpers/flag-shard-worker.mjs', import.meta.url));
const SYN_RECV = 'tcp.syn_recv_buildup';

let savedSpillBytes: string | undefined;
beforeAll(() => {
  // Read when a shard's detectors start, in the workers, which copy this thread's environment.
  savedSpillBytes = process.env['PCAPSCAN_SPILL_BYTES'];
  process.env['PCAPSCAN_SPILL_BYTES'] = '64';
});
afterAll(async () => {
  await closeShardPool();
  if (savedSpillBytes === undefined) delete process.env['PCAPSCAN_SPILL_BYTES'];
  else process.env['PCAPSCAN_SPILL_BYTES'] = savedSpillBytes;
});

/** A feeder with the real detectors; `discard` records each result's spill files, then releases it. */
function makeFeeder(
  threads: number,
  discarded: Array<{ fds: number[]; closedAfter: number[] }>,
  shardWorkerFile?: string,
  exportSink: ((chunk: string) => void) | null = null,
  inline = false,
): FlowFeeder {
  return new FlowFeeder({
    threads,
    inline,
    tracker: { ...defaultTrackerOptions(), exportFlows: exportSink !== null },
    observers: { options: resolveOptions(ALL_OPTIONS, {}, {}) } satisfies ObserverSettings,
    makeObservers: makeShardObservers,
    exportSink,
    discard: (r: ShardResult) => {
      const parts = r.observers[SYN_RECV] as { intervals: SpilledRowsPart; syns: SpilledRowsPart };
      const fds = [parts.intervals.fd, parts.syns.fd].filter((fd) => fd >= 0);
      releaseFlowPartials([r.observers]);
      discarded.push({ fds, closedAfter: [parts.intervals.fd, parts.syns.fd] });
    },
    ...(shardWorkerFile !== undefined ? { shardWorkerFile } : {}),
  });
}

function feedCapture(feeder: FlowFeeder, file: string): Promise<number> {
  return decodeFile(file, (frame) => feeder.add(frame));
}

/** Waits until the feeder has learnt that a shard failed (afterChunk then rejects), for up to 20 s. */
async function untilFailureKnown(feeder: FlowFeeder): Promise<void> {
  for (let waitedMs = 0; waitedMs < 20_000; waitedMs += 20) {
    const wait = feeder.afterChunk();
    if (wait) {
      try {
        await wait;
      } catch {
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the shard failure never reached the feeder');
}

/** Descriptors of this process (every thread's) open on spilled-row files, which are unlinked. */
function openRowFiles(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (/pcapscan-.*\.rows \(deleted\)$/.test(fs.readlinkSync(`/proc/self/fd/${fd}`))) n++;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

/** `n` SYNs from one client port, each refused with a RST: every new SYN ends the previous flow. */
function reopenedAttempts(n: number, ports = 1): string {
  const client: Host = { mac: '02:00:00:00:00:01', ip: '10.0.0.1' };
  const server: Host = { mac: '02:00:00:00:00:02', ip: '10.0.0.2' };
  const b = new CaptureBuilder({ startSec: 1_700_000_000 });
  for (let i = 0; i < n; i++) {
    const seq = 1000 + i * 100_000;
    const sport = 40000 + (i % ports);
    b.at(i * 0.01).tcp(client, server, { sport, dport: 80, flags: 'S', seq });
    b.at(i * 0.01 + 0.001).tcp(server, client, { sport: 80, dport: sport, flags: 'RA', seq: 0, ack: seq + 1 });
  }
  return b.writeTemp(`reopened-${n}-${ports}.pcap`);
}

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

describe('FlowFeeder when something fails', () => {
  it('when one shard fails, rejects with its error and hands the other shard’s result to discard, whose files close', async () => {
    const discarded: Array<{ fds: number[]; closedAfter: number[] }> = [];
    const feeder = makeFeeder(2, discarded, FAILING_WORKER);
    expect(await feedCapture(feeder, SYN_FLOOD)).toBeGreaterThan(1500);
    // The failure is known well before the capture ends, as on a long capture: it must not be
    // an unhandled rejection in the meantime (Node would end the process).
    await untilFailureKnown(feeder);
    await expect(feeder.finish(1e10)).rejects.toThrow('shard 1 failed on purpose');
    expect(discarded).toHaveLength(1);
    // The surviving shard did spill (its SYN rows went to a file) and release closed the file.
    expect(discarded[0]!.fds.length).toBeGreaterThan(0);
    expect(discarded[0]!.closedAfter).toEqual([-1, -1]);
    for (const fd of discarded[0]!.fds) expect(isOpen(fd)).toBe(false);
  });

  it('when a shard fails while ending the capture, no file of any shard stays open', async () => {
    expect(openRowFiles()).toBe(0);
    const discarded: Array<{ fds: number[]; closedAfter: number[] }> = [];
    const feeder = makeFeeder(2, discarded, FAILING_FINISH_WORKER);
    // Flows on both shards, each ending many times while the capture is read: rows, and files.
    await feedCapture(feeder, reopenedAttempts(2100, 16));
    await expect(feeder.finish(1e10)).rejects.toThrow('shard 1 failed on purpose while ending the capture');
    expect(discarded).toHaveLength(1);
    expect(discarded[0]!.fds.length).toBeGreaterThan(0);
    // The failed shard closed its own files: nothing reaches the main thread from it.
    expect(openRowFiles()).toBe(0);
  });

  it('abort ends every shard and discards all their results, whose files close (the reader thread failed)', async () => {
    const discarded: Array<{ fds: number[]; closedAfter: number[] }> = [];
    const feeder = makeFeeder(2, discarded);
    // An abandoned shard ends no flow, so only flows that ended while the capture was read left
    // rows (and files): 2,100 refused attempts from one port, each SYN reopening the connection.
    await feedCapture(feeder, reopenedAttempts(2100));
    await feeder.abort();
    expect(discarded).toHaveLength(2);
    for (const d of discarded) {
      expect(d.closedAfter).toEqual([-1, -1]);
      for (const fd of d.fds) expect(isOpen(fd)).toBe(false);
    }
    expect(discarded.flatMap((d) => d.fds).length).toBeGreaterThan(0);
  });

  it('abort exports no flow of the abandoned capture, on workers and inline, and does nothing once the capture ended', async () => {
    for (const inline of [false, true]) {
      const lines: string[] = [];
      const discarded: Array<{ fds: number[]; closedAfter: number[] }> = [];
      const feeder = makeFeeder(inline ? 1 : 2, discarded, undefined, (chunk) => lines.push(chunk), inline);
      await feedCapture(feeder, SYN_FLOOD);
      await feeder.abort();
      expect(lines, inline ? 'inline' : 'workers').toEqual([]);
      expect(discarded).toHaveLength(inline ? 1 : 2);
      for (const d of discarded) expect(d.closedAfter).toEqual([-1, -1]);
      await feeder.abort();
      expect(discarded).toHaveLength(inline ? 1 : 2);
      await expect(feeder.finish(1e10)).rejects.toThrow('already ended');
    }
    // The same capture finished normally does export its flows.
    const lines: string[] = [];
    const feeder = makeFeeder(2, [], undefined, (chunk) => lines.push(chunk));
    await feedCapture(feeder, SYN_FLOOD);
    const results = await feeder.finish(1e10);
    expect(lines.join('').split('\n').filter((l) => l.length > 0).length).toBeGreaterThan(1500);
    releaseFlowPartials(results.map((r) => r.observers));
    await feeder.abort();
  });

  it('inline, when tracking the last records fails at the end of the capture, the shard’s files close', async () => {
    expect(openRowFiles()).toBe(0);
    const discarded: Array<{ fds: number[]; closedAfter: number[] }> = [];
    // 4,200 records: a full batch tracked while the capture is read, the last 104 at finish,
    // where the 4,150th makes a detector fail.
    let packets = 0;
    const feeder = new FlowFeeder({
      threads: 1,
      inline: true,
      tracker: { ...defaultTrackerOptions(), exportFlows: false },
      observers: { options: resolveOptions(ALL_OPTIONS, {}, {}) } satisfies ObserverSettings,
      makeObservers: (settings) => {
        const observers = makeShardObservers(settings);
        observers.set('failing', {
          packets: 'all',
          onPacket: () => {
            if (++packets === 4150) throw new Error('a detector failed on purpose');
          },
          onFlowEnd: () => {},
          partial: () => null,
        });
        return observers;
      },
      exportSink: null,
      discard: (r: ShardResult) => {
        const parts = r.observers[SYN_RECV] as { intervals: SpilledRowsPart; syns: SpilledRowsPart };
        discarded.push({ fds: [parts.intervals.fd, parts.syns.fd].filter((fd) => fd >= 0), closedAfter: [] });
        releaseFlowPartials([r.observers]);
      },
    });
    expect(await feedCapture(feeder, reopenedAttempts(2100))).toBe(4200);
    expect(packets).toBe(4096);
    await expect(feeder.finish(1e10)).rejects.toThrow('a detector failed on purpose');
    expect(discarded).toHaveLength(1);
    expect(discarded[0]!.fds.length).toBeGreaterThan(0);
    expect(openRowFiles()).toBe(0);
  });

  it('hands every shard worker this thread\'s tmpfs-warning flag, so the warning is printed once per process', async () => {
    const flag = new Int32Array(tmpfsWarnedFlag());
    const before = Atomics.load(flag, 0);
    try {
      const feeder = makeFeeder(2, [], FLAG_WORKER);
      await feedCapture(feeder, SYN_FLOOD);
      const results = await feeder.finish(1e10);
      releaseFlowPartials(results.map((r) => r.observers));
      // Each worker wrote its index + 1 into the flag it was given: that is this thread's.
      expect([1, 2]).toContain(Atomics.load(flag, 0));
    } finally {
      Atomics.store(flag, 0, before);
    }
  });

  it('after a failed capture, the same shard workers analyze the next one', async () => {
    const failed = makeFeeder(2, [], FAILING_WORKER);
    await feedCapture(failed, SYN_FLOOD);
    await expect(failed.finish(1e10)).rejects.toThrow('shard 1 failed on purpose');
    const next = makeFeeder(2, []);
    const frames = await feedCapture(next, SYN_FLOOD);
    const results = await next.finish(1e10);
    expect(results).toHaveLength(2);
    expect(results.reduce((n, r) => n + r.tracker.totals.verdicts['NEW']! + r.tracker.totals.verdicts['ESTABLISHED']! + r.tracker.totals.verdicts['INVALID']! + r.tracker.totals.verdicts['RELATED']!, 0)).toBe(next.tracked);
    expect(next.tracked).toBeGreaterThan(0);
    expect(next.tracked + next.untracked).toBe(frames);
    releaseFlowPartials(results.map((r) => r.observers));
  });
});
