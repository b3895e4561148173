import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'arp.storm';
const ZERO = '00:00:00:00:00:00';
const scanner = { mac: '02:00:00:07:00:66', ip: '10.7.0.66' };
const hostA = { mac: '02:00:00:07:00:0a', ip: '10.7.0.10' };

/** An ARP sweep: `perSecond` requests a second for `seconds` seconds (from t = 10), plus background ARP. */
function sweep(perSecond: number, seconds: number): { b: CaptureBuilder; first: number[]; total: number } {
  const b = new CaptureBuilder();
  let total = 0;
  // Background: one exchange every 2 s.
  for (let t = 0; t < 10; t += 2) {
    b.at(t).arp({ op: 1, from: hostA, target: { mac: ZERO, ip: '10.7.0.1' } });
    b.at(t + 0.001).arp({ op: 2, from: { mac: '02:00:00:07:00:01', ip: '10.7.0.1' }, target: hostA });
  }
  const first: number[] = [];
  let n = 0;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < perSecond; i++) {
      const frame = b.at(10 + s + i / perSecond).arp({ op: 1, from: scanner, target: { mac: ZERO, ip: `10.7.${1 + (n >> 8)}.${n & 0xff}` } });
      n++;
      total++;
      if (first.length < 8) first.push(frame);
    }
    // A host answers now and then.
    b.at(10 + s + 0.9999).arp({ op: 2, from: hostA, target: scanner });
    total++;
  }
  b.at(30).arp({ op: 1, from: hostA, target: { mac: ZERO, ip: '10.7.0.1' } });
  return { b, first, total };
}

describe('arp.storm', () => {
  it('reports a sustained ARP sweep with peak rate, top sender and duration', async () => {
    const { b, first, total } = sweep(150, 6);
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f).toMatchObject({ subject: `ARP from ${scanner.mac}`, severity: 'medium', count: total, evidenceTotal: total });
    expect(total).toBe(906);
    expect(frames(f)).toEqual(first);
    expect(f.first).toBe('2023-11-14T22:13:30.000000000Z');
    expect(f.last).toBe('2023-11-14T22:13:35.999900000Z');
    expect(f.summary).toContain('906 ARP frames in 6 s at or above 100/s (average 151/s, peak 151/s');
    expect(f.summary).toContain('900 requests for 900 addresses, 6 replies; 2 senders');
    expect(f.details).toMatchObject({
      seconds: 6,
      frames: 906,
      peakPerSecond: 151,
      requests: 900,
      replies: 6,
      targetAddresses: 900,
      senders: 2,
      topSenders: [
        { mac: scanner.mac, frames: 900 },
        { mac: hostA.mac, frames: 6 },
      ],
    });
  });

  it('is silent for ordinary ARP and for a burst shorter than arp-storm-duration', async () => {
    const { b } = sweep(150, 4);
    expect(await findingsOf(b, ID)).toEqual([]);
    const quiet = new CaptureBuilder();
    for (let i = 0; i < 200; i++) quiet.at(i * 0.1).arp({ op: 1, from: hostA, target: { mac: ZERO, ip: `10.7.0.${i & 0xff}` } });
    expect(await findingsOf(quiet, ID)).toEqual([]);
  });

  it('takes rate and duration from the options', async () => {
    const { b } = sweep(150, 4);
    const [f] = await findingsOf(b, ID, { 'arp-storm-duration': 3 });
    expect(f).toMatchObject({ count: 604 });
    expect(await findingsOf(b, ID, { 'arp-storm-duration': 3, 'arp-storm-rate': 200 })).toEqual([]);
  });
});
