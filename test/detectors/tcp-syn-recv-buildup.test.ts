/**
 * tcp.syn_recv_buildup: half-open connections (SYN+ACK sent, final ACK awaited) per server
 * ip:port over time, with Linux's SYN_RECV life — SYN+ACK retransmissions after 1, 2, 4, 8, 16 s
 * (tcp_synack_retries, option `synack-retries`), the request dropped one doubling after the last
 * (incident 2, ../shared/seeds/001: "more than 5 or 6 connections in SYN_RECV sustained").
 *
 * The scenarios are written as the server's interface sees them (every remote frame from the
 * router's MAC). Half-open intervals: from a request's first SYN+ACK to the final ACK, the
 * client's RST, or the kernel's timeout; the expectations below are computed from those rules,
 * not read from the detector.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closeShardPool } from '../../src/flows/feeder.js';
import { SpillRows } from '../../src/detectors/spill-rows.js';
import { tcpSynRecvBuildup } from '../../src/detectors/tcp-syn-recv-buildup.js';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import type { Finding } from '../../src/report/types.js';
import { frames, reportOf } from './helpers.js';
import {
  ANSWER_DELAY,
  analyzeTimeline,
  clientAttempt,
  findingsOfTimeline,
  frameNumbers,
  iso,
  LINUX_SYNACKS,
  remote,
  SERVER,
  spoofedIp,
  synFlood,
  Timeline,
  TWO_RETRIES,
  type FloodOptions,
} from './flood-scenarios.js';

const ID = 'tcp.syn_recv_buildup';
const SUBJECT = '203.0.113.10:80';
/** The legitimate client (a real stack: SYN options, TTL 57, retransmits its SYN after 1, 2, 4 s). */
const CLIENT = remote('198.51.100.20');
/** A host on the server's LAN whose ARP request only marks the end of a capture. */
const NEIGHBOUR = { mac: '02:00:00:02:00:99', ip: '203.0.113.99' };
const SPACING = 1 / 32;

afterAll(async () => {
  await closeShardPool();
});

/** Half-open interval start of flood SYN i (flood starting at t=1, one SYN every 1/32 s). */
const answeredAt = (i: number): number => 1 + i * SPACING + ANSWER_DELAY;

function only(found: Finding[]): Finding {
  expect(found.map((f) => [f.id, f.subject])).toEqual([[ID, SUBJECT]]);
  return found[0]!;
}

/**
 * Incident 2 in small: a baseline session at t=0; from t=1, 48 spoofed SYNs (198.18.0.1-48, one
 * each, TTL 63, no options) at 32/s; the server's SYN queue holds 8: the first 8 get SYN+ACKs at
 * +0, +1, +3 s (two retransmissions: the kernel prunes them, as in the lab) and are dropped 4 s
 * after the last one (7 s in all, so [1.002 + i/32, 8.002 + i/32]); the other 40 are dropped.
 * The real client tries port 41001 at 2, 3, 5 s and gives up; then port 41002 at 4, 5, 7 s
 * (dropped: the queue is full) and 11 s, answered (the queue emptied at 8.2 s): 7.002 s late.
 */
function floodWithClients() {
  const tl = new Timeline();
  const baseline = clientAttempt(tl, { client: CLIENT, sport: 41000, synTimes: [0], answer: true });
  const flood = synFlood(tl, { count: 48, start: 1, spacing: SPACING, answered: 8, synAcks: TWO_RETRIES });
  const gaveUp = clientAttempt(tl, { client: CLIENT, sport: 41001, synTimes: [2, 3, 5] });
  const late = clientAttempt(tl, { client: CLIENT, sport: 41002, synTimes: [4, 5, 7, 11], answer: true });
  return { tl, baseline, flood, gaveUp, late };
}

/** `count` (8) spoofed SYNs from t=1 at 32/s, all answered with `synAcks` (Linux: 6 SYN+ACKs); an ARP at `end` ends the capture. */
function answeredFlood(end: number, o: Partial<FloodOptions> = {}) {
  const tl = new Timeline();
  const flood = synFlood(tl, { count: 8, start: 1, spacing: SPACING, answered: o.count ?? 8, synAcks: LINUX_SYNACKS, ...o });
  tl.arp(end, NEIGHBOUR, '203.0.113.1');
  return { tl, flood };
}

/** Seven real clients whose final ACK comes 0.5 s after the SYN+ACK (a long, slow path). */
function slowFinalAcks() {
  const tl = new Timeline();
  const synAcks = [];
  for (let i = 0; i < 7; i++) {
    const c = remote(`192.0.2.${50 + i}`);
    const s = tl.conversation(c, SERVER, { sport: 51000 + i, dport: 80, cIsn: 300 * i, sIsn: 9000 * i });
    s.at(i / 512).c('S', { synOpts: true });
    synAcks.push(s.at((i + 1) / 512).s('SA', { synOpts: true }));
    s.at((i + 1) / 512 + 0.5).c('A');
  }
  tl.arp(3, NEIGHBOUR, '203.0.113.1');
  return { tl, synAcks };
}

describe('tcp.syn_recv_buildup fires', () => {
  it('on a spoofed SYN flood that fills the SYN queue: peak, time above, retransmissions, sources, TTLs, delayed and lost clients', async () => {
    const { tl, flood, late } = floodWithClients();
    const f = only(await findingsOfTimeline(tl, ID));
    expect([f.severity, f.count]).toEqual(['high', 10]); // 8 spoofed requests + 2 handshakes of the client
    // Count > 6 from the 7th request's SYN+ACK until the 2nd request is dropped: 7 - 5/32 s.
    expect(f.summary).toMatch(
      /^half-open connections to 203\.0\.113\.10:80 peaked at 8 \(threshold 6\) and stayed above it 6\.84 s; 56 SYNs \(peak 32\/s\) from 49 source\(s\), 46 SYN\(s\) never answered, 16 SYN\+ACK retransmission\(s\)$/,
    );
    // The SYN count the queue dropped (46) has a test of its own below.
    const { unansweredSyns: _dropped, ...details } = f.details as Record<string, unknown>;
    expect(details).toEqual({
      server: SUBJECT,
      peakHalfOpen: 8,
      peakAt: iso(answeredAt(7)),
      threshold: 6,
      secondsAboveThreshold: 6.844,
      longestAboveSeconds: 6.844,
      halfOpenConnections: 10,
      completedHandshakes: 2,
      syns: 56, // 48 spoofed + 1 baseline + 3 + 4 of the client
      peakSynsPerSecond: 32,
      synAcks: 26, // 8 × 3 + 2
      synAckRetransmissions: 16,
      sources: 49,
      synOnlySources: 48,
      synTtls: { '57': 8, '63': 48 },
      synOnlySourceTtls: { '63': 48 }, // the real clients' TTL 57 is not the spoofer's
      delayedClients: 1,
      maxClientDelaySeconds: 7.002, // 11 + 1/512 - 4
      clientsGaveUp: 1,
      synCookiesLikely: false,
      proxmoxLimitedPerSource: 0,
      aggregateLimited: 0,
    });
    // Evidence: the first 4 half-open requests (their SYN+ACK), the first 4 dropped SYNs, the late client's first SYN.
    expect(frames(f)).toEqual([...flood.slice(0, 4).map((x) => x.synAcks[0]!.frame), ...frameNumbers(flood.slice(8, 12).map((x) => x.syn)), late.syns[0]!.frame]);
    expect(f.evidenceTotal).toBe(8 + 41 + 1);
    expect(f.evidence[0]).toMatchObject({
      time: iso(answeredAt(0)),
      what: 'SYN+ACK to 198.18.0.1:20000: half-open, sent 3 time(s), never answered',
      src: SUBJECT,
      dst: '198.18.0.1:20000',
      srcMac: SERVER.mac,
    });
    expect(f.evidence[4]).toMatchObject({ what: 'SYN never answered', src: '198.18.0.9:20008', dst: SUBJECT, srcMac: '02:00:00:02:00:01' });
    expect(f.evidence[8]).toMatchObject({ time: iso(4), what: 'first of 4 SYNs of a client that got through 7.00 s late', src: '198.51.100.20:41002', dst: SUBJECT });
    expect(f.explanation).toContain('48 of 49 sources never sent anything but SYNs');
    expect(f.explanation).toContain('1 client(s) got through only after retransmitting their SYN (up to 7.00 s late)');
    expect(f.explanation).toContain('1 client(s) retransmitted their SYN and never got an answer');
    expect(f.explanation).toContain('SYN cookies are off or not triggered');
    expect(f.explanation).toContain('(200/s, burst 1000) would have stopped 0 SYN(s)');
    for (const fix of ['net.ipv4.tcp_syncookies=1', 'net.ipv4.tcp_max_syn_backlog=', 'net.ipv4.tcp_synack_retries=', 'protection_synflood']) expect(f.remediation).toContain(fix);
  });

  // A SYN is unanswered when no answer came before the client's next SYN: the real client's SYNs at
  // 4, 5 and 7 s were dropped by the full queue too (its retransmission at 11 s got the SYN+ACK), as
  // Linux counts them (TcpExtTCPReqQFullDrop): 46 = 40 spoofed + 3 of port 41001 + 3 of port 41002.
  it('counts every SYN the full queue left unanswered, also those of a client that got through later', async () => {
    const { tl } = floodWithClients();
    const f = only(await findingsOfTimeline(tl, ID));
    expect((f.details as Record<string, unknown>)['unansweredSyns']).toBe(46);
    expect(f.summary).toBe(
      'half-open connections to 203.0.113.10:80 peaked at 8 (threshold 6) and stayed above it 6.84 s; 56 SYNs (peak 32/s) from 49 source(s), 46 SYN(s) never answered, 16 SYN+ACK retransmission(s)',
    );
  });

  it('counts SYN+ACK retransmissions after 1, 2, 4, 8 and 16 s, and keeps each request 63 s (tcp_synack_retries=5)', async () => {
    const { tl, flood } = answeredFlood(70);
    const f = only(await findingsOfTimeline(tl, ID));
    // Nothing was dropped and nobody waited: medium.
    expect([f.severity, f.count]).toEqual(['medium', 8]);
    // Count > 6 from the 7th request to the end of the 2nd one: [1.002 + i/32, +63 s].
    expect(f.summary).toBe(
      'half-open connections to 203.0.113.10:80 peaked at 8 (threshold 6) and stayed above it 62.8 s; 8 SYNs (peak 8/s) from 8 source(s), 0 SYN(s) never answered, 40 SYN+ACK retransmission(s)',
    );
    expect(f.details).toMatchObject({
      peakHalfOpen: 8,
      peakAt: iso(answeredAt(7)),
      secondsAboveThreshold: 62.844,
      longestAboveSeconds: 62.844,
      halfOpenConnections: 8,
      completedHandshakes: 0,
      synAcks: 48,
      synAckRetransmissions: 40,
      unansweredSyns: 0,
      sources: 8,
      synOnlySources: 8,
      synTtls: { '63': 8 },
      synOnlySourceTtls: { '63': 8 },
      synCookiesLikely: false,
      clientsGaveUp: 0,
      delayedClients: 0,
    });
    expect(frames(f)).toEqual(flood.slice(0, 4).map((x) => x.synAcks[0]!.frame));
    expect(f.evidence.map((e) => e.what)).toEqual([0, 1, 2, 3].map((i) => `SYN+ACK to ${spoofedIp(i)}:${20000 + i}: half-open, sent 6 time(s), never answered`));
    expect(f.evidenceTotal).toBe(8);
    expect(f.explanation).toContain('retransmits the SYN+ACK after 1, 2, 4, 8 and 16 s (tcp_synack_retries=5)');
    expect(f.explanation).toContain('their SYNs carry a single TTL (63): one sender behind the many addresses');
  });

  it('counts requests still pending when the capture stops until its end, not beyond', async () => {
    const { tl } = answeredFlood(40);
    const f = only(await findingsOfTimeline(tl, ID));
    expect(f.details).toMatchObject({ peakHalfOpen: 8, secondsAboveThreshold: 38.811, synAckRetransmissions: 40 }); // 40 - (1 + 6/32 + 1/512)
  });

  it('synack-retries: a server with tcp_synack_retries=2 drops each request 4 s after its 2nd retransmission, 7 s after the first SYN+ACK', async () => {
    const { tl } = answeredFlood(20, { synAcks: TWO_RETRIES });
    const f = only(await findingsOfTimeline(tl, ID, { 'synack-retries': 2 }));
    expect(f.summary).toBe(
      'half-open connections to 203.0.113.10:80 peaked at 8 (threshold 6) and stayed above it 6.84 s; 8 SYNs (peak 8/s) from 8 source(s), 0 SYN(s) never answered, 16 SYN+ACK retransmission(s)',
    );
    expect(f.details).toMatchObject({ peakHalfOpen: 8, secondsAboveThreshold: 6.844, synAcks: 24, synAckRetransmissions: 16 });
    expect(f.explanation).toContain('(tcp_synack_retries=2)');
    // With the default option the capture itself shows the server stopped retransmitting: the same life.
    const byDefault = only(await findingsOfTimeline(tl, ID));
    expect(byDefault.details).toMatchObject({ secondsAboveThreshold: 6.844 });
  });

  it('synack-retries: the doubling timeout stops at TCP_RTO_MAX (120 s), so with 8 retries a request dies 367 s after its first SYN+ACK', async () => {
    // reqsk_timer_handler: timeout min(1 s << n, 120 s). SYN+ACKs at 0, 1, 3, 7, 15, 31, 63, 127, 247 s
    // (the last two timeouts capped at 120 s), and the request dropped 120 s after the last, not 256.
    // Conntrack's SYN_RECV timeout (60 s) would end the flow between the late SYN+ACKs: raised here.
    const { tl } = answeredFlood(400, { synAcks: [0, 1, 3, 7, 15, 31, 63, 127, 247] });
    const f = only(await findingsOfTimeline(tl, ID, { 'synack-retries': 8, 'tcp-timeout-syn-recv': 600 }));
    // Above the threshold from the 7th request's start to the 2nd one's end: 367 - 5/32 s.
    expect(f.details).toMatchObject({ peakHalfOpen: 8, secondsAboveThreshold: 366.844, synAcks: 72, synAckRetransmissions: 64 });
  });

  it('counts a SYN sent long (here 14 days) before its SYN+ACK like any other (its second does not fit beside the period: it is kept on its own)', async () => {
    // Two requests whose SYNs went out at 0 and 0.5 s and were answered 1,200,000 s later, as a
    // capture with a clock jump can show; conntrack's timeouts are raised so each stays one flow.
    const LONG_SYN_SENT = { 'tcp-timeout-syn-sent': 2e6, 'tcp-timeout-unacknowledged': 2e6, 'tcp-timeout-max-retrans': 2e6 };
    const tl = new Timeline();
    for (let i = 0; i < 2; i++) {
      const src = remote(spoofedIp(i));
      const seq = 0x30000000 + i;
      tl.tcp(i * 0.5, src, SERVER, { sport: 30000 + i, dport: 80, flags: 'S', seq, window: 1024, ttl: 63 });
      tl.tcp(1_200_000 + i * 0.25, SERVER, src, { sport: 80, dport: 30000 + i, flags: 'SA', seq: 0x60000000 + i, ack: seq + 1, window: 64240 });
    }
    tl.arp(1_200_010, NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID, { 'syn-recv-threshold': 1, 'syn-recv-sustain': 0, ...LONG_SYN_SENT }));
    // Each request half-open for 1 s (no retransmission seen: dropped 1 s after its only SYN+ACK).
    expect(f.details).toMatchObject({ peakHalfOpen: 2, secondsAboveThreshold: 0.75, syns: 2, sources: 2, synTtls: { '63': 2 }, unansweredSyns: 0 });
    expect(f.first).toEqual(iso(0));
  });

  it('synack-retries tells timer retransmissions from answers to repeated SYNs: with 2 retries a request dies 7 s after its first SYN+ACK', async () => {
    // A flood tool that repeats each SYN (same ports and ISN) at +0.5, +1.5, +2.5 s. The server
    // (tcp_synack_retries=2) answers each repeat, and retransmits on its timer at +1 and +3 s: 6
    // SYN+ACKs per request, but only 2 timer retries, so the request is dropped 4 s after the one at
    // +3 s (7 s in all), as Linux counts only timer retransmissions against tcp_synack_retries.
    const tl = new Timeline();
    for (let i = 0; i < 8; i++) {
      const src = remote(spoofedIp(i));
      const t = 1 + i * SPACING;
      const seq = 0x20000000 + i;
      for (const dt of [0, 0.5, 1.5, 2.5]) tl.tcp(t + dt, src, SERVER, { sport: 20000 + i, dport: 80, flags: 'S', seq, window: 1024, ttl: 63 });
      for (const dt of [0, 0.5, 1, 1.5, 2.5, 3]) tl.tcp(t + ANSWER_DELAY + dt, SERVER, src, { sport: 80, dport: 20000 + i, flags: 'SA', seq: 0x50000000 + i, ack: seq + 1, window: 64240 });
    }
    tl.arp(20, NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID, { 'synack-retries': 2 }));
    expect(f.details).toMatchObject({ peakHalfOpen: 8, secondsAboveThreshold: 6.844, syns: 32, synAcks: 48, synAckRetransmissions: 40, unansweredSyns: 0 });
    expect(f.explanation).toContain('(tcp_synack_retries=2)');
    // With the default (5) the 6 SYN+ACKs read as 5 timer retries: the last timer is 32 s, past the end of the capture (20 s).
    const byDefault = only(await findingsOfTimeline(tl, ID));
    expect(byDefault.details).toMatchObject({ secondsAboveThreshold: 18.811 }); // 20 - (1 + 6/32 + 1/512)
  });

  it('hints at SYN cookies: every SYN answered once, nothing retransmitted, nothing dropped', async () => {
    const tl = new Timeline();
    // 64 spoofed SYNs in the first second, each answered by one SYN+ACK (a cookie: no state, no retransmission).
    const flood = synFlood(tl, { count: 64, start: 0, spacing: 1 / 64, answered: 64, synAcks: [0] });
    tl.arp(3, NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID));
    // Each answer is modelled as half-open until the retransmission that never came (1 s): count > 6 from the
    // 7th answer (6/64 s) until the 58th request ends (57/64 + 1 s).
    expect([f.severity, f.count]).toEqual(['medium', 64]);
    expect(f.summary).toBe(
      'half-open connections to 203.0.113.10:80 peaked at 64 (threshold 6) and stayed above it 1.80 s; 64 SYNs (peak 64/s) from 64 source(s), 0 SYN(s) never answered, 0 SYN+ACK retransmission(s)',
    );
    expect(f.details).toMatchObject({
      peakHalfOpen: 64,
      peakAt: iso(63 / 64 + ANSWER_DELAY),
      secondsAboveThreshold: 1.797,
      synAcks: 64,
      synAckRetransmissions: 0,
      unansweredSyns: 0,
      synCookiesLikely: true,
    });
    expect(frames(f)).toEqual(flood.slice(0, 4).map((x) => x.synAcks[0]!.frame));
    expect(f.explanation).toContain('the kernel may be answering with SYN cookies');
  });

  it('tells real clients (they send more than SYNs) from spoofed ones, and reports the spread of TTLs', async () => {
    // Eight real clients whose final ACK never comes: they reset after 2 s (a SYN+ACK retransmission in between).
    const tl = new Timeline();
    const synAcks = [];
    for (let i = 0; i < 8; i++) {
      const c = remote(`192.0.2.${100 + i}`);
      const t = 1 + i * SPACING;
      const s = tl.conversation(c, SERVER, { sport: 50000 + i, dport: 80, cIsn: 100 * i, sIsn: 7000 * i, cTtl: 50 + i });
      s.at(t).c('S', { synOpts: true });
      synAcks.push(s.at(t + ANSWER_DELAY).s('SA', { synOpts: true }));
      s.at(t + ANSWER_DELAY + 1).s('SA', { synOpts: true, seq: 7000 * i });
      s.at(t + ANSWER_DELAY + 2).c('R');
    }
    const f = only(await findingsOfTimeline(tl, ID));
    // Half-open from each first SYN+ACK to the client's RST 2 s later: count > 6 for 2 - 5/32 s.
    expect(f.details).toMatchObject({
      peakHalfOpen: 8,
      secondsAboveThreshold: 1.844,
      synAckRetransmissions: 8,
      sources: 8,
      synOnlySources: 0,
      synTtls: { '50': 1, '51': 1, '52': 1, '53': 1, '54': 1, '55': 1, '56': 1, '57': 1 },
      synOnlySourceTtls: {},
    });
    expect(frames(f)).toEqual(frameNumbers(synAcks.slice(0, 4)));
    expect(f.evidence[0]!.what).toMatch(/^SYN\+ACK to 192\.0\.2\.100:50000: half-open until the RST in frame \d+$/);
    expect(f.explanation).toContain('Every source also sent more than SYNs: the clients are real.');

    // The same traffic from sources that never send anything else (spoofed), each with its own TTL.
    const spread = answeredFlood(70, { ttl: (i) => 50 + i });
    const g = only(await findingsOfTimeline(spread.tl, ID));
    expect(g.details).toMatchObject({ sources: 8, synOnlySources: 8, synTtls: { '50': 1, '51': 1, '52': 1, '53': 1, '54': 1, '55': 1, '56': 1, '57': 1 } });
    expect(g.explanation).toContain('8 of 8 sources never sent anything but SYNs');
    expect(g.explanation).toContain('their SYNs carry 8 different TTL(s) (50, 51, 52, 53, 54, 55, 56, 57)');
  });

  it("compares the SYN rate with Proxmox's protection_synflood (200/s, burst 1000): a burst of 1300 SYNs from one source loses 300", async () => {
    const tl = new Timeline();
    // 1300 SYNs from one address within 1.3 ms (the bucket refills 0.26 SYN meanwhile); the server has room for 8.
    const flood = synFlood(tl, { count: 1300, start: 0.25, spacing: 1e-6, answered: 8, synAcks: TWO_RETRIES, source: () => '198.18.7.7', sport: (i) => 1024 + i });
    tl.arp(8, NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID));
    expect(flood.length).toBe(1300);
    expect(f.details).toMatchObject({ syns: 1300, peakSynsPerSecond: 1300, sources: 1, synOnlySources: 1, unansweredSyns: 1292, proxmoxLimitedPerSource: 300, aggregateLimited: 300 });
    expect(f.explanation).toContain("Proxmox's per-source SYN limit (200/s, burst 1000) would have stopped 300 SYN(s); a limit on the total rate would have stopped 300.");
  });

  // Proxmox's protection_synflood is a token bucket (iptables hashlimit) per source: with rate 10/s
  // and burst 50, 80 SYNs at once lose 30, the bucket is full again 10 s later (10 × 10 ≥ 50), and 60
  // SYNs at once lose 10: 40 in all (not 140 - 50 = 90, as a bucket without refill would say).
  it('refills the per-source bucket at the rate between bursts (synflood-rate / synflood-burst)', async () => {
    const tl = new Timeline();
    const burst = (start: number, n: number, first: number) =>
      synFlood(tl, { count: n, start, spacing: 1e-6, answered: first === 0 ? 8 : 0, synAcks: TWO_RETRIES, source: () => '198.18.7.7', sport: (i) => 1024 + first + i });
    burst(0.25, 80, 0);
    burst(10.25, 60, 80);
    tl.arp(12, NEIGHBOUR, '203.0.113.1');
    const f = only(await findingsOfTimeline(tl, ID, { 'synflood-rate': 10, 'synflood-burst': 50 }));
    expect(f.details).toMatchObject({ syns: 140, sources: 1, aggregateLimited: 40, proxmoxLimitedPerSource: 40 });
  });

  it('syn-recv-threshold: 5 half-open connections fire with a threshold of 4', async () => {
    const { tl } = answeredFlood(70, { count: 5, answered: 5 });
    const f = only(await findingsOfTimeline(tl, ID, { 'syn-recv-threshold': 4 }));
    // Count > 4 from the 5th request until the 1st one ends 63 s after it started: 63 - 4/32 s.
    expect(f.summary).toBe(
      'half-open connections to 203.0.113.10:80 peaked at 5 (threshold 4) and stayed above it 62.9 s; 5 SYNs (peak 5/s) from 5 source(s), 0 SYN(s) never answered, 25 SYN+ACK retransmission(s)',
    );
    expect(f.details).toMatchObject({ threshold: 4, peakHalfOpen: 5, secondsAboveThreshold: 62.875 });
  });

  it('syn-recv-sustain: 7 half-open connections for 0.49 s fire with a sustain of 0.25 s', async () => {
    const { tl } = slowFinalAcks();
    const f = only(await findingsOfTimeline(tl, ID, { 'syn-recv-sustain': 0.25 }));
    // Count 7 from the 7th SYN+ACK (7/512 s) until the 1st final ACK (1/512 + 0.5 s).
    expect([f.severity, f.count]).toEqual(['medium', 7]);
    expect(f.details).toMatchObject({ peakHalfOpen: 7, secondsAboveThreshold: 0.488, longestAboveSeconds: 0.488, completedHandshakes: 7, synOnlySources: 0 });
    expect(f.summary).toContain('stayed above it 488.3 ms');
  });

  // A buildup of handshakes that all completed late still points at frames: the SYN+ACKs of the
  // requests half-open at the peak (the first 4).
  it('gives evidence frames for a buildup of handshakes that completed late', async () => {
    const { tl, synAcks } = slowFinalAcks();
    const f = only(await findingsOfTimeline(tl, ID, { 'syn-recv-sustain': 0.25 }));
    expect(frames(f)).toEqual(frameNumbers(synAcks.slice(0, 4)));
  });

  // The rarer counts (clients that gave up, SYN+ACK retransmissions) live in a table that grows
  // by doubling from 256 rows: the count that adds the 257th row must land in the grown table.
  it('counts the client that gave up on each of 300 servers, also where that count grows the table of rarer counts', async () => {
    const tl = new Timeline();
    for (let i = 0; i < 300; i++) {
      const server = { mac: SERVER.mac, ip: `203.0.${113 + (i >> 8)}.${i & 0xff}` };
      const t = i * 0.05;
      // First (lowest first frame, so it ends first): a client whose two SYNs get no answer.
      clientAttempt(tl, { client: remote(`198.51.${100 + (i >> 8)}.${i & 0xff}`), sport: 40000, synTimes: [t, t + 0.001], server });
      // Then 7 requests answered once and never completed: half-open for 1 s each.
      for (let k = 0; k < 7; k++) {
        const s = tl.conversation(remote(`198.18.${i >> 8}.${i & 0xff}`), server, { sport: 50000 + k, dport: 80, cIsn: 7000 + k, sIsn: 8000 + k });
        s.at(t + 0.002 + k * 0.0001).c('S');
        s.at(t + 0.003 + k * 0.0001).s('SA');
      }
    }
    tl.arp(20, NEIGHBOUR, SERVER.ip); // the capture ends after the last requests are dropped
    const found = await findingsOfTimeline(tl, ID, { 'syn-recv-sustain': 0.5 });
    const got = new Set(found.map((f) => f.subject));
    expect(Array.from({ length: 300 }, (_, i) => `203.0.${113 + (i >> 8)}.${i & 0xff}:80`).filter((x) => !got.has(x))).toEqual([]);
    expect(found.filter((f) => (f.details as Record<string, unknown>)['clientsGaveUp'] !== 1).map((f) => f.subject)).toEqual([]);
  });

  it('gives the same findings with --threads 1 and --threads 2 (dist/ must be built)', async () => {
    const { tl } = floodWithClients();
    const one = await analyzeTimeline(tl, {}, 1);
    const two = await analyzeTimeline(tl, {}, 2);
    expect(one.findings.filter((f) => f.id === ID)).toHaveLength(1);
    expect(two.findings).toEqual(one.findings);
  });
});

describe('tcp.syn_recv_buildup stays silent', () => {
  it('for many normal handshakes', async () => {
    const tl = new Timeline();
    for (let i = 0; i < 40; i++) clientAttempt(tl, { client: remote(`198.51.100.${i + 1}`), sport: 40000 + i, synTimes: [i / 16], answer: true });
    const r = await analyzeTimeline(tl);
    expect(r.flows.connStates).toEqual({ SF: 40 });
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  it('for a slow but legitimate server: each SYN retransmitted once, then answered and completed', async () => {
    const tl = new Timeline();
    for (let i = 0; i < 10; i++) clientAttempt(tl, { client: remote(`198.51.100.${i + 1}`), sport: 40000 + i, synTimes: [i / 8, i / 8 + 1], answer: true });
    const r = await analyzeTimeline(tl);
    expect(r.flows.connStates).toEqual({ SF: 10 });
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  it('for a burst of 5 half-open connections (under the threshold of 6), though each lives 63 s', async () => {
    const { tl } = answeredFlood(70, { count: 5, answered: 5 });
    expect(await findingsOfTimeline(tl, ID)).toEqual([]);
  });

  it('for 7 half-open connections lasting 0.49 s (under syn-recv-sustain 1 s)', async () => {
    const { tl } = slowFinalAcks();
    expect(await findingsOfTimeline(tl, ID)).toEqual([]);
  });

  it('for SYNs a server never answers at all (nothing half-open: a dead or filtered server)', async () => {
    const tl = new Timeline();
    synFlood(tl, { count: 50, start: 0, spacing: 1 / 64, answered: 0, synAcks: [] });
    clientAttempt(tl, { client: CLIENT, sport: 41001, synTimes: [0.5, 1.5, 3.5] });
    expect(await findingsOfTimeline(tl, ID)).toEqual([]);
  });
});

describe('tcp.syn_recv_buildup on captures/syn-flood.pcap (lab/GROUND_TRUTH.md §4)', () => {
  const file = fileURLToPath(new URL('../../captures/syn-flood.pcap', import.meta.url));

  it('finds the half-open peak of 17, the 76 SYN+ACK retransmissions, 1500 spoofed sources with one TTL and the late client', async () => {
    const r = await reportOf(file);
    const f = only(r.findings.filter((x) => x.id === ID));
    expect([f.severity, f.count]).toEqual(['high', 28]); // 26 answered spoofed requests + the client's 2 handshakes
    expect(f.details).toMatchObject({
      server: SUBJECT,
      peakHalfOpen: 17, // backlog 16 + 1
      // The 7th half-open request (SYN+ACK frame 24, 1.438452 s) until the last frame (32.903846 s).
      secondsAboveThreshold: 31.465,
      halfOpenConnections: 28,
      completedHandshakes: 2,
      syns: 1515, // 1500 spoofed + 15 of the client
      synAcks: 104, // 102 to spoofed sources + 2 to the client
      synAckRetransmissions: 76,
      sources: 1501,
      synOnlySources: 1500,
      synTtls: { '63': 1515 },
      synOnlySourceTtls: { '63': 1500 },
      delayedClients: 1,
      maxClientDelaySeconds: 1.012, // SYN 1609 at 15.379549, SYN+ACK 1611 at 16.391375
      clientsGaveUp: 3, // ports 41002, 41003, 41004
      synCookiesLikely: false,
      proxmoxLimitedPerSource: 0,
      aggregateLimited: 0,
    });
    // The first 4 half-open requests' first SYN+ACKs, the first dropped SYNs (frame 45 on), the late client's first SYN.
    expect(frames(f)).toEqual([12, 14, 16, 18, 45, 46, 47, 48, 1609]);
  });

  // GROUND_TRUTH counts 1474 spoofed SYNs and 13 of the client's 15 SYNs dropped
  // (TcpExtTCPReqQFullDrop = 1487), including frame 1609, the first SYN of port 41005 whose
  // retransmission was answered.
  it('counts the 1487 SYNs the full queue dropped', async () => {
    const f = only((await reportOf(file)).findings.filter((x) => x.id === ID));
    expect((f.details as Record<string, unknown>)['unansweredSyns']).toBe(1487);
  });

  // peakAt is the exact time of the SYN+ACK that made the peak, as the capture has it (a µs pcap).
  it('gives the time of the peak exactly as the capture has it (frame 44)', async () => {
    const f = only((await reportOf(file)).findings.filter((x) => x.id === ID));
    expect((f.details as Record<string, unknown>)['peakAt']).toBe('2026-11-21T14:36:45.436834000Z');
  });
});

// Each shard writes the rows of answered handshakes and of SYNs to a temporary file, a chunk at a
// time (PCAPSCAN_SPILL_BYTES, 1 MiB by default), and the reduce reads them back a few servers at a
// time. With chunks of 64 bytes (two half-open periods, four SYN rows) nearly every row goes through
// the file and the servers come back in six batches; the report must be the one made in memory.
describe('tcp.syn_recv_buildup with its rows on disk', () => {
  /** 12 servers, each with 4 overlapping handshakes completed 0.5 s late and one client whose 3 SYNs go unanswered. */
  function manyServers(): string {
    const b = new CaptureBuilder();
    for (let s = 0; s < 12; s++) {
      const server = { mac: '02:00:00:00:01:00', ip: `10.1.0.${s + 1}` };
      for (let k = 0; k < 4; k++) {
        const client = { mac: '02:00:00:00:02:00', ip: `10.2.${s}.${k + 1}` };
        const t = s * 2 + k * 0.01;
        b.at(t).tcp(client, server, { sport: 40000 + k, dport: 80, flags: 'S', seq: 100 });
        b.at(t + 0.001).tcp(server, client, { sport: 80, dport: 40000 + k, flags: 'SA', seq: 500, ack: 101 });
        b.at(t + 0.5).tcp(client, server, { sport: 40000 + k, dport: 80, flags: 'A', seq: 101, ack: 501 });
      }
      const lost = { mac: '02:00:00:00:02:00', ip: `10.3.${s}.1` };
      for (const dt of [0, 1, 3]) b.at(s * 2 + 0.1 + dt * 0.1).tcp(lost, server, { sport: 41000, dport: 80, flags: 'S', seq: 900 });
    }
    return b.writeTemp('servers.pcap');
  }

  const cli = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
  function runWith(file: string, spillBytes: string, threads: string, env: Record<string, string> = {}): { findings: Finding[]; stderr: string } {
    const r = spawnSync(process.execPath, [cli, '--json', '--threads', threads, '--syn-recv-threshold', '1', '--syn-recv-sustain', '0', file], {
      env: { ...process.env, PCAPSCAN_SPILL_BYTES: spillBytes, ...env },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    return { findings: (JSON.parse(r.stdout) as { captures: Array<{ findings: Finding[] }> }).captures[0]!.findings.filter((f) => f.id === ID), stderr: r.stderr };
  }
  const findingsWith = (file: string, spillBytes: string, threads: string): Finding[] => runWith(file, spillBytes, threads).findings;

  it('reports the same as in memory for 12 servers read back in 6 batches, with --threads 1 and 2 (dist/ must be built)', () => {
    const file = manyServers();
    const inMemory = findingsWith(file, '0', '1');
    expect(inMemory.map((f) => [f.subject, (f.details as Record<string, unknown>)['peakHalfOpen'], (f.details as Record<string, unknown>)['unansweredSyns']])).toEqual(
      Array.from({ length: 12 }, (_, s) => [`10.1.0.${s + 1}:80`, 4, 3]),
    );
    expect(findingsWith(file, '64', '1')).toEqual(inMemory);
    expect(findingsWith(file, '64', '2')).toEqual(inMemory);
  });

  // The registry calls release for every flow detector once the findings are made or failed (a
  // reduce that throws), so a shard's files do not stay open until the process ends.
  it('release closes the files of partials the reduce never saw', () => {
    const parts = [0, 1].map(() => {
      const rows = new SpillRows(4, 16);
      for (let i = 0; i < 10; i++) rows.append();
      return rows.part();
    });
    // Chunks of one row: 9 rows written, the 10th still in memory.
    expect(parts.map((p) => fs.fstatSync(p.fd).size)).toEqual([144, 144]);
    const fds = parts.map((p) => p.fd);
    tcpSynRecvBuildup.release!([{ intervals: parts[0], syns: parts[1] }]);
    expect(parts.map((p) => p.fd)).toEqual([-1, -1]);
    for (const fd of fds) expect(() => fs.fstatSync(fd)).toThrow(/EBADF/);
  });

  // Proof that those runs did write rows out: where no file can be made, the detector says so.
  it('keeps the rows in memory, with the same report and a PCAPSCAN_SPILL warning, where the temporary directory does not exist', () => {
    const file = manyServers();
    const inMemory = findingsWith(file, '0', '1');
    for (const threads of ['1', '2']) {
      const r = runWith(file, '64', threads, { TMPDIR: path.join(path.dirname(file), 'no-such-directory') });
      expect(r.findings).toEqual(inMemory);
      expect(r.stderr).toMatch(/\[PCAPSCAN_SPILL\] Warning: tcp\.syn_recv_buildup: could not write detector rows to a temporary file in .*no-such-directory: ENOENT.*; its rows stayed in memory/);
    }
    expect(runWith(file, '64', '2').stderr).toBe('');
  });

  it('reports the same as in memory for one flooded server whose 1,500 SYN rows come back in one batch (captures/syn-flood.pcap)', () => {
    const file = fileURLToPath(new URL('../../captures/syn-flood.pcap', import.meta.url));
    const inMemory = findingsWith(file, '0', '1');
    expect(inMemory.map((f) => (f.details as Record<string, unknown>)['syns'])).toEqual([1515]);
    expect(findingsWith(file, '64', '1')).toEqual(inMemory);
    expect(findingsWith(file, '64', '2')).toEqual(inMemory);
  });
});
