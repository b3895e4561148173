/**
 * ct.invalid: the packets Linux conntrack would classify INVALID, per service, with the reason:
 * "N packet(s) would be dropped by `-m conntrack --ctstate INVALID -j DROP`" (incident 4,
 * ../shared/seeds/003: behind an LVS-DR director or asymmetric routing, conntrack never sees the
 * return path, so FIN, RST and ICMP errors become INVALID and are dropped).
 *
 * The expectations follow nf_conntrack with its defaults (nf_conntrack_tcp_loose=1,
 * tcp_be_liberal=0), as docs/research/conntrack-tcp.md summarizes it:
 * - a SYN creates an entry (SYN_SENT); the client's ACK, data and FIN in SYN_SENT are invalid in
 *   that state (tcp_conntracks[ORIGINAL][ack|fin][sSS] = sIV) — the ACKs of a SYN+ACK conntrack never saw;
 * - the client's RST+ACK then acknowledges server data conntrack never saw: "ACK is over the
 *   upper bound" (out of window), unless be_liberal;
 * - with no entry, a SYN+ACK, FIN or RST cannot create one (INVALID), an ACK can (loose);
 * - an ICMP error is RELATED when the connection it quotes has an entry (even one that only saw
 *   its SYN: §6.1), INVALID when there is none.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closeShardPool } from '../../src/flows/feeder.js';
import type { Finding } from '../../src/report/types.js';
import { ipv4, tcp, udp } from '../helpers/packets.js';
import { frames, reportOf } from './helpers.js';
import { analyzeTimeline, findingsOfTimeline, frameNumbers, iso, ONE_WAY_CLIENT, ONE_WAY_SERVER, oneWayConnection, ROUTER_A_MAC, ROUTER_B_MAC, Timeline, twoWaySession } from './flood-scenarios.js';

const ID = 'ct.invalid';
const SECOND_SERVER = { mac: ROUTER_A_MAC, ip: '10.4.2.3' };
/** A router on the client's side that sends Path MTU messages about the server's segments. */
const CLIENT_SIDE_ROUTER = { mac: '02:00:00:04:01:fe', ip: '10.4.1.254' };

afterAll(async () => {
  await closeShardPool();
});

const kinds = (found: Finding[]) => found.map((f) => [f.subject, f.severity, f.count]);

/**
 * What router A sees of asymmetric routing (captures/asymmetric-oneway.pcap in small): only the
 * client's packets. To 10.4.2.2:8080, one connection closed by FIN (t=0) and one reset by the
 * client (t=1); a lone SYN to port 8081 (t=2); a connection to 10.4.2.3:443 with SYN, ACK and
 * FIN only (t=3); UDP queries never answered here; a "fragmentation needed" about the server's
 * data of the first connection (t=0.02), and three port-unreachables from the client about UDP
 * datagrams of 10.4.2.2 that went via router B (t=5, 6, 7).
 */
function oneWayCapture() {
  const tl = new Timeline();
  const fin = oneWayConnection(tl, { t: 0, sport: 40001, close: 'fin' });
  const rst = oneWayConnection(tl, { t: 1, sport: 40002, close: 'rst' });
  const loneSyn = tl.tcp(2, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40003, dport: 8081, flags: 'S', seq: 4242, synOpts: true });
  const s = tl.conversation(ONE_WAY_CLIENT, SECOND_SERVER, { sport: 40004, dport: 443, cIsn: 900, sIsn: 77000 });
  const other = [s.at(3).c('S', { synOpts: true })];
  s.at(3).sNext = 77001;
  other.push(s.at(3 + 1 / 512).c('A'));
  s.at(3).sNext = 77002;
  other.push(s.at(3 + 2 / 512).c('FA'));
  const udpQueries = [4, 4.5, 5].map((t) => tl.udp(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40010, dport: 5300, len: 7 }));
  // The server's 2nd data segment (1400 bytes, DF) was too big for the client's last hop.
  const quotedData = ipv4({ src: ONE_WAY_SERVER.ip, dst: ONE_WAY_CLIENT.ip, proto: 6, ttl: 61, df: true }, tcp({ sport: 8080, dport: 40001, flags: 'A', seq: fin.serverIsn + 1 + 1400, ack: 100000 * 40001 + 27, payload: new Uint8Array(8) }));
  const related = tl.icmpError(0.02, CLIENT_SIDE_ROUTER, ONE_WAY_SERVER, { type: 3, code: 4 }, quotedData);
  const orphans = [5, 6, 7].map((t, i) =>
    tl.icmpError(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { type: 3, code: 3 }, ipv4({ src: ONE_WAY_SERVER.ip, dst: ONE_WAY_CLIENT.ip, proto: 17, ttl: 63 }, udp({ sport: 33434, dport: 9999, payload: new TextEncoder().encode(`trace ${i + 1}`) }))),
  );
  return { tl, fin, rst, loneSyn, other, udpQueries, related, orphans };
}

describe('ct.invalid fires', () => {
  it('for a one-way capture: the ACKs of an unseen SYN+ACK, data, FIN, RST and an ICMP error without an entry, per service', async () => {
    const { tl, fin, rst, other, orphans, related } = oneWayCapture();
    const r = await analyzeTimeline(tl);
    // SYNs and UDP queries create entries (NEW); the frag-needed quotes a live entry (RELATED).
    expect(r.flows.verdicts).toEqual({ NEW: 3 + 1 + 3, ESTABLISHED: 0, RELATED: 1, INVALID: 8 + 3 + 2 });
    const found = r.findings.filter((f) => f.id === ID);
    // (The report orders findings by subject.)
    expect(kinds(found)).toEqual([
      ['10.4.2.2 (no tracked flow)', 'medium', 3],
      ['10.4.2.2:8080', 'medium', 8],
      ['10.4.2.3:443', 'medium', 2],
    ]);
    const [orphan, svc, second] = found as [Finding, Finding, Finding];

    expect(svc.summary).toBe('8 packet(s) would be dropped by `-m conntrack --ctstate INVALID -j DROP`: 4 ACK, 2 data, 1 FIN, 1 RST');
    expect(svc.details).toEqual({
      byKind: { ACK: 4, data: 2, FIN: 1, RST: 1 },
      byReason: { 'invalid in the entry state': 7, 'out of window': 1 },
      kernelLog: [{ messages: ['nf_ct_proto_6: packet (index …) in dir … invalid, state …'], packets: 7 }, { messages: ['nf_ct_proto_6: SEQ is over upper bound …', 'nf_ct_proto_6: ACK is over upper bound …'], packets: 1 }],
    });
    // How to watch the kernel log the same packets on the box (the message for the RST's reason).
    expect(svc.remediation).toContain('`sysctl -w net.netfilter.nf_conntrack_log_invalid=6`');
    expect(svc.remediation).toContain('for these packets: "nf_ct_proto_6: packet (index …) in dir … invalid, state …" (7), "nf_ct_proto_6: SEQ is over upper bound …" or "nf_ct_proto_6: ACK is over upper bound …" (1).');
    const invalidFrames = [fin.ack, fin.data, fin.ackData, fin.close, rst.ack, rst.data, rst.ackData, rst.close];
    expect(frames(svc)).toEqual(frameNumbers(invalidFrames));
    expect(svc.evidenceTotal).toBe(8);
    expect(svc.evidence.map((e) => e.what)).toEqual([
      'ACK: invalid in the entry state',
      'data: invalid in the entry state',
      'ACK: invalid in the entry state',
      'FIN: invalid in the entry state',
      'ACK: invalid in the entry state',
      'data: invalid in the entry state',
      'ACK: invalid in the entry state',
      'RST: out of window',
    ]);
    expect(svc.evidence[0]).toMatchObject({ time: iso(1 / 512), src: '10.4.1.2:40001', dst: '10.4.2.2:8080' });
    expect([svc.first, svc.last]).toEqual([iso(1 / 512), iso(1 + 7 / 512)]);
    expect(svc.explanation).toContain('7 came in a state where TCP does not allow them');
    expect(svc.explanation).toContain('1 were outside the TCP window');
    expect(svc.explanation).toContain('2 of them are FINs, RSTs or ICMP errors');
    expect(svc.remediation).toContain('iptables -I INPUT -p tcp --tcp-flags SYN,ACK,FIN,RST,URG ACK,FIN -m conntrack --ctstate INVALID -j ACCEPT');
    expect(svc.remediation).toContain('iptables -I INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -m conntrack --ctstate INVALID -j ACCEPT');
    expect(svc.remediation).toContain('iptables -I INPUT -p icmp --icmp-type destination-unreachable -j ACCEPT');
    expect(svc.remediation).toContain('-j NOTRACK');
    expect(svc.remediation).toContain('nf_conntrack_tcp_be_liberal=1');

    expect(orphan.summary).toBe('3 packet(s) would be dropped by `-m conntrack --ctstate INVALID -j DROP`: 3 ICMP error');
    expect(orphan.details).toEqual({ byKind: { 'ICMP error': 3 }, byReason: { 'ICMP error without an entry': 3 }, kernelLog: [] });
    expect(frames(orphan)).toEqual(frameNumbers(orphans));
    expect(orphan.evidence[0]).toMatchObject({ what: 'ICMP error: ICMP error without an entry', src: '10.4.1.2', dst: '10.4.2.2' });
    expect(frames(orphan)).not.toContain(related.frame);

    expect(second.summary).toBe('2 packet(s) would be dropped by `-m conntrack --ctstate INVALID -j DROP`: 1 ACK, 1 FIN');
    expect(frames(second)).toEqual(frameNumbers(other.slice(1)));
  });

  it('nf_conntrack_tcp_be_liberal=1 accepts the out-of-window RST; the ACKs, data and FIN in SYN_SENT stay INVALID', async () => {
    const { tl, fin, rst } = oneWayCapture();
    const found = await findingsOfTimeline(tl, ID, { 'tcp-be-liberal': 1 });
    expect(kinds(found)).toEqual([
      ['10.4.2.2 (no tracked flow)', 'medium', 3],
      ['10.4.2.2:8080', 'medium', 7],
      ['10.4.2.3:443', 'medium', 2],
    ]);
    expect(found[1]!.details).toEqual({ byKind: { ACK: 4, data: 2, FIN: 1 }, byReason: { 'invalid in the entry state': 7 }, kernelLog: [{ messages: ['nf_ct_proto_6: packet (index …) in dir … invalid, state …'], packets: 7 }] });
    expect(frames(found[1]!)).toEqual(frameNumbers([fin.ack, fin.data, fin.ackData, fin.close, rst.ack, rst.data, rst.ackData]));
  });

  it('for packets that cannot create an entry: a SYN+ACK, a FIN and a RST with no connection (an ACK can: loose)', async () => {
    const tl = new Timeline();
    const host = { mac: '02:00:00:04:02:05', ip: '10.0.0.5' };
    const client = { mac: '02:00:00:04:02:10', ip: '10.0.0.10' };
    // The capture starts after each connection began: a SYN+ACK, a FIN+ACK, a RST, an ACK, each alone.
    const synAck = tl.tcp(0, host, client, { sport: 22, dport: 50001, flags: 'SA', seq: 10, ack: 21, synOpts: true });
    const finAck = tl.tcp(1, client, host, { sport: 50002, dport: 22, flags: 'FA', seq: 30, ack: 40 });
    const reset = tl.tcp(2, client, host, { sport: 50003, dport: 22, flags: 'R', seq: 50 });
    tl.tcp(3, client, host, { sport: 50004, dport: 22, flags: 'A', seq: 60, ack: 70 });
    const r = await analyzeTimeline(tl);
    expect(r.flows.verdicts).toEqual({ NEW: 1, ESTABLISHED: 0, RELATED: 0, INVALID: 3 });
    const found = r.findings.filter((f) => f.id === ID);
    expect(kinds(found)).toEqual([['10.0.0.5:22', 'medium', 3]]);
    expect(found[0]!.summary).toBe('3 packet(s) would be dropped by `-m conntrack --ctstate INVALID -j DROP`: 1 FIN, 1 RST, 1 SYN+ACK');
    expect(found[0]!.details).toEqual({ byKind: { 'SYN+ACK': 1, FIN: 1, RST: 1 }, byReason: { 'no conntrack entry': 3 }, kernelLog: [{ messages: ['nf_ct_proto_6: invalid new'], packets: 3 }] });
    expect(frames(found[0]!)).toEqual(frameNumbers([synAck, finAck, reset]));
    expect(found[0]!.explanation).toContain('3 had no conntrack entry and cannot create one');
  });

  it('for the server half of asymmetric routing (router B): only the SYN+ACKs, the server ACK picks the connection up (loose)', async () => {
    const tl = new Timeline();
    const server = { mac: '02:00:00:04:02:02', ip: '10.4.2.2' };
    const client = { mac: ROUTER_B_MAC, ip: '10.4.1.2' };
    const synAcks = [0, 1].map((t, i) => {
      const s = tl.conversation(client, server, { sport: 40001 + i, dport: 8080, cIsn: 500 + i, sIsn: 9000 + i });
      s.at(t).cNext = 501 + i; // the client's SYN went via router A
      const sa = s.at(t).s('SA', { synOpts: true });
      s.at(t).cNext += 26; // its request
      s.at(t + 2 / 512).s('PA', { len: 1000 });
      s.at(t + 3 / 512).s('PA', { len: 1000 });
      s.at(t + 4 / 512).s('FA');
      s.at(t).cNext += 1; // its FIN
      s.at(t + 6 / 512).s('A');
      return sa;
    });
    const r = await analyzeTimeline(tl);
    expect(r.flows.verdicts).toEqual({ NEW: 8, ESTABLISHED: 0, RELATED: 0, INVALID: 2 });
    const found = r.findings.filter((f) => f.id === ID);
    expect(kinds(found)).toEqual([['10.4.2.2:8080', 'low', 2]]);
    expect(found[0]!.details).toEqual({ byKind: { 'SYN+ACK': 2 }, byReason: { 'no conntrack entry': 2 }, kernelLog: [{ messages: ['nf_ct_proto_6: invalid new'], packets: 2 }] });
    expect(frames(found[0]!)).toEqual(frameNumbers(synAcks));
  });

  it('nf_conntrack_tcp_loose=0: a connection picked up mid-stream has every packet INVALID', async () => {
    const tl = new Timeline();
    const c = oneWayConnection(tl, { t: 0, sport: 40005, close: 'fin', syn: false });
    const found = await findingsOfTimeline(tl, ID, { 'tcp-loose': 0 });
    expect(kinds(found)).toEqual([['10.4.2.2:8080', 'medium', 4]]);
    // The FIN cannot create an entry ("invalid new" in the kernel's log); the ACKs and data could,
    // but loose=0 forbids it, and the kernel logs nothing for them.
    expect(found[0]!.details).toEqual({
      byKind: { ACK: 2, data: 1, FIN: 1 },
      byReason: { 'no entry, mid-stream pickup off': 3, 'no conntrack entry': 1 },
      kernelLog: [{ messages: ['nf_ct_proto_6: invalid new'], packets: 1 }],
    });
    expect(frames(found[0]!)).toEqual(frameNumbers(c.all));
  });

  it('reports the 10 busiest services and folds the others into one finding, so the counts still add up', async () => {
    const tl = new Timeline();
    const conns = Array.from({ length: 12 }, (_, k) =>
      oneWayConnection(tl, { t: k, sport: 40100 + k, close: 'fin', server: { mac: ROUTER_A_MAC, ip: `10.4.3.${k + 1}` }, dport: 80 }),
    );
    const found = await findingsOfTimeline(tl, ID);
    expect(found).toHaveLength(11);
    expect(found.reduce((n, f) => n + f.count, 0)).toBe(48);
    const shown = found.filter((f) => f.subject !== '2 other destination(s)');
    expect(shown.map((f) => [f.subject, f.count]).sort()).toEqual(Array.from({ length: 10 }, (_, k) => [`10.4.3.${k + 1}:80`, 4]).sort());
    const rest = found.find((f) => f.subject === '2 other destination(s)')!;
    expect([rest.severity, rest.count]).toEqual(['medium', 8]);
    expect(rest.details).toEqual({ byKind: { ACK: 4, data: 2, FIN: 2 }, byReason: { 'invalid in the entry state': 8 }, kernelLog: [{ messages: ['nf_ct_proto_6: packet (index …) in dir … invalid, state …'], packets: 8 }] });
    // Ties in the count are broken by address: 10.4.3.11 and 10.4.3.12 are the ones folded.
    expect(frames(rest)).toEqual(frameNumbers(conns.slice(10).flatMap((c) => [c.ack, c.data, c.ackData, c.close])));
  });

  it('gives the same findings with --threads 1 and --threads 2 (dist/ must be built)', async () => {
    const { tl } = oneWayCapture();
    const one = await analyzeTimeline(tl, {}, 1);
    const two = await analyzeTimeline(tl, {}, 2);
    expect(one.findings.filter((f) => f.id === ID)).toHaveLength(3);
    expect(two.findings).toEqual(one.findings);
  });
});

describe('ct.invalid stays silent', () => {
  it('for full two-way traffic: sessions, a refused connection, ping, UDP and a RELATED port unreachable', async () => {
    const tl = new Timeline();
    const client = { mac: '02:00:00:04:02:10', ip: '10.0.0.10' };
    const server = { mac: '02:00:00:04:02:05', ip: '10.0.0.5' };
    for (let i = 0; i < 3; i++) twoWaySession(tl, client, server, { t: i, sport: 41000 + i, dport: 443, cIsn: 10 * i, sIsn: 1000 * i, requestBytes: 300, answerBytes: 1400 });
    tl.tcp(4, client, server, { sport: 41010, dport: 25, flags: 'S', seq: 5 });
    tl.tcp(4 + 1 / 512, server, client, { sport: 25, dport: 41010, flags: 'RA', seq: 0, ack: 6, window: 0 });
    tl.ping(5, client, server, { type: 8, id: 7, seq: 1 });
    tl.ping(5 + 1 / 512, server, client, { type: 0, id: 7, seq: 1 });
    tl.udp(6, client, server, { sport: 53000, dport: 53, len: 30 });
    tl.udp(6 + 1 / 512, server, client, { sport: 53, dport: 53000, len: 90 });
    tl.udp(7, client, server, { sport: 53001, dport: 9999, len: 7 });
    tl.icmpError(7 + 1 / 512, server, client, { type: 3, code: 3 }, ipv4({ src: client.ip, dst: server.ip, proto: 17 }, udp({ sport: 53001, dport: 9999, payload: new Uint8Array(7) })));
    const r = await analyzeTimeline(tl);
    expect(r.flows.verdicts).toMatchObject({ RELATED: 1, INVALID: 0 });
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  it('for a one-way connection picked up mid-stream with nf_conntrack_tcp_loose=1 (its ACK creates the entry, the FIN finds it)', async () => {
    const tl = new Timeline();
    oneWayConnection(tl, { t: 0, sport: 40005, close: 'fin', syn: false });
    const r = await analyzeTimeline(tl);
    expect(r.flows.verdicts).toEqual({ NEW: 4, ESTABLISHED: 0, RELATED: 0, INVALID: 0 });
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  it('for SYNs and their retransmissions that get no answer (NEW, not INVALID)', async () => {
    const tl = new Timeline();
    for (const t of [0, 1, 3, 7]) tl.tcp(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40020, dport: 8080, flags: 'S', seq: 99, synOpts: true });
    expect(await findingsOfTimeline(tl, ID)).toEqual([]);
  });
});

describe('ct.invalid on captures/asymmetric-oneway.pcap (lab/GROUND_TRUTH.md §6)', () => {
  it('finds every client packet after the SYNs of the 5 connections to 8080, and the 3 ICMP errors about a flow never seen', async () => {
    const r = await reportOf(fileURLToPath(new URL('../../captures/asymmetric-oneway.pcap', import.meta.url)));
    const found = r.findings.filter((f) => f.id === ID);
    expect(kinds(found)).toEqual([
      ['10.4.2.2 (no tracked flow)', 'medium', 3],
      ['10.4.2.2:8080', 'medium', 20],
    ]);
    expect(frames(found[0]!)).toEqual([35, 36, 37]);
    expect(found[0]!.details).toEqual({ byKind: { 'ICMP error': 3 }, byReason: { 'ICMP error without an entry': 3 }, kernelLog: [] });
    // ACKs 7, 9, 12, 14, 17, 19, 22, 24, 27, 29; data 8, 13, 18, 23, 28; FINs 10, 15, 20, 25; RST 30.
    expect(found[1]!.details).toEqual({ byKind: { ACK: 10, data: 5, FIN: 4, RST: 1 }, byReason: { 'invalid in the entry state': 19, 'out of window': 1 }, kernelLog: [{ messages: ['nf_ct_proto_6: packet (index …) in dir … invalid, state …'], packets: 19 }, { messages: ['nf_ct_proto_6: SEQ is over upper bound …', 'nf_ct_proto_6: ACK is over upper bound …'], packets: 1 }] });
    expect(frames(found[1]!)).toEqual([7, 8, 9, 10, 12, 13, 14, 15]);
    expect(found[1]!.evidenceTotal).toBe(20);
  });
});
