/**
 * pcap-parser (npm, CommonJS) is the reference for classic pcap: every record of every classic
 * microsecond pcap of the public corpus that it reads must come out of our reader identical, in
 * time, lengths and bytes. Files it cannot read are listed, and our answer for each is checked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { expect, it } from 'vitest';
import { readCapture, type ReadOutcome } from '../../src/capture/reader.js';
import type { CaptureRecord } from '../../src/capture/record.js';
import { newEventCounters } from '../../src/events.js';
import { describeWithPublicCaptures, PUBLIC_CAPTURES_DIR } from '../helpers/public-captures.js';

/** What pcap-parser 0.2.1 emits (lib/pcap-parser.js). */
interface PpGlobalHeader {
  magicNumber: number;
  majorVersion: number;
  minorVersion: number;
  gmtOffset: number;
  timestampAccuracy: number;
  snapshotLength: number;
  linkLayerType: number;
}
interface PpPacketHeader {
  timestampSeconds: number;
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}
interface PpPacket {
  header: PpPacketHeader;
  data: Buffer;
}

const require = createRequire(import.meta.url);
const pcapParser = require('pcap-parser') as { parse(input: NodeJS.ReadableStream | string): EventEmitter };

interface PpResult {
  header: PpGlobalHeader | null;
  packets: PpPacket[];
  error: Error | null;
  /** Bytes pcap-parser consumed: the file header and every whole record it emitted. */
  consumed: number;
}

/**
 * Runs pcap-parser to its end. It emits 'end' after an 'error' too, and it pauses (never closes)
 * the stream on an error, so the stream is ours to destroy.
 */
function runPcapParser(file: string): Promise<PpResult> {
  return new Promise((resolve) => {
    const stream = fs.createReadStream(file);
    const parser = pcapParser.parse(stream);
    const result: PpResult = { header: null, packets: [], error: null, consumed: 0 };
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      stream.destroy();
      resolve(result);
    };
    parser.on('globalHeader', (h: PpGlobalHeader) => {
      result.header = h;
      result.consumed = 24;
    });
    // 'packet' hands out a slice of pcap-parser's buffer: copy it.
    parser.on('packet', (p: PpPacket) => {
      result.packets.push({ header: { ...p.header }, data: Buffer.from(p.data) });
      result.consumed += 16 + p.header.capturedLength;
    });
    parser.on('error', (err: Error) => {
      result.error ??= err;
    });
    parser.on('end', finish);
    stream.on('close', finish);
  });
}

interface OurRecord {
  tsSec: number;
  tsNs: number;
  capLen: number;
  wireLen: number;
  data: Buffer;
}

async function runOurs(file: string): Promise<{ outcome: ReadOutcome; records: OurRecord[] }> {
  const records: OurRecord[] = [];
  const outcome = await readCapture(
    file,
    {
      onRecord(r: CaptureRecord) {
        records.push({ tsSec: r.tsSec, tsNs: r.tsNs, capLen: r.capLen, wireLen: r.wireLen, data: Buffer.from(r.buf.subarray(r.off, r.off + r.capLen)) });
      },
    },
    { events: newEventCounters() },
  );
  return { outcome, records };
}

type ClassicMagic = 'us' | 'ns' | 'kuznetzov';

/** The classic pcap variant from the first four bytes (either byte order), or null. */
function classicMagic(file: string): { kind: ClassicMagic; littleEndian: boolean } | null {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n < 4) return null;
  const le = head.readUInt32LE(0);
  const be = head.readUInt32BE(0);
  const kinds: Array<[number, ClassicMagic]> = [
    [0xa1b2c3d4, 'us'],
    [0xa1b23c4d, 'ns'],
    [0xa1b2cd34, 'kuznetzov'],
  ];
  for (const [magic, kind] of kinds) {
    if (le === magic) return { kind, littleEndian: true };
    if (be === magic) return { kind, littleEndian: false };
  }
  return null;
}

/** Problems with the file header that libpcap and Wireshark reject and pcap-parser does not check. */
function headerLibpcapRejects(h: PpGlobalHeader): 'unsupported_version' | 'corrupt_header' | null {
  // pcap-parser's test is `major != 2 && minor != 4`, so it takes version 1.4.
  if (h.majorVersion !== 2) return 'unsupported_version';
  // Bits 16-25 of the link type field are reserved and must be zero.
  if ((h.linkLayerType & 0x03ff0000) !== 0) return 'corrupt_header';
  return null;
}

/**
 * Compares one file's records. pcap-parser's values are normalized the way our reader (and
 * libpcap) interprets the same bytes:
 * - a microsecond field of 1e6 or more is carried into the seconds (our reader counts the event
 *   capture.pcap.ts_fraction_overflow): seconds + floor(us / 1e6), (us mod 1e6) * 1000 ns;
 * - files of version < 2.3 have orig_len before incl_len; libpcap swaps the two, pcap-parser does
 *   not, so its "captured" is our wire length and the reverse (pcap-parser then frames the record by
 *   the wrong field: the bytes can only agree while both fields are equal, as in the corpus's one
 *   version 2.1 file).
 */
function compareRecords(name: string, header: PpGlobalHeader, theirs: PpPacket[], ours: OurRecord[], problems: string[]): void {
  const swapped = header.majorVersion === 2 && header.minorVersion < 3;
  if (ours.length !== theirs.length) problems.push(`${name}: ${ours.length} records read, pcap-parser read ${theirs.length}`);
  const n = Math.min(ours.length, theirs.length);
  let reported = 0;
  for (let i = 0; i < n && reported < 5; i++) {
    const t = theirs[i]!.header;
    const o = ours[i]!;
    const expected = {
      tsSec: t.timestampSeconds + Math.floor(t.timestampMicroseconds / 1e6),
      tsNs: (t.timestampMicroseconds % 1e6) * 1000,
      capLen: swapped ? t.originalLength : t.capturedLength,
      wireLen: swapped ? t.capturedLength : t.originalLength,
    };
    for (const field of ['tsSec', 'tsNs', 'capLen', 'wireLen'] as const) {
      if (o[field] !== expected[field]) {
        problems.push(`${name} frame ${i + 1}: ${field} is ${o[field]}, pcap-parser says ${expected[field]}`);
        reported++;
      }
    }
    if (!o.data.equals(theirs[i]!.data)) {
      const at = o.data.findIndex((x, j) => x !== theirs[i]!.data[j]);
      problems.push(`${name} frame ${i + 1}: bytes differ (first at byte ${at < 0 ? Math.min(o.data.length, theirs[i]!.data.length) : at}; lengths ${o.data.length} and ${theirs[i]!.data.length})`);
      reported++;
    }
  }
}

describeWithPublicCaptures('classic pcap against pcap-parser (public corpus)', () => {
  it('reads every record pcap-parser reads identically, and answers every file it cannot read', async () => {
    const names = fs
      .readdirSync(PUBLIC_CAPTURES_DIR)
      .filter((f) => f !== 'MANIFEST.tsv' && f !== 'README.md')
      .sort();
    const problems: string[] = [];
    const ppFailed: string[] = [];
    const ppLaxHeader: string[] = [];
    const ppTrailing: string[] = [];
    let filesCompared = 0;
    let recordsCompared = 0;
    let classicFiles = 0;

    for (const name of names) {
      const file = path.join(PUBLIC_CAPTURES_DIR, name);
      const magic = classicMagic(file);
      if (!magic) continue;
      classicFiles++;
      const pp = await runPcapParser(file);
      const { outcome, records } = await runOurs(file);
      const ours = `we read ${outcome.frames} frame(s), error: ${outcome.error ? outcome.error.message.replace(file, name) : 'none'}`;

      if (pp.error) {
        // pcap-parser reads only microsecond files; it stops at what it cannot handle. Either we
        // report a problem too, or we read frames it could not.
        ppFailed.push(`${name}: pcap-parser: ${pp.error.message}; ${ours}`);
        if (outcome.error === null && outcome.frames <= pp.packets.length) {
          problems.push(`${name}: pcap-parser failed (${pp.error.message}) after ${pp.packets.length} record(s), yet we read only ${outcome.frames} and report no error`);
        }
        continue;
      }
      if (magic.kind !== 'us') {
        problems.push(`${name}: pcap-parser read a ${magic.kind} pcap without an error; the reference test assumes it cannot`);
        continue;
      }
      if (!pp.header) {
        // A file too short for a file header: pcap-parser just ends.
        if (outcome.error?.kind !== 'truncated' || outcome.frames !== 0) problems.push(`${name}: shorter than a pcap file header, expected a 'truncated' error; ${ours}`);
        continue;
      }
      const rejected = headerLibpcapRejects(pp.header);
      if (rejected) {
        ppLaxHeader.push(`${name}: pcap-parser accepted version ${pp.header.majorVersion}.${pp.header.minorVersion} link type 0x${pp.header.linkLayerType.toString(16)} and read ${pp.packets.length} record(s); ${ours}`);
        if (outcome.error?.kind !== rejected || outcome.error.offset !== 0 || outcome.frames !== 0) {
          problems.push(`${name}: header libpcap rejects (${rejected}); expected that error at offset 0 and no frames; ${ours}`);
        }
        continue;
      }

      if (!outcome.format.startsWith(`pcap-us-${magic.littleEndian ? 'le' : 'be'}`)) problems.push(`${name}: format ${outcome.format}, expected pcap-us-${magic.littleEndian ? 'le' : 'be'}`);
      compareRecords(name, pp.header, pp.packets, records, problems);
      filesCompared++;
      recordsCompared += Math.min(records.length, pp.packets.length);

      // pcap-parser silently drops what follows its last whole record (a truncated record, or one
      // whose captured length it waits for forever). We must say where and why we stopped.
      const size = fs.statSync(file).size;
      const trailing = size - pp.consumed;
      if (trailing > 0) {
        ppTrailing.push(`${name}: pcap-parser ignored the last ${trailing} byte(s) silently; ${ours}`);
        const e = outcome.error;
        if (!e || (e.kind !== 'truncated' && e.kind !== 'corrupt_record') || e.offset !== pp.consumed || e.frame !== pp.packets.length + 1) {
          problems.push(`${name}: ${trailing} byte(s) after the last whole record at offset ${pp.consumed}: expected a 'truncated' or 'corrupt_record' error at that offset for frame ${pp.packets.length + 1}; ${ours}`);
        }
      } else if (outcome.error) {
        problems.push(`${name}: pcap-parser read the whole file, but ${ours}`);
      }
    }

    console.log(
      [
        `pcap-parser reference: ${classicFiles} classic pcap file(s) found by magic; ${filesCompared} compared record by record, ${recordsCompared} records compared`,
        `pcap-parser failed on ${ppFailed.length} file(s):`,
        ...ppFailed.map((s) => `  ${s}`),
        `pcap-parser accepted ${ppLaxHeader.length} header(s) that libpcap rejects:`,
        ...ppLaxHeader.map((s) => `  ${s}`),
        `pcap-parser silently dropped trailing bytes of ${ppTrailing.length} file(s):`,
        ...ppTrailing.map((s) => `  ${s}`),
      ].join('\n'),
    );

    expect(problems).toEqual([]);
    // A broken filter must not make this pass with nothing compared.
    expect(filesCompared, 'classic microsecond pcaps compared with pcap-parser').toBeGreaterThan(800);
    expect(recordsCompared, 'records compared with pcap-parser').toBeGreaterThan(15_000);
  });
});
