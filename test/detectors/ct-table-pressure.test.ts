/**
 * ct.table_pressure: the conntrack entries the capture's traffic would hold over capture time
 * (each entry lives by the tracker's conntrack timeouts), against `ct-max` (nf_conntrack_max):
 * the peak, the time at or above `ct-pressure` (80 %), and when the table would have been full
 * (incident 2: "nf_conntrack: table full, dropping packet"). The detector counts per second of
 * capture time (README, Known limits): the entries alive at the end of each second, the capture's
 * last second counted whole. The SYN-flood scenario puts its bursts at whole seconds and ends just
 * before one, so that the per-second answer is also the exact one.
 *
 * A small ct-max (50) lets a capture of a few hundred frames fill the table.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeShardPool } from '../../src/flows/feeder.js';
import type { Finding } from '../../src/report/types.js';
import { frames } from './helpers.js';
import { analyzeTimeline, findingsOfTimeline, isoSecond, remote, SERVER, spoofedIp, synFlood, Timeline, type FrameRef } from './flood-scenarios.js';

const ID = 'ct.table_pressure';
const NEIGHBOUR = { mac: '02:00:00:02:00:99', ip: '203.0.113.99' };
/** The last frame of each scenario: an ARP request (no conntrack entry) 1/512 s before a whole second. */
const endAt = (sec: number): number => sec - 1 / 512;

afterAll(async () => {
  await closeShardPool();
});

function only(found: Finding[], subject: string): Finding {
  expect(found.map((f) => [f.id, f.subject])).toEqual([[ID, subject]]);
  return found[0]!;
}

/**
 * A SYN flood through a stateful firewall: a burst of 10 spoofed SYNs at each whole second
 * 0..9, never answered (each entry SYN_SENT, 120 s); the capture ends at 9.998 s. Live entries:
 * 10, 20, ... 100; 40 (80 % of 50) from t=3, 50 (full) from t=4.
 */
function synBursts() {
  const tl = new Timeline();
  const syns: FrameRef[] = [];
  for (let k = 0; k < 10; k++) {
    const burst = synFlood(tl, { count: 10, start: k, spacing: 0, answered: 0, synAcks: [], source: (i) => spoofedIp(10 * k + i) });
    syns.push(...burst.map((x) => x.syn));
  }
  tl.arp(endAt(10), NEIGHBOUR, '203.0.113.1');
  return { tl, syns };
}

describe('ct.table_pressure fires', () => {
  it('when a SYN flood fills nf_conntrack_max: the peak, the time above 80 %, when the table was full', async () => {
    const { tl } = synBursts();
    const f = only(await findingsOfTimeline(tl, ID, { 'ct-max': 50 }), 'nf_conntrack_max 50');
    expect([f.severity, f.count]).toEqual(['high', 100]);
    expect(f.summary).toBe(`up to 100 conntrack entries (200% of nf_conntrack_max 50) at ${isoSecond(9)}; above 80% for 7.00 s; full from ${isoSecond(4)} for 6.00 s`);
    expect(f.details).toEqual({
      ctMax: 50,
      peakEntries: 100,
      peakAt: isoSecond(9),
      peakPercent: 200,
      unassuredAtPeak: 100, // never answered: all could be early-dropped
      secondsAbovePressure: 7, // [3, 10)
      fullAt: isoSecond(4),
      secondsFull: 6, // [4, 10)
      captureSeconds: 10 - 1 / 512,
    });
    expect([f.first, f.last]).toEqual([isoSecond(3), isoSecond(9)]);
    expect(f.explanation).toContain('the table would have held 100 entries at its peak, 100 of them not ASSURED');
    expect(f.explanation).toContain('nf_conntrack: table full, dropping packet');
    expect(f.remediation).toContain('sysctl -w net.netfilter.nf_conntrack_max=256'); // the next power of 2 above twice the peak
    expect(f.remediation).toContain('echo 64 > /sys/module/nf_conntrack/parameters/hashsize');
    expect(f.remediation).toContain('nf_conntrack_tcp_timeout_syn_sent=30');
    expect(f.remediation).toContain('NOTRACK');
  });

  // The evidence points at the first packet conntrack would have dropped ("table full, dropping
  // packet"): the 51st new entry, the first SYN of the burst at t=5.
  it('points at the first packet that would have been dropped for want of an entry', async () => {
    const { tl, syns } = synBursts();
    const f = only(await findingsOfTimeline(tl, ID, { 'ct-max': 50 }), 'nf_conntrack_max 50');
    expect(frames(f)).toContain(syns[50]!.frame);
    expect(f.evidence.find((e) => e.frame === syns[50]!.frame)!.what).toContain('would have been dropped');
  });

  it("replays the tracker's timeouts: unanswered UDP entries die after 30 s", async () => {
    // 45 one-way UDP flows (DNS queries to dead resolvers) in the first second.
    const tl = new Timeline();
    for (let i = 0; i < 45; i++) tl.udp(i / 512, remote(`198.51.100.${i + 1}`), SERVER, { sport: 33000 + i, dport: 53, len: 30 });
    tl.arp(endAt(40), NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID, { 'ct-max': 50 }), 'nf_conntrack_max 50');
    // 90 % of the table from second 0 until they expire in second 30 (counted per second); never full: medium.
    expect([f.severity, f.count]).toEqual(['medium', 45]);
    expect(f.summary).toBe(`up to 45 conntrack entries (90% of nf_conntrack_max 50) at ${isoSecond(0)}; above 80% for 30.0 s`);
    expect(f.details).toEqual({
      ctMax: 50,
      peakEntries: 45,
      peakAt: isoSecond(0),
      peakPercent: 90,
      unassuredAtPeak: 45,
      secondsAbovePressure: 30,
      fullAt: null,
      secondsFull: 0,
      captureSeconds: 40 - 1 / 512,
    });
  });

  /** 45 complete handshakes in the first second, each closed by `close` half a second later. */
  function closedConnections(close: 'rst' | 'fin', end: number) {
    const tl = new Timeline();
    for (let i = 0; i < 45; i++) {
      const t = i / 512;
      const s = tl.conversation(remote(`198.51.100.${i + 1}`), SERVER, { sport: 40000 + i, dport: 443, cIsn: 1000 * i, sIsn: 50000 + i });
      s.at(t).c('S', { synOpts: true });
      s.at(t + 1 / 1024).s('SA', { synOpts: true });
      s.at(t + 2 / 1024).c('A');
      if (close === 'rst') {
        s.at(t + 0.5).c('RA');
      } else {
        s.at(t + 0.5).c('FA');
        s.at(t + 0.5 + 1 / 1024).s('FA');
        s.at(t + 0.5 + 2 / 1024).c('A');
      }
    }
    tl.arp(endAt(end), NEIGHBOUR, '203.0.113.1');
    return tl;
  }

  it('replays TCP close timeouts: CLOSE (RST) 10 s, TIME_WAIT (FIN) 120 s; handshaked entries are ASSURED', async () => {
    // Created in second 0, closed half a second later: CLOSE entries are gone in second 10.
    const reset = only(await findingsOfTimeline(closedConnections('rst', 40), ID, { 'ct-max': 50 }), 'nf_conntrack_max 50');
    expect(reset.details).toMatchObject({ peakEntries: 45, peakAt: isoSecond(0), unassuredAtPeak: 0, secondsAbovePressure: 10, fullAt: null });
    expect(reset.explanation).toContain('45 entries at its peak, 0 of them not ASSURED');
    const finished = only(await findingsOfTimeline(closedConnections('fin', 40), ID, { 'ct-max': 50 }), 'nf_conntrack_max 50');
    // TIME_WAIT outlives the capture: counted until its end.
    expect(finished.details).toMatchObject({ peakEntries: 45, unassuredAtPeak: 0, secondsAbovePressure: 40, fullAt: null });
  });

  it('ct-pressure: 90 % of the table is pressure from 85 %', async () => {
    const tl = new Timeline();
    for (let i = 0; i < 45; i++) tl.udp(i / 512, remote(`198.51.100.${i + 1}`), SERVER, { sport: 33000 + i, dport: 53, len: 30 });
    tl.arp(endAt(40), NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID, { 'ct-max': 50, 'ct-pressure': 85 }), 'nf_conntrack_max 50');
    expect(f.summary).toBe(`up to 45 conntrack entries (90% of nf_conntrack_max 50) at ${isoSecond(0)}; above 85% for 30.0 s`);
    expect(await findingsOfTimeline(tl, ID, { 'ct-max': 50, 'ct-pressure': 95 })).toEqual([]);
  });

  it('gives the same finding with --threads 1 and --threads 2 (dist/ must be built)', async () => {
    const { tl } = synBursts();
    const one = await analyzeTimeline(tl, { 'ct-max': 50 }, 1);
    const two = await analyzeTimeline(tl, { 'ct-max': 50 }, 2);
    expect(one.findings.filter((f) => f.id === ID)).toHaveLength(1);
    expect(two.findings.filter((f) => f.id === ID)).toEqual(one.findings.filter((f) => f.id === ID));
    expect(two.flows).toEqual(one.flows);
  });
});

describe('ct.table_pressure stays silent', () => {
  it('with the default nf_conntrack_max (262144) for the same flood', async () => {
    const { tl } = synBursts();
    const r = await analyzeTimeline(tl);
    expect(r.flows.conntrackEntries).toBe(100);
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  it('below 80 %: 100 entries in a table of 126 (79.4 %)', async () => {
    const { tl } = synBursts();
    expect(await findingsOfTimeline(tl, ID, { 'ct-max': 126 })).toEqual([]);
  });

  it('when shorter timeouts keep the table small: SYN_SENT 3 s holds at most 30 entries of 50', async () => {
    const { tl } = synBursts();
    expect(await findingsOfTimeline(tl, ID, { 'ct-max': 50, 'tcp-timeout-syn-sent': 3 })).toEqual([]);
  });

  it('when entries expire before the count reaches 80 %: 20 UDP flows every 40 s', async () => {
    const tl = new Timeline();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) tl.udp(round * 40 + i / 512, remote(`198.51.100.${i + 1}`), SERVER, { sport: 33000 + i, dport: 53, len: 30 });
    }
    tl.arp(endAt(120), NEIGHBOUR, '203.0.113.1');
    const r = await analyzeTimeline(tl, { 'ct-max': 50 });
    expect(r.flows.conntrackEntries).toBe(60);
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });
});
