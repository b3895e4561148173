/**
 * Findings must not depend on --threads: flow detectors run in the shards and their partial
 * results are merged, so 1 and 4 shards must give the same findings, evidence included. Checked
 * on the genuine lab captures (every incident) and on every public capture.
 * Shards run the compiled workers: `npx tsc -p tsconfig.json` first (npm test does).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/analysis/analyze.js';
import { ALL_OPTIONS } from '../../src/detectors/registry.js';
import { closeShardPool } from '../../src/flows/feeder.js';
import { resolveOptions } from '../../src/options.js';
import { describeWithPublicCaptures, loadPublicCaptures } from '../helpers/public-captures.js';

afterAll(async () => {
  await closeShardPool();
});

const CAPTURES = path.resolve('captures');

/** Findings with 1 shard on the reader thread and with 4 worker shards, and the options of the capture's expectations. */
async function bothWays(file: string, options: Record<string, number> = {}) {
  const one = await analyzeFile(file, { threads: 1, inlineFlows: true, options });
  const four = await analyzeFile(file, { threads: 4, options });
  return { one: one.findings, four: four.findings };
}

/** The options of a NAME.expect.json, resolved as the CLI resolves them (MAC strings included). */
function expectOptions(capture: string): Record<string, number> {
  const exp = capture.replace(/\.(pcapng|pcap)$/, '.expect.json');
  if (!fs.existsSync(exp)) return {};
  const o = (JSON.parse(fs.readFileSync(exp, 'utf8')) as { options?: Record<string, unknown> }).options ?? {};
  return resolveOptions(ALL_OPTIONS, {}, o);
}

describe('findings with --threads 1 and --threads 4', () => {
  const files = fs.readdirSync(CAPTURES).filter((f) => /\.(pcap|pcapng)$/.test(f));
  it('the lab captures exist', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });
  for (const f of files) {
    it(`are identical on captures/${f}`, async () => {
      const { one, four } = await bothWays(path.join(CAPTURES, f), expectOptions(path.join(CAPTURES, f)));
      expect(one.length).toBeGreaterThan(0);
      expect(four).toEqual(one);
    });
  }
});

describeWithPublicCaptures('findings with --threads 1 and --threads 4 on public captures', () => {
  it('are identical on every public capture (and so are the flow totals)', async () => {
    const differ: string[] = [];
    let withFindings = 0;
    for (const c of loadPublicCaptures()) {
      const one = await analyzeFile(c.path, { threads: 1, inlineFlows: true });
      const four = await analyzeFile(c.path, { threads: 4 });
      if (one.findings.length > 0) withFindings++;
      if (JSON.stringify(four.findings) !== JSON.stringify(one.findings)) differ.push(`${c.file}: findings`);
      if (JSON.stringify(four.flows) !== JSON.stringify(one.flows)) differ.push(`${c.file}: flow totals`);
    }
    expect(differ).toEqual([]);
    expect(withFindings).toBeGreaterThan(100);
  }, 600_000);
});
