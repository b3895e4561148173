/**
 * CaptureStats counts runs and takes a shortcut for in-order frames; a plain model that looks at
 * every frame the obvious way must agree with it on any sequence of frames: times out of order,
 * frames without a time, non-packet records, EtherTypes and protocols that change, and reads
 * of the counts in the middle of the capture.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureStats } from '../../src/analysis/capture-stats.js';
import { Frame, Layer } from '../../src/decode/frame.js';
import { Ev, newEventCounters } from '../../src/events.js';
import { formatEtherType } from '../../src/report/format.js';
import { ipProtoName } from '../../src/decode/ipproto.js';

interface FrameSpec {
  linkType: number;
  hasTimestamp: number;
  tsSec: number;
  tsNs: number;
  wireLen: number;
  capLen: number;
  layers: number;
  truncated: number;
  etherType: number;
  lengthField: number;
  ipProto: number;
  /** Read the counts after this frame. */
  readAfter: boolean;
}

const LINK_BITS = [Layer.ETHERNET, Layer.SLL, Layer.RAW_IP, 0];
const specArb: fc.Arbitrary<FrameSpec> = fc.record({
  linkType: fc.constantFrom(1, 1, 1, 113, 101, -3),
  hasTimestamp: fc.constantFrom(1, 1, 1, 0),
  // Few distinct seconds and nanoseconds, so that ties and steps back are common.
  tsSec: fc.integer({ min: 1_700_000_000, max: 1_700_000_003 }),
  tsNs: fc.constantFrom(0, 1, 500_000_000, 999_999_999),
  wireLen: fc.integer({ min: 0, max: 70_000 }),
  capLen: fc.integer({ min: 0, max: 70_000 }),
  layers: fc.tuple(fc.constantFrom(...LINK_BITS), fc.subarray([Layer.VLAN, Layer.LLC, Layer.STP, Layer.IPV4, Layer.IPV6, Layer.TCP])).map(([link, rest]) => rest.reduce((a, b) => a | b, link)),
  truncated: fc.constantFrom(0, 0, 0, 1),
  etherType: fc.constantFrom(0, 0x0800, 0x0800, 0x0806, 0x86dd, 0xfe68),
  lengthField: fc.constantFrom(0, 0, 0, 38),
  ipProto: fc.constantFrom(6, 6, 17, 1, 253),
  readAfter: fc.boolean(),
});

/** Every frame handled the obvious way. */
function model(specs: FrameSpec[]) {
  let start: [number, number] | null = null;
  let end: [number, number] | null = null;
  let prev: [number, number] | null = null;
  let backwards = 0;
  const before = (a: [number, number], b: [number, number]): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const etherTypes: Record<string, number> = {};
  const ipProtocols: Record<string, number> = {};
  const out = { frames: specs.length, wireBytes: 0, capturedBytes: 0, llc: 0, vlan: 0, stp: 0, ipv4: 0, ipv6: 0, truncated: 0 };
  for (const s of specs) {
    if (s.linkType < 0) continue;
    out.wireBytes += s.wireLen;
    out.capturedBytes += s.capLen;
    if (s.hasTimestamp) {
      const t: [number, number] = [s.tsSec, s.tsNs];
      if (!start || before(t, start)) start = t;
      if (!end || before(end, t)) end = t;
      if (prev && before(t, prev)) backwards++;
      prev = t;
    }
    if (s.truncated) out.truncated++;
    if ((s.layers & (Layer.ETHERNET | Layer.SLL | Layer.RAW_IP)) !== 0) {
      if (s.lengthField !== 0 || ((s.layers & Layer.LLC) !== 0 && s.etherType === 0)) out.llc++;
      else if (s.etherType !== 0) etherTypes[formatEtherType(s.etherType)] = (etherTypes[formatEtherType(s.etherType)] ?? 0) + 1;
    }
    if ((s.layers & Layer.VLAN) !== 0) out.vlan++;
    if ((s.layers & Layer.STP) !== 0) out.stp++;
    if ((s.layers & Layer.IPV4) !== 0) {
      out.ipv4++;
      ipProtocols[ipProtoName(s.ipProto)] = (ipProtocols[ipProtoName(s.ipProto)] ?? 0) + 1;
    } else if ((s.layers & Layer.IPV6) !== 0) out.ipv6++;
  }
  if (out.llc > 0) etherTypes['802.3'] = out.llc;
  return { ...out, start, end, backwards, etherTypes, ipProtocols };
}

function observed(stats: CaptureStats, events: Float64Array) {
  return {
    frames: stats.frames,
    wireBytes: stats.wireBytes,
    capturedBytes: stats.capturedBytes,
    llc: stats.llcFrames,
    vlan: stats.vlanFrames,
    stp: stats.stpFrames,
    ipv4: stats.ipv4Frames,
    ipv6: stats.ipv6Frames,
    truncated: stats.truncatedFrames,
    start: stats.startSec === Infinity ? null : [stats.startSec, stats.startNs],
    end: stats.endSec === -Infinity ? null : [stats.endSec, stats.endNs],
    backwards: events[Ev.TS_BACKWARDS],
    etherTypes: stats.etherTypeCounts(),
    ipProtocols: stats.ipProtocolCounts(),
  };
}

describe('CaptureStats', () => {
  it('agrees with a frame-by-frame model on any sequence, read at any point', () => {
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 60 }), (specs) => {
        const events = newEventCounters();
        const stats = new CaptureStats(events);
        const f = new Frame(events);
        specs.forEach((s, i) => {
          Object.assign(f, { linkType: s.linkType, hasTimestamp: s.hasTimestamp, tsSec: s.tsSec, tsNs: s.tsNs, wireLen: s.wireLen, capLen: s.capLen });
          Object.assign(f, { layers: s.layers, truncated: s.truncated, etherType: s.etherType, lengthField: s.lengthField, ipProto: s.ipProto });
          stats.add(f);
          // Reading flushes the runs; counting must go on correctly after it.
          if (s.readAfter) expect(observed(stats, events)).toEqual(model(specs.slice(0, i + 1)));
        });
        expect(observed(stats, events)).toEqual(model(specs));
      }),
      { seed: 0x57a7, numRuns: 3000 },
    );
  });

  it('counts a time step back once per frame that goes back, against the frame before it', () => {
    const events = newEventCounters();
    const stats = new CaptureStats(events);
    const f = new Frame(events);
    const times: Array<[number, number]> = [
      [10, 5],
      [10, 7],
      [9, 0], // back (start moves)
      [9, 1], // forward from the previous frame, still before the end
      [10, 6], // forward from the previous, before the end (10.7)
      [10, 6], // equal: not back
      [10, 2], // back
      [11, 0], // new end
    ];
    for (const [sec, ns] of times) {
      Object.assign(f, { linkType: 1, hasTimestamp: 1, tsSec: sec, tsNs: ns, layers: Layer.ETHERNET, etherType: 0x0800 });
      stats.add(f);
    }
    expect(events[Ev.TS_BACKWARDS]).toBe(2);
    expect([stats.startSec, stats.startNs, stats.endSec, stats.endNs]).toEqual([9, 0, 11, 0]);
    expect(stats.etherTypeCount(0x0800)).toBe(times.length);
  });
});
