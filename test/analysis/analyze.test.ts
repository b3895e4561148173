/**
 * analyzeFile when the reader thread itself fails (a bug, not bad input, which never throws): the
 * error reaches the caller, and the flow shards are ended first, so their workers are free and the
 * next capture is analyzed. Without that, each shard kept its task and its files open, and the next
 * capture's shards queued behind them for ever (batch mode analyzes many captures in one process).
 * The shards run the compiled workers in dist/ (built by `npm test` first).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { analyzeFile } from '../../src/analysis/analyze.js';
import type { Frame } from '../../src/decode/frame.js';
import { closeShardPool, FlowFeeder } from '../../src/flows/feeder.js';

const SYN_FLOOD = fileURLToPath(new URL('../../captures/syn-flood.pcap', import.meta.url));

afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await closeShardPool();
});

describe('analyzeFile after an internal failure on the reader thread', () => {
  it('rejects with the failure, and the same shard workers then analyze the next capture', { timeout: 20_000 }, async () => {
    const expected = await analyzeFile(SYN_FLOOD, { threads: 2, inlineFlows: false });
    expect(expected.flows.total).toBeGreaterThan(1500);

    // Fail part-way through the capture: both shards have started and hold their tasks.
    const add = FlowFeeder.prototype.add;
    let calls = 0;
    vi.spyOn(FlowFeeder.prototype, 'add').mockImplementation(function (this: FlowFeeder, f: Frame) {
      if (++calls > 1000) throw new Error('internal failure on purpose');
      add.call(this, f);
    });
    await expect(analyzeFile(SYN_FLOOD, { threads: 2, inlineFlows: false })).rejects.toThrow('internal failure on purpose');
    vi.restoreAllMocks();

    const again = await analyzeFile(SYN_FLOOD, { threads: 2, inlineFlows: false });
    expect(again.flows).toEqual(expected.flows);
    expect(again.findings).toEqual(expected.findings);
  });
});
