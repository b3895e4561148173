import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { readCapture } from '../../src/capture/reader.js';
import { CaptureRecord } from '../../src/capture/record.js';
import { concatBytes, pcapFileHeader, pcapRecord, pcapngEnhancedPacket, pcapngInterface, pcapngSectionHeader, writePcap, writePcapng, type WriteFrame } from '../../src/capture/writer.js';
import { eventCountsToObject, newEventCounters } from '../../src/events.js';
import { writeTempFile } from '../helpers/capture-builder.js';

interface Seen {
  frameNo: number;
  tsSec: number;
  tsNs: number;
  capLen: number;
  wireLen: number;
  linkType: number;
  ifIndex: number;
  bytes: number[];
}

async function readAll(bytes: Uint8Array, opts: { chunkBytes?: number; name?: string } = {}) {
  const file = writeTempFile(opts.name ?? 'c.pcap', bytes);
  const seen: Seen[] = [];
  const events = newEventCounters();
  const outcome = await readCapture(
    file,
    {
      onRecord(r: CaptureRecord) {
        seen.push({
          frameNo: r.frameNo,
          tsSec: r.tsSec,
          tsNs: r.tsNs,
          capLen: r.capLen,
          wireLen: r.wireLen,
          linkType: r.linkType,
          ifIndex: r.ifIndex,
          bytes: Array.from(r.buf.subarray(r.off, r.off + r.capLen)),
        });
      },
    },
    { events, ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}) },
  );
  return { outcome, seen, events: eventCountsToObject(events), file };
}

function frames(n: number, size = 60): WriteFrame[] {
  return Array.from({ length: n }, (_, i) => ({
    data: Uint8Array.from({ length: size + (i % 7) }, (_, j) => (i * 31 + j) & 0xff),
    tsSec: 1_600_000_000 + i,
    tsNs: (i * 123_456_789) % 1_000_000_000,
  }));
}

describe('classic pcap', () => {
  it('reads microsecond little-endian records with their times, lengths and bytes', async () => {
    const input = frames(5);
    const { outcome, seen } = await readAll(writePcap(input));
    expect(outcome.error).toBeNull();
    expect(outcome.format).toBe('pcap-us-le');
    expect(seen.map((s) => s.frameNo)).toEqual([1, 2, 3, 4, 5]);
    input.forEach((f, i) => {
      expect(seen[i]!.tsSec).toBe(f.tsSec);
      expect(seen[i]!.tsNs).toBe(Math.floor(f.tsNs / 1000) * 1000);
      expect(seen[i]!.bytes).toEqual(Array.from(f.data));
      expect(seen[i]!.linkType).toBe(1);
    });
  });

  it('keeps nanoseconds from a nanosecond pcap, in both byte orders', async () => {
    const input = frames(3);
    for (const bigEndian of [false, true]) {
      const { outcome, seen } = await readAll(writePcap(input, { nanos: true, bigEndian }));
      expect(outcome.format).toBe(bigEndian ? 'pcap-ns-be' : 'pcap-ns-le');
      expect(seen.map((s) => s.tsNs)).toEqual(input.map((f) => f.tsNs));
    }
  });

  it('reads big-endian microsecond files', async () => {
    const { outcome, seen } = await readAll(writePcap(frames(2), { bigEndian: true, linkType: 113 }));
    expect(outcome.format).toBe('pcap-us-be');
    expect(seen.map((s) => s.linkType)).toEqual([113, 113]);
  });

  it('hands out records that straddle chunk boundaries intact, whatever the chunk size', async () => {
    const input = frames(200, 90);
    const whole = writePcap(input);
    for (const chunkBytes of [7, 16, 17, 100, 1000]) {
      const { outcome, seen } = await readAll(whole, { chunkBytes });
      expect(outcome.error, `chunk ${chunkBytes}`).toBeNull();
      expect(seen.length).toBe(200);
      expect(seen[137]!.bytes).toEqual(Array.from(input[137]!.data));
    }
  });

  it('carries a fraction of one second or more into the seconds, and counts it', async () => {
    const rec = pcapRecord({ data: new Uint8Array(60), tsSec: 100, tsNs: 0 });
    new DataView(rec.buffer).setUint32(4, 2_500_000, true); // 2.5 s in microseconds
    const { seen, events } = await readAll(concatBytes([pcapFileHeader(), rec]));
    expect(seen[0]!.tsSec).toBe(102);
    expect(seen[0]!.tsNs).toBe(500_000_000);
    expect(events['capture.pcap.ts_fraction_overflow']).toBe(1);
  });

  it('reports a truncated last record with its frame number and the missing bytes, after reading the others', async () => {
    const whole = writePcap(frames(3, 100));
    const cut = whole.subarray(0, whole.length - 10);
    const { outcome, seen } = await readAll(cut);
    expect(seen.length).toBe(2);
    expect(outcome.frames).toBe(2);
    expect(outcome.error?.kind).toBe('truncated');
    expect(outcome.error?.frame).toBe(3);
    expect(outcome.error?.message).toMatch(/frame 3 has \d+ of its \d+ bytes \(10 missing\)/);
    expect(outcome.error?.offset).toBe(24 + 2 * 16 + 100 + 101);
  });

  it('reports a file cut inside a record header', async () => {
    const whole = writePcap(frames(2));
    const cut = whole.subarray(0, 24 + 16 + 60 + 5);
    const { outcome, seen } = await readAll(cut);
    expect(seen.length).toBe(1);
    expect(outcome.error?.kind).toBe('truncated');
    expect(outcome.error?.message).toMatch(/5 byte\(s\) into the header of frame 2/);
  });

  it('stops at a corrupt record header (captured length too large) with its offset and frame', async () => {
    const good = pcapRecord({ data: new Uint8Array(60), tsSec: 1, tsNs: 0 });
    const bad = pcapRecord({ data: new Uint8Array(60), tsSec: 2, tsNs: 0 });
    new DataView(bad.buffer).setUint32(8, 5_000_000, true);
    const { outcome, seen } = await readAll(concatBytes([pcapFileHeader({ snapLen: 65535 }), good, bad]));
    expect(seen.length).toBe(1);
    expect(outcome.error?.kind).toBe('corrupt_record');
    expect(outcome.error?.frame).toBe(2);
    expect(outcome.error?.offset).toBe(24 + 16 + 60);
    expect(outcome.error?.message).toContain('captured length 5000000');
  });

  it('rejects an unsupported version', async () => {
    const h = pcapFileHeader();
    new DataView(h.buffer).setUint16(4, 1, true);
    const { outcome } = await readAll(h);
    expect(outcome.error?.kind).toBe('unsupported_version');
    expect(outcome.error?.message).toContain('unsupported pcap version 1.4');
  });

  it('reports an empty file and a file that is no capture, naming the magic it saw', async () => {
    const empty = await readAll(new Uint8Array(0));
    expect(empty.outcome.error?.kind).toBe('empty');
    const text = await readAll(new TextEncoder().encode('this is not a capture\n'), { name: 'x.pcap' });
    expect(text.outcome.error?.kind).toBe('not_a_capture');
    expect(text.outcome.error?.message).toContain('magic bytes 74 68 69 73');
  });

  it('reads a gzip-compressed capture, found by its magic and not its name', async () => {
    const input = frames(50);
    const gz = zlib.gzipSync(writePcap(input));
    const { outcome, seen } = await readAll(gz, { name: 'no-extension' });
    expect(outcome.error).toBeNull();
    expect(outcome.format).toBe('pcap-us-le+gzip');
    expect(seen.length).toBe(50);
  });

  it('reports gzip data that is cut short, keeping the frames before', async () => {
    const gz = zlib.gzipSync(writePcap(frames(2000)));
    const { outcome, seen } = await readAll(gz.subarray(0, Math.floor(gz.length / 2)));
    expect(outcome.error?.kind).toBe('truncated');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(2000);
  });
});

describe('pcapng', () => {
  it('reads enhanced packets with per-interface link types and timestamp resolutions', async () => {
    const input: WriteFrame[] = [
      { data: new Uint8Array(60).fill(1), tsSec: 1_700_000_000, tsNs: 123_456_789, ifIndex: 0 },
      { data: new Uint8Array(40).fill(2), tsSec: 1_700_000_001, tsNs: 987_654_321, ifIndex: 1 },
      { data: new Uint8Array(50).fill(3), tsSec: 1_700_000_002, tsNs: 500_000_000, ifIndex: 2 },
    ];
    const bytes = writePcapng(input, {
      interfaces: [
        { linkType: 1, tsResol: 9 },
        { linkType: 101 },
        { linkType: 113, tsResol: 0x80 | 30 },
      ],
    });
    const { outcome, seen } = await readAll(bytes, { name: 'x.pcap' });
    expect(outcome.error).toBeNull();
    expect(outcome.format).toBe('pcapng-le');
    expect(seen.map((s) => s.linkType)).toEqual([1, 101, 113]);
    expect(seen[0]).toMatchObject({ tsSec: 1_700_000_000, tsNs: 123_456_789 });
    expect(seen[1]).toMatchObject({ tsSec: 1_700_000_001, tsNs: 987_654_000 });
    expect(seen[2]!.tsSec).toBe(1_700_000_002);
    expect(Math.abs(seen[2]!.tsNs - 500_000_000)).toBeLessThanOrEqual(1);
  });

  it('applies if_tsoffset', async () => {
    const bytes = writePcapng([{ data: new Uint8Array(60), tsSec: 1_000_000_100, tsNs: 5000 }], {
      interfaces: [{ linkType: 1, tsOffsetSec: 1_000_000_000 }],
    });
    const { seen } = await readAll(bytes);
    expect(seen[0]).toMatchObject({ tsSec: 1_000_000_100, tsNs: 5000 });
  });

  it('reads several sections of different byte orders, each with its own interfaces', async () => {
    const a = writePcapng([{ data: new Uint8Array(60).fill(7), tsSec: 10, tsNs: 0 }], { interfaces: [{ linkType: 1 }] });
    const b = writePcapng([{ data: new Uint8Array(44).fill(8), tsSec: 20, tsNs: 0 }], { bigEndian: true, interfaces: [{ linkType: 228 }] });
    const { outcome, seen } = await readAll(concatBytes([a, b]), { chunkBytes: 13 });
    expect(outcome.error).toBeNull();
    expect(outcome.format).toBe('pcapng-mixed');
    expect(seen.map((s) => [s.linkType, s.tsSec, s.capLen])).toEqual([
      [1, 10, 60],
      [228, 20, 44],
    ]);
  });

  it('skips unknown blocks, counting them', async () => {
    const le = true;
    const unknown = new Uint8Array(16);
    const v = new DataView(unknown.buffer);
    v.setUint32(0, 0x12345678, le);
    v.setUint32(4, 16, le);
    v.setUint32(12, 16, le);
    const iface = { linkType: 1 };
    const bytes = concatBytes([
      pcapngSectionHeader(le),
      pcapngInterface(iface, le),
      unknown,
      pcapngEnhancedPacket({ data: new Uint8Array(60), tsSec: 1, tsNs: 0 }, iface, le),
    ]);
    const { outcome, seen, events } = await readAll(bytes);
    expect(outcome.error).toBeNull();
    expect(seen.length).toBe(1);
    expect(events['capture.pcapng.unknown_block_skipped']).toBe(1);
  });

  it('stops on inconsistent block lengths, with the offset of the block', async () => {
    const le = true;
    const iface = { linkType: 1 };
    const good = pcapngEnhancedPacket({ data: new Uint8Array(60), tsSec: 1, tsNs: 0 }, iface, le);
    const bad = pcapngEnhancedPacket({ data: new Uint8Array(60), tsSec: 2, tsNs: 0 }, iface, le);
    new DataView(bad.buffer).setUint32(bad.length - 4, 12345, le);
    const head = concatBytes([pcapngSectionHeader(le), pcapngInterface(iface, le)]);
    const { outcome, seen } = await readAll(concatBytes([head, good, bad]));
    expect(seen.length).toBe(1);
    expect(outcome.error?.kind).toBe('corrupt_record');
    expect(outcome.error?.frame).toBe(2);
    expect(outcome.error?.offset).toBe(head.length + good.length);
    expect(outcome.error?.message).toContain('inconsistent block lengths');
  });

  it('stops on a packet for an interface that was never described', async () => {
    const le = true;
    const bytes = concatBytes([
      pcapngSectionHeader(le),
      pcapngInterface({ linkType: 1 }, le),
      pcapngEnhancedPacket({ data: new Uint8Array(60), tsSec: 1, tsNs: 0, ifIndex: 3 }, { linkType: 1 }, le),
    ]);
    const { outcome } = await readAll(bytes);
    expect(outcome.error?.message).toContain('refers to interface 3');
  });

  it('reports a truncated last block', async () => {
    const bytes = writePcapng([
      { data: new Uint8Array(60), tsSec: 1, tsNs: 0 },
      { data: new Uint8Array(60), tsSec: 2, tsNs: 0 },
    ]);
    const { outcome, seen } = await readAll(bytes.subarray(0, bytes.length - 8));
    expect(seen.length).toBe(1);
    expect(outcome.error?.kind).toBe('truncated');
    expect(outcome.error?.frame).toBe(2);
    expect(outcome.error?.message).toMatch(/\(8 missing\)/);
  });
});

describe('a handler that supplies its own record object', () => {
  it('gets that object filled for every record, in pcap and pcapng alike, with the same values as the reader’s own', async () => {
    const input = frames(4);
    for (const [name, bytes] of [
      ['own.pcap', writePcap(input)],
      ['own.pcapng', writePcapng(input.map((f) => ({ ...f, ifIndex: 0 })), { interfaces: [{ linkType: 1, tsResol: 9 }] })],
    ] as const) {
      const own = new CaptureRecord();
      const got: Array<{ same: boolean; frameNo: number; tsSec: number; tsNs: number; bytes: number[] }> = [];
      const events = newEventCounters();
      const outcome = await readCapture(
        writeTempFile(name, bytes),
        {
          record: own,
          onRecord(r: CaptureRecord) {
            got.push({ same: r === own, frameNo: r.frameNo, tsSec: r.tsSec, tsNs: r.tsNs, bytes: Array.from(r.buf.subarray(r.off, r.off + r.capLen)) });
          },
        },
        { events },
      );
      expect(outcome.error).toBeNull();
      expect(got.every((g) => g.same), name).toBe(true);
      const { seen } = await readAll(bytes, { name });
      expect(got.map(({ same: _, ...rest }) => rest)).toEqual(seen.map((s) => ({ frameNo: s.frameNo, tsSec: s.tsSec, tsNs: s.tsNs, bytes: s.bytes })));
    }
  });
});
