/**
 * Vitest global setup: every temporary file and directory the tests create (captures the builder
 * writes, CLI outputs, the detectors' spilled rows) goes under one directory made for the run,
 * removed when the run ends. os.tmpdir() follows TMPDIR, which the test processes inherit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pcapscan-tests-'));
  process.env['TMPDIR'] = root;
  return () => fs.rmSync(root, { recursive: true, force: true });
}
