/**
 * The batch mode's task (one capture per worker): it analyzes the file as `pcapscan FILE` would,
 * and takes the process's "tmpfs warning printed" flag from the task, so that many file workers
 * print the warning once between them (src/detectors/spill-rows.ts).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import analyzeTask from '../../src/analysis/file-worker.js';
import { claimTmpfsWarning, shareTmpfsWarned } from '../../src/detectors/spill-rows.js';

const CAPTURE = fileURLToPath(new URL('../../captures/syn-flood.pcap', import.meta.url));

afterEach(() => {
  // This thread's flag, as it was: a fresh one, nothing printed.
  shareTmpfsWarned(new SharedArrayBuffer(4));
});

describe('the batch file task', () => {
  it('analyzes the capture and uses the flag it is handed, so one warning serves every worker', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    // Another worker of the same process already printed the warning.
    Atomics.store(flag, 0, 1);
    const report = await analyzeTask({ file: CAPTURE, options: {}, tmpfsWarned: flag.buffer as SharedArrayBuffer });
    expect(report.frames).toBeGreaterThan(1500);
    expect(report.findings.some((f) => f.id === 'tcp.syn_recv_buildup')).toBe(true);
    // This thread now shares that flag: it finds the warning taken.
    expect(claimTmpfsWarning()).toBe(false);
  });
});
