/**
 * The public capture corpus (../shared/captures/public beside the checkout, or
 * $PCAPSCAN_PUBLIC_CAPTURES): its manifest, and a way for a test file to require it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export const PUBLIC_CAPTURES_DIR = path.resolve(
  process.env.PCAPSCAN_PUBLIC_CAPTURES ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/captures/public'),
);

const MANIFEST = 'MANIFEST.tsv';
const COLUMNS = ['file', 'source_repo', 'path_in_repo', 'commit', 'size_bytes', 'format', 'packets_tshark', 'licence', 'contents'] as const;

/** One row of MANIFEST.tsv, plus the file's absolute path. */
export interface PublicCapture {
  file: string;
  /** Absolute path of the capture. */
  path: string;
  sourceRepo: string;
  pathInRepo: string;
  commit: string;
  sizeBytes: number;
  /** From the magic bytes, e.g. "pcap-us-le linktype=RAW(101)", "pcapng-be", "other:magic=74686973". */
  format: string;
  /** tshark 4.0's frame count; null when tshark could not read the file. */
  packetsTshark: number | null;
  licence: string;
  /** Notes: protocols seen, header/record anomalies, tshark's error text. */
  contents: string;
}

export function publicCapturesAvailable(): boolean {
  return fs.existsSync(path.join(PUBLIC_CAPTURES_DIR, MANIFEST));
}

/** The manifest rows, in file order. Throws if the manifest is missing or its columns changed. */
export function loadPublicCaptures(): PublicCapture[] {
  const lines = fs.readFileSync(path.join(PUBLIC_CAPTURES_DIR, MANIFEST), 'utf8').split('\n').filter((l) => l.length > 0);
  const header = lines[0]?.split('\t') ?? [];
  if (header.join('\t') !== COLUMNS.join('\t')) throw new Error(`${MANIFEST}: unexpected columns ${header.join(', ')}`);
  return lines.slice(1).map((line, i) => {
    const c = line.split('\t');
    if (c.length !== COLUMNS.length) throw new Error(`${MANIFEST} line ${i + 2}: ${c.length} columns, expected ${COLUMNS.length}`);
    const [file, sourceRepo, pathInRepo, commit, size, format, packets, licence, contents] = c as [string, string, string, string, string, string, string, string, string];
    return {
      file,
      path: path.join(PUBLIC_CAPTURES_DIR, file),
      sourceRepo,
      pathInRepo,
      commit,
      sizeBytes: Number(size),
      format,
      packetsTshark: packets === '' ? null : Number(packets),
      licence,
      contents,
    };
  });
}

/**
 * `describe` for tests that need the corpus. Without it: on CI (env CI set) a failing test that
 * says where the corpus was looked for; elsewhere the suite is skipped with a warning.
 */
export function describeWithPublicCaptures(name: string, body: () => void): void {
  if (publicCapturesAvailable()) {
    describe(name, body);
    return;
  }
  const missing = `public captures not found at ${PUBLIC_CAPTURES_DIR}`;
  if (process.env.CI) {
    describe(name, () => {
      it('has the public capture corpus', () => {
        throw new Error(`${missing}: CI must have ../shared beside the checkout (or set PCAPSCAN_PUBLIC_CAPTURES)`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${missing} (set PCAPSCAN_PUBLIC_CAPTURES to run it)`);
  describe.skip(name, body);
}
