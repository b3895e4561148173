/**
 * Expands the command line's inputs into capture files: files are taken as given; directories are
 * walked (sorted, so the order is deterministic) for files that look like captures by their magic
 * bytes or by a capture extension. A file named like a capture whose content is not one stays in
 * the list, so that it is reported as an error instead of silently skipped.
 */
import fs from 'node:fs';
import path from 'node:path';

const CAPTURE_EXTENSIONS = ['.pcap', '.pcapng', '.cap', '.pcap.gz', '.pcapng.gz', '.cap.gz'];

/** Magic numbers of pcap (both orders, µs, ns, Kuznetzov) and pcapng. */
const MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1, 0x0a0d0d0a]);

export function hasCaptureExtension(file: string): boolean {
  const lower = file.toLowerCase();
  return CAPTURE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** True when the file starts with a capture magic. Unreadable files answer false. */
export function hasCaptureMagic(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(4);
    if (fs.readSync(fd, b, 0, 4, 0) < 4) return false;
    return MAGICS.has(b.readUInt32BE(0));
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

export interface Collected {
  files: string[];
  /** Inputs that do not exist or cannot be listed. */
  problems: Array<{ input: string; message: string }>;
}

export function collectCaptures(inputs: readonly string[]): Collected {
  const files: string[] = [];
  const problems: Collected['problems'] = [];
  for (const input of inputs) {
    if (input === '-') {
      files.push(input);
      continue;
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch {
      // A missing file is still "analyzed", so it gets the same clear error as any unreadable capture.
      files.push(input);
      continue;
    }
    if (!st.isDirectory()) {
      files.push(input);
      continue;
    }
    walk(input, files, problems);
  }
  return { files, problems };
}

function walk(dir: string, files: string[], problems: Collected['problems']): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    problems.push({ input: dir, message: (err as Error).message });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, files, problems);
    else if (e.isFile() && (hasCaptureExtension(e.name) || hasCaptureMagic(p))) files.push(p);
  }
}
