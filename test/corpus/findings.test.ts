/**
 * The findings of medium and high severity on every public capture, against a list a person
 * reviewed (findings.expect.tsv, one line per finding with the reviewer's note on why it is
 * right). A finding that appears, disappears or changes severity or count fails the test: a change
 * to a detector shows its effect on a thousand real captures, and the list is reviewed again.
 *
 * To refresh the list after a deliberate change:
 *   PCAPSCAN_UPDATE_CORPUS=1 npx vitest run test/corpus/findings.test.ts
 * Notes of unchanged lines are kept; new lines get UNREVIEWED, which fails the test until a person
 * replaces it with a note.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { analyzeFile } from '../../src/analysis/analyze.js';
import { closeShardPool } from '../../src/flows/feeder.js';
import { describeWithPublicCaptures, loadPublicCaptures } from '../helpers/public-captures.js';

const EXPECT_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'findings.expect.tsv');
const HEADER = ['file', 'id', 'severity', 'subject', 'count', 'review'];
const UNREVIEWED = 'UNREVIEWED';

interface Row {
  file: string;
  id: string;
  severity: string;
  subject: string;
  count: number;
  review: string;
}

/** What identifies a finding across runs; the count is compared too, apart. */
function key(r: Pick<Row, 'file' | 'id' | 'subject'>): string {
  return `${r.file}\t${r.id}\t${r.subject}`;
}

function readExpected(): Row[] {
  if (!fs.existsSync(EXPECT_FILE)) return [];
  return fs
    .readFileSync(EXPECT_FILE, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .slice(1)
    .map((l, i) => {
      const c = l.split('\t');
      if (c.length !== HEADER.length) throw new Error(`${path.basename(EXPECT_FILE)} row ${i + 1}: ${c.length} columns, expected ${HEADER.length}`);
      return { file: c[0]!, id: c[1]!, severity: c[2]!, subject: c[3]!, count: Number(c[4]), review: c[5]! };
    });
}

function writeExpected(rows: Row[]): void {
  const lines = [
    '# Medium and high findings of pcapscan on ../shared/captures/public, one per line, with the reviewer\'s note.',
    '# Checked by test/corpus/findings.test.ts; refresh with PCAPSCAN_UPDATE_CORPUS=1, then review every UNREVIEWED line.',
    HEADER.join('\t'),
    ...rows.map((r) => [r.file, r.id, r.severity, r.subject, String(r.count), r.review].join('\t')),
  ];
  fs.writeFileSync(EXPECT_FILE, lines.join('\n') + '\n');
}

afterAll(async () => {
  await closeShardPool();
});

describeWithPublicCaptures('medium and high findings on the public captures', () => {
  it('match the reviewed list', async () => {
    const actual: Row[] = [];
    for (const c of loadPublicCaptures()) {
      const report = await analyzeFile(c.path, { threads: 1 });
      for (const f of report.findings) {
        if (f.severity !== 'medium' && f.severity !== 'high') continue;
        // Tabs and newlines cannot occur in subjects; guard the file format anyway.
        expect(f.subject, `${c.file}: subject with a tab or newline`).not.toMatch(/[\t\n]/);
        actual.push({ file: c.file, id: f.id, severity: f.severity, subject: f.subject, count: f.count, review: '' });
      }
    }
    const expected = readExpected();
    const notes = new Map(expected.map((r) => [key(r), r]));

    if (process.env.PCAPSCAN_UPDATE_CORPUS) {
      writeExpected(
        actual.map((r) => {
          const old = notes.get(key(r));
          // A note stays with its finding only if what it judged is unchanged.
          const same = old !== undefined && old.severity === r.severity && old.count === r.count;
          return { ...r, review: same ? old.review : UNREVIEWED };
        }),
      );
    }

    const byKey = new Map(actual.map((r) => [key(r), r]));
    const problems: string[] = [];
    for (const r of actual) {
      const e = notes.get(key(r));
      if (!e) problems.push(`new: ${r.file} ${r.id} [${r.subject}] ${r.severity} count ${r.count}`);
      else if (e.severity !== r.severity || e.count !== r.count) problems.push(`changed: ${r.file} ${r.id} [${r.subject}]: ${e.severity} count ${e.count} -> ${r.severity} count ${r.count}`);
    }
    for (const e of expected) if (!byKey.has(key(e))) problems.push(`missing: ${e.file} ${e.id} [${e.subject}] ${e.severity} count ${e.count}`);
    for (const e of expected) if (e.review.trim() === '' || e.review === UNREVIEWED) problems.push(`not reviewed: ${e.file} ${e.id} [${e.subject}]`);
    expect(problems, `${problems.length} difference(s) with ${path.relative(process.cwd(), EXPECT_FILE)}:\n${problems.join('\n')}`).toEqual([]);
    // The list is not trivially empty: the corpus holds scans, one-way captures and odd spanning trees.
    expect(actual.length).toBeGreaterThan(20);
  }, 600_000);
});
