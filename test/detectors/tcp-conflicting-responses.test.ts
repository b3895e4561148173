/**
 * tcp.conflicting_responses: one SYN (one ISN) answered from the server side by both a SYN+ACK
 * and a RST or an ICMP unreachable, each acknowledging that SYN (incident 1). Scenarios where it
 * must fire, with exact subjects, severities, counts, evidence frames and details; and scenarios
 * close to them where it must stay silent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeShardPool } from '../../src/flows/feeder.js';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { concat, ipv4, tcp } from '../helpers/packets.js';
import { analyzeBuilt, byId, client, doubleAnswer, firewall, iso, normalSession, router, server, server2, type DoubleAnswer, type Session } from './handshakes.js';
import { findingsOf, frames, reportOf } from './helpers.js';

const ID = 'tcp.conflicting_responses';

afterAll(async () => {
  await closeShardPool();
});

/** Evidence frames of one refused-first hit: SYN, refusal, SYN+ACK, client RST. */
const hitFrames = (d: DoubleAnswer): number[] => [d.syn, d.refusal, d.synAck, ...(d.clientRst !== null ? [d.clientRst] : [])];

/**
 * Incident 1 as the lab recorded it (captures/bridge-flood-reject-samemac.pcapng): six attempts to
 * 192.0.2.20:22, the 1st, 3rd and 5th flooded and refused by a RST forged with the server's own MAC
 * (Linux REJECT fingerprint) 60 µs before the server's SYN+ACK; the others normal sessions.
 */
function incident(): { b: CaptureBuilder; hits: DoubleAnswer[]; normal: Session[] } {
  const b = new CaptureBuilder();
  const hits: DoubleAnswer[] = [];
  const normal: Session[] = [];
  hits.push(doubleAnswer(b, 0, { sport: 40001, isn: 1324994492, first: 'refusal' }));
  normal.push(normalSession(b, 2.7, { sport: 40002, isn: 2000 }));
  hits.push(doubleAnswer(b, 5.3, { sport: 40003, isn: 67107237, first: 'refusal' }));
  normal.push(normalSession(b, 7.9, { sport: 40004, isn: 3000 }));
  hits.push(doubleAnswer(b, 20.5, { sport: 40005, isn: 3845809626, first: 'refusal' }));
  normal.push(normalSession(b, 23.5, { sport: 40006, isn: 4000 }));
  return { b, hits, normal };
}

/** The `details.hits[]` entry of a refused-first hit built by doubleAnswer with the default RST. */
function rstFirstHit(d: DoubleAnswer, o: { refusalMac?: string; synAckMac?: string } = {}) {
  return {
    synFrame: d.syn,
    refusal: 'RST',
    refusalFrame: d.refusal,
    refusalMac: o.refusalMac ?? server.mac,
    refusalFrom: server.ip,
    synAckFrame: d.synAck,
    synAckMac: o.synAckMac ?? server.mac,
    first: 'RST',
    gapMs: 0.06,
    rstWindow: 0,
    rstOptions: false,
    rstIpId: 0,
    refusalTtl: 64,
    synAckTtl: 64,
    synAcks: 2,
    clientRstFrame: d.clientRst,
  };
}

describe('tcp.conflicting_responses fires', () => {
  it('incident 1: RST forged with the server\'s own MAC wins the race 3 times out of 6 (high)', async () => {
    const { b, hits } = incident();
    // The layout of the lab capture: the same frame numbers as captures/GROUND_TRUTH.md.
    expect(hits.map(hitFrames)).toEqual([
      [1, 2, 3, 5],
      [14, 15, 16, 18],
      [27, 28, 29, 31],
    ]);
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f.subject).toBe('192.0.2.20:22');
    expect(f.severity).toBe('high');
    expect(f.count).toBe(3);
    expect(f.summary).toBe(
      '3 of 6 handshake(s) to 192.0.2.20:22 answered by both a RST and a SYN+ACK; the RST came first 3 time(s) (client saw "connection refused"); answers from the same MAC',
    );
    expect(frames(f)).toEqual([1, 2, 3, 5, 14, 15, 16, 18, 27, 28, 29, 31]);
    expect(f.evidenceTotal).toBe(12);
    expect(f.first).toBe(iso(0));
    expect(f.last).toBe(iso(20.5));
    expect(f.evidence.slice(0, 4)).toEqual([
      { frame: 1, time: iso(0), what: 'SYN', srcMac: client.mac, src: '192.0.2.10:40001', dst: '192.0.2.20:22' },
      { frame: 2, time: iso(0.00004), what: 'RST answering the SYN (window 0, no TCP options, IP id 0, TTL 64)', srcMac: server.mac, src: '192.0.2.20', dst: '192.0.2.10' },
      { frame: 3, time: iso(0.0001), what: 'SYN+ACK answering the same SYN (TTL 64)', srcMac: server.mac, src: '192.0.2.20:22', dst: '192.0.2.10:40001' },
      { frame: 5, time: iso(1.0002), what: 'client RST to the SYN+ACK: it had already given up on the connection', srcMac: client.mac, src: '192.0.2.10:40001', dst: '192.0.2.20:22' },
    ]);
    expect(f.details).toEqual({
      server: '192.0.2.20:22',
      handshakesHit: 3,
      handshakesNormal: 3,
      refusedFirst: 3,
      synAckFirst: 0,
      macsDiffer: 0,
      rejectFingerprint: 3,
      maxGapMs: 0.06,
      hits: hits.map((h) => rstFirstHit(h)),
    });
    // Same MAC is not innocent: the explanation says why, and names the REJECT fingerprint.
    expect(f.explanation).toContain('The two answers come from the same MAC (02:00:00:01:00:20). That is not innocent');
    expect(f.explanation).toContain('forges its RST with the original destination\'s MAC');
    expect(f.explanation).toContain('Every RST has the fingerprint of a firewall REJECT (window 0, no TCP options, IP id 0)');
    expect(f.explanation).toContain('the client sees "connection refused"');
    expect(f.explanation).not.toContain('Here the SYN+ACK always won');
    // The four fixes of the issue.
    expect(f.remediation).toContain('Use a DROP policy instead of REJECT');
    expect(f.remediation).toContain('ip link set dev br0 type bridge ageing_time 360000');
    expect(f.remediation).toContain('base_reachable_time_ms');
    expect(f.remediation).toContain('layer-3 access (routed, not bridged)');
    expect(f.remediation).toContain('ebtables -A FORWARD -o <vm-port> -d <vm-mac> -j ACCEPT');
  });

  it('RST from a different MAC (another box on the bridge) is reported as such', async () => {
    const b = new CaptureBuilder();
    const hit = doubleAnswer(b, 0, { sport: 40001, isn: 1920842103, first: 'refusal', refusal: { from: firewall } });
    const ok = normalSession(b, 2.7, { sport: 40002, isn: 5000 });
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect([f.subject, f.severity, f.count]).toEqual(['192.0.2.20:22', 'high', 1]);
    expect(frames(f)).toEqual(hitFrames(hit));
    expect(frames(f)).not.toContain(ok.syn);
    expect(f.summary).toBe(
      '1 of 2 handshake(s) to 192.0.2.20:22 answered by both a RST and a SYN+ACK; the RST came first 1 time(s) (client saw "connection refused"); answers from different MACs',
    );
    expect(f.evidence[1]).toMatchObject({ frame: hit.refusal, srcMac: firewall.mac, src: server.ip });
    expect(f.evidence[2]).toMatchObject({ frame: hit.synAck, srcMac: server.mac });
    expect(f.details).toMatchObject({ handshakesHit: 1, handshakesNormal: 1, refusedFirst: 1, synAckFirst: 0, macsDiffer: 1, rejectFingerprint: 1 });
    expect((f.details as { hits: unknown[] }).hits).toEqual([rstFirstHit(hit, { refusalMac: firewall.mac })]);
    expect(f.explanation).toContain(`The two answers come from different MACs (e.g. RST from ${firewall.mac}, SYN+ACK from ${server.mac}): another box on the segment received the SYN and refused it.`);
    expect(f.explanation).not.toContain('not innocent');
  });

  it('SYN+ACK first, then the forged RST: medium, the client connected', async () => {
    const b = new CaptureBuilder();
    const hit = doubleAnswer(b, 0, { sport: 40001, isn: 7000, first: 'synack' });
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect([f.subject, f.severity, f.count]).toEqual(['192.0.2.20:22', 'medium', 1]);
    // SYN, SYN+ACK (frame 2), RST (frame 4); the client's ACK (frame 3) is no evidence, and there is no client RST.
    expect(hit).toMatchObject({ syn: 1, synAck: 2, clientAck: 3, refusal: 4 });
    expect(frames(f)).toEqual([1, 2, 4]);
    expect(f.summary).toBe('1 of 1 handshake(s) to 192.0.2.20:22 answered by both a RST and a SYN+ACK; the SYN+ACK always came first; answers from the same MAC');
    expect(f.details).toMatchObject({ handshakesHit: 1, handshakesNormal: 0, refusedFirst: 0, synAckFirst: 1, macsDiffer: 0, rejectFingerprint: 1, maxGapMs: 0.06 });
    expect((f.details as { hits: unknown[] }).hits).toEqual([
      { ...rstFirstHit(hit), first: 'SYN+ACK', synAcks: 1, clientRstFrame: null },
    ]);
    expect(f.explanation).toContain('Here the SYN+ACK always won, so clients got through');
  });

  it('one refused and one lucky handshake on the same server: high, counted apart', async () => {
    const b = new CaptureBuilder();
    const refused = doubleAnswer(b, 0, { sport: 40001, isn: 7000, first: 'refusal' });
    const lucky = doubleAnswer(b, 30, { sport: 40002, isn: 8000, first: 'synack' });
    const [f, ...rest] = await findingsOf(b, ID);
    expect(rest).toEqual([]);
    expect([f!.subject, f!.severity, f!.count]).toEqual(['192.0.2.20:22', 'high', 2]);
    expect(frames(f!)).toEqual([...hitFrames(refused), lucky.syn, lucky.synAck, lucky.refusal]);
    expect(f!.summary).toBe(
      '2 of 2 handshake(s) to 192.0.2.20:22 answered by both a RST and a SYN+ACK; the RST came first 1 time(s) (client saw "connection refused"); answers from the same MAC',
    );
    expect(f!.details).toMatchObject({ handshakesHit: 2, handshakesNormal: 0, refusedFirst: 1, synAckFirst: 1 });
    expect((f!.details as { hits: Array<{ first: string }> }).hits.map((h) => h.first)).toEqual(['RST', 'SYN+ACK']);
    expect(f!.first).toBe(iso(0));
    expect(f!.last).toBe(iso(30));
  });

  it('ICMP port unreachable as the refusal, from the firewall\'s MAC', async () => {
    const b = new CaptureBuilder();
    const hit = doubleAnswer(b, 0, { sport: 40001, isn: 9000, first: 'refusal', refusal: { kind: 'icmp', code: 3, from: { mac: firewall.mac, ip: server.ip } } });
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect([f.subject, f.severity, f.count]).toEqual(['192.0.2.20:22', 'high', 1]);
    expect(frames(f)).toEqual(hitFrames(hit));
    expect(f.summary).toBe(
      '1 of 1 handshake(s) to 192.0.2.20:22 answered by both a ICMP unreachable and a SYN+ACK; the ICMP unreachable came first 1 time(s) (client saw "connection refused"); answers from different MACs',
    );
    expect(f.evidence[1]).toEqual({ frame: hit.refusal, time: iso(0.00004), what: 'ICMP unreachable quoting the SYN (TTL 64)', srcMac: firewall.mac, src: server.ip, dst: client.ip });
    expect(f.details).toMatchObject({ refusedFirst: 1, macsDiffer: 1, rejectFingerprint: 0 });
    expect((f.details as { hits: Array<Record<string, unknown>> }).hits[0]).toMatchObject({
      refusal: 'ICMP',
      refusalFrame: hit.refusal,
      refusalMac: firewall.mac,
      refusalFrom: server.ip,
      first: 'ICMP',
      clientRstFrame: hit.clientRst,
    });
    expect(f.explanation).not.toContain('fingerprint of a firewall REJECT');
  });

  it('ICMP host unreachable from a router, quoting the SYN, also counts as the refusal', async () => {
    const b = new CaptureBuilder();
    const hit = doubleAnswer(b, 0, { sport: 40001, isn: 9100, first: 'refusal', refusal: { kind: 'icmp', code: 1, from: router } });
    const [f, ...rest] = await findingsOf(b, ID);
    expect(rest).toEqual([]);
    expect([f!.subject, f!.severity, f!.count]).toEqual(['192.0.2.20:22', 'high', 1]);
    expect(frames(f!)).toEqual(hitFrames(hit));
    expect(f!.evidence[1]).toMatchObject({ what: 'ICMP unreachable quoting the SYN (TTL 64)', srcMac: router.mac, src: router.ip, dst: client.ip });
    expect((f!.details as { hits: Array<Record<string, unknown>> }).hits[0]).toMatchObject({ refusal: 'ICMP', refusalFrom: router.ip, refusalMac: router.mac });
  });

  it('tells a REJECT-shaped RST from other RSTs (window, IP id, TCP options)', async () => {
    const b = new CaptureBuilder();
    // A REJECT-shaped RST, a RST with a window and an IP id (a real stack's), a RST with TCP options.
    const reject = doubleAnswer(b, 0, { sport: 40001, isn: 100, first: 'refusal' });
    const stack = doubleAnswer(b, 10, { sport: 40002, isn: 200, first: 'refusal', refusal: { window: 1024, ipId: 0x1234, ttl: 63 } });
    const timestamps = concat(Uint8Array.of(1, 1, 8, 10), new Uint8Array(8));
    const withOpts = doubleAnswer(b, 20, { sport: 40003, isn: 300, first: 'refusal', refusal: { options: timestamps } });
    const [f] = await findingsOf(b, ID);
    expect([f!.severity, f!.count]).toEqual(['high', 3]);
    expect(f!.details).toMatchObject({ handshakesHit: 3, rejectFingerprint: 1 });
    const hits = (f!.details as { hits: Array<Record<string, unknown>> }).hits;
    expect(hits.map((h) => [h['synFrame'], h['rstWindow'], h['rstOptions'], h['rstIpId'], h['refusalTtl']])).toEqual([
      [reject.syn, 0, false, 0, 64],
      [stack.syn, 1024, false, 0x1234, 63],
      [withOpts.syn, 0, true, 0, 64],
    ]);
    expect(f!.evidence.find((e) => e.frame === stack.refusal)!.what).toBe('RST answering the SYN (window 1024, no TCP options, IP id 4660, TTL 63)');
    expect(f!.evidence.find((e) => e.frame === withOpts.refusal)!.what).toBe('RST answering the SYN (window 0, with TCP options, IP id 0, TTL 64)');
    expect(f!.explanation).toContain('1 of the 3 RST has the fingerprint of a firewall REJECT');
  });

  it('no REJECT fingerprint at all: the explanation does not claim one', async () => {
    const b = new CaptureBuilder();
    doubleAnswer(b, 0, { sport: 40001, isn: 100, first: 'refusal', refusal: { from: firewall, window: 29200, ipId: 777 } });
    const [f] = await findingsOf(b, ID);
    expect(f!.details).toMatchObject({ handshakesHit: 1, rejectFingerprint: 0, macsDiffer: 1 });
    expect(f!.explanation).not.toContain('fingerprint of a firewall REJECT');
  });

  it('counts hit and normal handshakes per server ip:port; two servers give two findings', async () => {
    const b = new CaptureBuilder();
    // 192.0.2.20:22: 2 hits, 3 normal. 192.0.2.21:443: 1 hit, 1 normal. 192.0.2.20:80: 4 normal, no finding,
    // and its handshakes must not count for port 22.
    const a1 = doubleAnswer(b, 0, { sport: 41001, isn: 1, first: 'refusal' });
    normalSession(b, 2, { sport: 41002, isn: 2 });
    normalSession(b, 3, { sport: 41003, isn: 3 });
    const c1 = doubleAnswer(b, 4, { sport: 42001, isn: 4, server: server2, dport: 443, first: 'synack' });
    for (let i = 0; i < 4; i++) normalSession(b, 6 + i, { sport: 43000 + i, isn: 50 + i, dport: 80 });
    const a2 = doubleAnswer(b, 11, { sport: 41004, isn: 5, first: 'refusal', refusal: { from: firewall } });
    normalSession(b, 13, { sport: 41005, isn: 6 });
    normalSession(b, 14, { sport: 42002, isn: 7, server: server2, dport: 443 });
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([
      ['192.0.2.20:22', 'high', 2],
      ['192.0.2.21:443', 'medium', 1],
    ]);
    const [a, c] = found as [(typeof found)[0], (typeof found)[0]];
    expect(a.summary).toBe(
      '2 of 5 handshake(s) to 192.0.2.20:22 answered by both a RST and a SYN+ACK; the RST came first 2 time(s) (client saw "connection refused"); answers from different MACs and from the same MAC',
    );
    expect(a.details).toMatchObject({ server: '192.0.2.20:22', handshakesHit: 2, handshakesNormal: 3, refusedFirst: 2, synAckFirst: 0, macsDiffer: 1, rejectFingerprint: 2 });
    expect(frames(a)).toEqual([...hitFrames(a1), ...hitFrames(a2)]);
    expect(c.summary).toBe('1 of 2 handshake(s) to 192.0.2.21:443 answered by both a RST and a SYN+ACK; the SYN+ACK always came first; answers from the same MAC');
    expect(c.details).toMatchObject({ server: '192.0.2.21:443', handshakesHit: 1, handshakesNormal: 1, refusedFirst: 0, synAckFirst: 1 });
    expect(frames(c)).toEqual([c1.syn, c1.synAck, c1.refusal]);
    expect(c.evidence[1]).toMatchObject({ srcMac: server2.mac, src: '192.0.2.21:443' });
    // Counts of one id add up across findings.
    expect(found.reduce((n, f) => n + f.count, 0)).toBe(3);
  });

  it('counts as normal the handshakes answered by a SYN+ACK only, however they ended', async () => {
    const b = new CaptureBuilder();
    const hit = doubleAnswer(b, 0, { sport: 40001, isn: 100, first: 'refusal' });
    normalSession(b, 2, { sport: 40002, isn: 200 });
    // Accepted, then reset by the server (RST continuing its sequence).
    b.at(4).tcp(client, server, { sport: 40003, dport: 22, flags: 'S', seq: 300 });
    b.at(4.0001).tcp(server, client, { sport: 22, dport: 40003, flags: 'SA', seq: 0x60000000, ack: 301 });
    b.at(4.0002).tcp(client, server, { sport: 40003, dport: 22, flags: 'A', seq: 301, ack: 0x60000001 });
    b.at(4.5).tcp(server, client, { sport: 22, dport: 40003, flags: 'RA', seq: 0x60000001, ack: 301, window: 0 });
    // Accepted, then abandoned by the client (its RST to the SYN+ACK).
    b.at(6).tcp(client, server, { sport: 40004, dport: 22, flags: 'S', seq: 400 });
    b.at(6.0001).tcp(server, client, { sport: 22, dport: 40004, flags: 'SA', seq: 0x70000000, ack: 401 });
    b.at(6.0002).tcp(client, server, { sport: 40004, dport: 22, flags: 'R', seq: 401, window: 0 });
    // Refused only (no SYN+ACK at all): neither hit nor normal.
    b.at(8).tcp(client, server, { sport: 40005, dport: 22, flags: 'S', seq: 500 });
    b.at(8.0001).tcp(server, client, { sport: 22, dport: 40005, flags: 'RA', seq: 0, ack: 501, window: 0 });
    const [f, ...rest] = await findingsOf(b, ID);
    expect(rest).toEqual([]);
    expect([f!.subject, f!.severity, f!.count]).toEqual(['192.0.2.20:22', 'high', 1]);
    expect(frames(f!)).toEqual(hitFrames(hit));
    expect(f!.details).toMatchObject({ handshakesHit: 1, handshakesNormal: 3 });
    expect(f!.summary.startsWith('1 of 4 handshake(s) to 192.0.2.20:22 ')).toBe(true);
  });

  /** `n` refused-first hits on 192.0.2.20:22, one every 2 s; the last one's SYN+ACK comes 5 ms after its RST. */
  function manyHits(n: number): { b: CaptureBuilder; hits: DoubleAnswer[]; lastSyn: number } {
    const b = new CaptureBuilder();
    const hits: DoubleAnswer[] = [];
    for (let i = 0; i < n - 1; i++) hits.push(doubleAnswer(b, 2 * i, { sport: 41000 + i, isn: 1000 + i, first: 'refusal' }));
    const t = 2 * (n - 1);
    const syn = b.at(t).tcp(client, server, { sport: 42000, dport: 22, flags: 'S', seq: 99, synOpts: true });
    const rst = b.at(t + 0.00004).tcp(server, client, { sport: 22, dport: 42000, flags: 'RA', seq: 0, ack: 100, window: 0 });
    const sa = b.at(t + 0.00504).tcp(server, client, { sport: 22, dport: 42000, flags: 'SA', seq: 0x20000000, ack: 100, synOpts: true });
    hits.push({ syn, refusal: rst, synAck: sa, synAckRetrans: null, clientRst: null, clientAck: null });
    return { b, hits, lastSyn: t };
  }

  it('keeps a bounded sample of hits and evidence, but counts every hit', async () => {
    const { b, hits } = manyHits(22);
    const [f] = await findingsOf(b, ID);
    expect([f!.severity, f!.count]).toEqual(['high', 22]);
    expect(f!.details).toMatchObject({ handshakesHit: 22, handshakesNormal: 0, refusedFirst: 22 });
    const kept = (f!.details as { hits: Array<{ synFrame: number }> }).hits;
    expect(kept.map((h) => h.synFrame)).toEqual(hits.slice(0, 20).map((h) => h.syn));
    expect(frames(f!)).toEqual([...hitFrames(hits[0]!), ...hitFrames(hits[1]!), ...hitFrames(hits[2]!)]);
    expect(f!.evidenceTotal).toBe(21 * 4 + 3);
    expect(f!.first).toBe(iso(0));
  });

  // `last` comes from every hit, not from the bounded sample (20 hits, lowest frames first): with 22
  // hits, one every 2 s, it is 42 s (the sample alone would say 38 s).
  it('reports `last` as the time of the last hit, even beyond the 20 kept in details.hits', async () => {
    const { b, lastSyn } = manyHits(22);
    const [f] = await findingsOf(b, ID);
    expect(f!.last).toBe(iso(lastSyn));
  });

  // maxGapMs is the largest gap over all hits: the 21st hit's 5 ms gap counts though it is not in the sample.
  it('reports maxGapMs over every hit, even beyond the 20 kept in details.hits', async () => {
    const { b } = manyHits(21);
    const [f] = await findingsOf(b, ID);
    expect(f!.count).toBe(21);
    expect((f!.details as { maxGapMs: number }).maxGapMs).toBe(5);
  });

  it('reports the server inside its VLAN', async () => {
    const b = new CaptureBuilder();
    const syn = b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 10, vlans: [10] });
    const rst = b.at(0.00004).tcp(server, client, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 11, window: 0, vlans: [10] });
    const sa = b.at(0.0001).tcp(server, client, { sport: 22, dport: 40001, flags: 'SA', seq: 5000, ack: 11, synOpts: true, vlans: [10] });
    const [f, ...rest] = await findingsOf(b, ID);
    expect(rest).toEqual([]);
    expect([f!.subject, f!.severity, f!.count]).toEqual(['vlan 10 192.0.2.20:22', 'high', 1]);
    expect(frames(f!)).toEqual([syn, rst, sa]);
    expect(f!.details).toMatchObject({ server: '192.0.2.20:22', handshakesHit: 1, handshakesNormal: 0 });
  });

  it('the genuine lab captures: same MAC and different MAC', async () => {
    const same = (await reportOf('captures/bridge-flood-reject-samemac.pcapng', { 'fdb-ageing': 10 })).findings.filter((f) => f.id === ID);
    expect(same.map((f) => [f.subject, f.severity, f.count])).toEqual([['192.0.2.20:22', 'high', 3]]);
    expect(frames(same[0]!)).toEqual([1, 2, 3, 5, 14, 15, 16, 18, 27, 28, 29, 31]);
    expect(same[0]!.details).toMatchObject({ handshakesHit: 3, handshakesNormal: 3, refusedFirst: 3, macsDiffer: 0, rejectFingerprint: 3 });
    const diff = (await reportOf('captures/bridge-flood-reject-diffmac.pcap', { 'fdb-ageing': 10 })).findings.filter((f) => f.id === ID);
    expect(diff.map((f) => [f.subject, f.severity, f.count])).toEqual([['192.0.2.20:22', 'high', 3]]);
    expect(frames(diff[0]!)).toEqual([1, 2, 3, 5, 14, 15, 16, 18, 27, 28, 29, 31]);
    expect(diff[0]!.details).toMatchObject({ handshakesHit: 3, handshakesNormal: 3, refusedFirst: 3, macsDiffer: 3, rejectFingerprint: 3 });
    const hits = (diff[0]!.details as { hits: Array<Record<string, unknown>> }).hits;
    expect(hits.map((h) => [h['refusalFrame'], h['refusalMac'], h['synAckFrame'], h['synAckMac'], h['clientRstFrame']])).toEqual([
      [2, '02:00:00:01:00:30', 3, '02:00:00:01:00:20', 5],
      [15, '02:00:00:01:00:30', 16, '02:00:00:01:00:20', 18],
      [28, '02:00:00:01:00:30', 29, '02:00:00:01:00:20', 31],
    ]);
  });

  // With 2 threads the flows are tracked by the compiled workers in dist/: run `npx tsc -p tsconfig.json` first.
  it('gives the same findings with --threads 1 and --threads 2', async () => {
    // Many flows, so both shards get some, hits and normal handshakes of one server spread over both.
    const b = new CaptureBuilder();
    let t = 0;
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) doubleAnswer(b, t, { sport: 45000 + i, isn: 1000 * i + 1, first: i % 2 === 0 ? 'refusal' : 'synack', ...(i === 3 ? { refusal: { from: firewall } } : {}) });
      else normalSession(b, t, { sport: 45000 + i, isn: 1000 * i + 1 });
      t += 1.5;
    }
    for (let i = 0; i < 6; i++) {
      if (i === 2) doubleAnswer(b, t, { sport: 46000 + i, isn: 77 + i, server: server2, dport: 443, first: 'refusal', refusal: { kind: 'icmp' } });
      else normalSession(b, t, { sport: 46000 + i, isn: 77 + i, server: server2, dport: 443 });
      t += 1.5;
    }
    const one = await analyzeBuilt(b, { threads: 1 });
    const two = await analyzeBuilt(b, { threads: 2 });
    const f1 = byId(one, ID);
    expect(f1.map((f) => [f.subject, f.severity, f.count, (f.details as Record<string, unknown>)['handshakesNormal']])).toEqual([
      ['192.0.2.20:22', 'high', 4, 8],
      ['192.0.2.21:443', 'high', 1, 5],
    ]);
    expect(byId(two, ID)).toEqual(f1);
    // The correlation and the other findings do not depend on the thread count either.
    expect(two.findings).toEqual(one.findings);
  });
});

describe('tcp.conflicting_responses stays silent', () => {
  it('for normal handshakes', async () => {
    const b = new CaptureBuilder();
    for (let i = 0; i < 5; i++) normalSession(b, i, { sport: 40001 + i, isn: 100 * i + 1 });
    normalSession(b, 6, { sport: 40100, isn: 5, server: server2, dport: 443 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('for a server that accepts and later resets the connection (its RST continues its own sequence)', async () => {
    const b = new CaptureBuilder();
    const isn = 5000;
    const sIsn = 0x30000000;
    const cs = { sport: 40001, dport: 22 };
    const sc = { sport: 22, dport: 40001 };
    b.at(0).tcp(client, server, { ...cs, flags: 'S', seq: isn, synOpts: true });
    b.at(0.0001).tcp(server, client, { ...sc, flags: 'SA', seq: sIsn, ack: isn + 1, synOpts: true });
    b.at(0.0002).tcp(client, server, { ...cs, flags: 'A', seq: isn + 1, ack: sIsn + 1 });
    b.at(0.01).tcp(server, client, { ...sc, flags: 'PA', seq: sIsn + 1, ack: isn + 1, len: 40 });
    b.at(0.0101).tcp(client, server, { ...cs, flags: 'A', seq: isn + 1, ack: sIsn + 41 });
    // The server aborts: RST+ACK, seq where its stream stands, ack = ISN + 1 (the client sent no data),
    // the same ack a refusal of the SYN would carry.
    b.at(5).tcp(server, client, { ...sc, flags: 'RA', seq: sIsn + 41, ack: isn + 1, window: 0 });
    // Another one: the client sends a request, the server answers then resets (bare RST).
    const cs2 = { sport: 40002, dport: 22 };
    const sc2 = { sport: 22, dport: 40002 };
    b.at(10).tcp(client, server, { ...cs2, flags: 'S', seq: 9000, synOpts: true });
    b.at(10.0001).tcp(server, client, { ...sc2, flags: 'SA', seq: 0x40000000, ack: 9001, synOpts: true });
    b.at(10.0002).tcp(client, server, { ...cs2, flags: 'A', seq: 9001, ack: 0x40000001 });
    b.at(10.001).tcp(client, server, { ...cs2, flags: 'PA', seq: 9001, ack: 0x40000001, len: 100 });
    b.at(10.002).tcp(server, client, { ...sc2, flags: 'R', seq: 0x40000001, ack: 0, window: 0 });
    // And a RST+ACK right after the handshake, before any data.
    const cs3 = { sport: 40003, dport: 22 };
    const sc3 = { sport: 22, dport: 40003 };
    b.at(20).tcp(client, server, { ...cs3, flags: 'S', seq: 7, synOpts: true });
    b.at(20.0001).tcp(server, client, { ...sc3, flags: 'SA', seq: 0x50000000, ack: 8, synOpts: true });
    b.at(20.0002).tcp(client, server, { ...cs3, flags: 'A', seq: 8, ack: 0x50000001 });
    b.at(20.0003).tcp(server, client, { ...sc3, flags: 'RA', seq: 0x50000001, ack: 8, window: 0 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  // A server that sent 2 MB to a client that sent nothing (a download pushed on connect, a log stream)
  // and then resets carries ack = client ISN + 1, like a refusal, but a seq inside what it sent: it
  // continues the server's sequence and is not a refusal (an earlier version only looked 1 MiB ahead).
  it('for a server that pushed more than 1 MiB before resetting (RST far into its own sequence)', async () => {
    const b = new CaptureBuilder();
    const isn = 5000;
    const sIsn = 0x30000000;
    const cs = { sport: 40001, dport: 2000 };
    const sc = { sport: 2000, dport: 40001 };
    b.at(0).tcp(client, server, { ...cs, flags: 'S', seq: isn, synOpts: true });
    b.at(0.0001).tcp(server, client, { ...sc, flags: 'SA', seq: sIsn, ack: isn + 1, synOpts: true });
    b.at(0.0002).tcp(client, server, { ...cs, flags: 'A', seq: isn + 1, ack: sIsn + 1 });
    let seq = sIsn + 1;
    for (let i = 0; i < 33; i++) {
      b.at(0.001 + i * 0.001).tcp(server, client, { ...sc, flags: 'A', seq, ack: isn + 1, len: 64000 });
      seq += 64000;
      b.at(0.0015 + i * 0.001).tcp(client, server, { ...cs, flags: 'A', seq: isn + 1, ack: seq });
    }
    b.at(1).tcp(server, client, { ...sc, flags: 'RA', seq, ack: isn + 1, window: 0 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('for a slow but legitimate server (SYN retransmitted, answered once)', async () => {
    const b = new CaptureBuilder();
    const cs = { sport: 40001, dport: 22 };
    b.at(0).tcp(client, server, { ...cs, flags: 'S', seq: 100, synOpts: true });
    b.at(1).tcp(client, server, { ...cs, flags: 'S', seq: 100, synOpts: true });
    b.at(3).tcp(client, server, { ...cs, flags: 'S', seq: 100, synOpts: true });
    b.at(3.5).tcp(server, client, { sport: 22, dport: 40001, flags: 'SA', seq: 9000, ack: 101, synOpts: true });
    b.at(3.5001).tcp(client, server, { ...cs, flags: 'A', seq: 101, ack: 9001 });
    // The same, and the server answers each SYN it got (two SYN+ACKs, one ISN).
    const cs2 = { sport: 40002, dport: 22 };
    b.at(10).tcp(client, server, { ...cs2, flags: 'S', seq: 200, synOpts: true });
    b.at(11).tcp(client, server, { ...cs2, flags: 'S', seq: 200, synOpts: true });
    b.at(11.2).tcp(server, client, { sport: 22, dport: 40002, flags: 'SA', seq: 7000, ack: 201, synOpts: true });
    b.at(11.3).tcp(server, client, { sport: 22, dport: 40002, flags: 'SA', seq: 7000, ack: 201, synOpts: true });
    b.at(11.3001).tcp(client, server, { ...cs2, flags: 'A', seq: 201, ack: 7001 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('for a closed port (RST only) and a SYN refused then retried with a new ISN and accepted', async () => {
    const b = new CaptureBuilder();
    // Port 23 closed: RST+ACK only.
    b.at(0).tcp(client, server, { sport: 40001, dport: 23, flags: 'S', seq: 100 });
    b.at(0.0001).tcp(server, client, { sport: 23, dport: 40001, flags: 'RA', seq: 0, ack: 101, window: 0 });
    // sshd restarting: the first SYN refused, the same port reused 2 s later with a new ISN, accepted.
    b.at(1).tcp(client, server, { sport: 40002, dport: 22, flags: 'S', seq: 500 });
    b.at(1.0001).tcp(server, client, { sport: 22, dport: 40002, flags: 'RA', seq: 0, ack: 501, window: 0 });
    b.at(3).tcp(client, server, { sport: 40002, dport: 22, flags: 'S', seq: 90000 });
    b.at(3.0001).tcp(server, client, { sport: 22, dport: 40002, flags: 'SA', seq: 777, ack: 90001, synOpts: true });
    b.at(3.0002).tcp(client, server, { sport: 40002, dport: 22, flags: 'A', seq: 90001, ack: 778 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('for a client that resets after the SYN+ACK (a half-open scan)', async () => {
    const b = new CaptureBuilder();
    for (let i = 0; i < 3; i++) {
      b.at(i).tcp(client, server, { sport: 50000 + i, dport: 22 + i, flags: 'S', seq: 10 + i });
      b.at(i + 0.0001).tcp(server, client, { sport: 22 + i, dport: 50000 + i, flags: 'SA', seq: 3000 + i, ack: 11 + i });
      b.at(i + 0.0002).tcp(client, server, { sport: 50000 + i, dport: 22 + i, flags: 'R', seq: 11 + i, window: 0 });
    }
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('for a RST that does not acknowledge the SYN, and for ICMP errors that are not a refusal of it', async () => {
    const b = new CaptureBuilder();
    // A stray RST from another box with the wrong ack, then the SYN+ACK.
    b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 100 });
    b.at(0.00004).tcp({ mac: firewall.mac, ip: server.ip }, client, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 5000, window: 0 });
    b.at(0.0001).tcp(server, client, { sport: 22, dport: 40001, flags: 'SA', seq: 3000, ack: 101 });
    b.at(0.0002).tcp(client, server, { sport: 40001, dport: 22, flags: 'A', seq: 101, ack: 3001 });
    // ICMP time exceeded quoting the SYN (not an unreachable), then the SYN+ACK.
    b.at(1).tcp(client, server, { sport: 40002, dport: 22, flags: 'S', seq: 200 });
    b.at(1.00004).icmpError(router, client, { type: 11, code: 0 }, ipv4({ src: client.ip, dst: server.ip, proto: 6, ttl: 1 }, tcp({ sport: 40002, dport: 22, flags: 'S', seq: 200 })));
    b.at(1.0001).tcp(server, client, { sport: 22, dport: 40002, flags: 'SA', seq: 4000, ack: 201 });
    b.at(1.0002).tcp(client, server, { sport: 40002, dport: 22, flags: 'A', seq: 201, ack: 4001 });
    // ICMP port unreachable quoting another segment (not this SYN: another sequence number).
    b.at(2).tcp(client, server, { sport: 40003, dport: 22, flags: 'S', seq: 300 });
    b.at(2.0001).tcp(server, client, { sport: 22, dport: 40003, flags: 'SA', seq: 6000, ack: 301 });
    b.at(2.0002).tcp(client, server, { sport: 40003, dport: 22, flags: 'A', seq: 301, ack: 6001 });
    b.at(2.0003).tcp(client, server, { sport: 40003, dport: 22, flags: 'PA', seq: 301, ack: 6001, len: 10 });
    b.at(2.0004).icmpError({ mac: firewall.mac, ip: server.ip }, client, { type: 3, code: 3 }, ipv4({ src: client.ip, dst: server.ip, proto: 6 }, tcp({ sport: 40003, dport: 22, flags: 'PA', seq: 301, ack: 6001 })));
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('for a refusal and a SYN+ACK that answer two different SYNs of the same connection', async () => {
    const b = new CaptureBuilder();
    // The first SYN is refused by the forged RST; the SYN+ACK answers a later SYN with another ISN
    // on the same ports while the flow still lingers (within 10 s): not one SYN with two answers.
    b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 100 });
    b.at(0.00004).tcp(server, client, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 101, window: 0 });
    b.at(1).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 88888 });
    b.at(1.0001).tcp(server, client, { sport: 22, dport: 40001, flags: 'SA', seq: 3000, ack: 88889 });
    b.at(1.0002).tcp(client, server, { sport: 40001, dport: 22, flags: 'A', seq: 88889, ack: 3001 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });
});
