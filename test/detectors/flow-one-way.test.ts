/**
 * flow.one_way: TCP connections whose return direction never appears although it exists (the
 * client acknowledges a SYN+ACK, data and FINs the capture never shows): asymmetric routing or an
 * LVS-DR director (incident 4, ../shared/seeds/003). Per server ip:port: the connections, their
 * packets, the packets conntrack would call INVALID there (see ct-invalid.test.ts for the rules),
 * and the fixes (incident 4's ACCEPT rules, NOTRACK, be_liberal, symmetric routing).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closeShardPool } from '../../src/flows/feeder.js';
import type { Finding } from '../../src/report/types.js';
import { frames, reportOf } from './helpers.js';
import { analyzeTimeline, findingsOfTimeline, frameNumbers, iso, ONE_WAY_CLIENT, ONE_WAY_SERVER, oneWayConnection, ROUTER_A_MAC, ROUTER_B_MAC, Timeline, twoWaySession } from './flood-scenarios.js';

const ID = 'flow.one_way';
const SECOND_SERVER = { mac: ROUTER_A_MAC, ip: '10.4.2.3' };
const OTHER_CLIENT = { mac: '02:00:00:04:01:03', ip: '10.4.1.3' };

afterAll(async () => {
  await closeShardPool();
});

const kinds = (found: Finding[]) => found.map((f) => [f.subject, f.severity, f.count]);

/**
 * Router A's view: to 10.4.2.2:8080 one connection closed by FIN (t=0, client 10.4.1.2) and one
 * reset by its client (t=1, client 10.4.1.3); a lone SYN to port 8081 (t=2); to 10.4.2.3:443 a
 * SYN, the ACK of the unseen SYN+ACK and a FIN (t=3); UDP queries never answered here (t=4).
 */
function oneWayCapture() {
  const tl = new Timeline();
  const fin = oneWayConnection(tl, { t: 0, sport: 40001, close: 'fin' });
  const rst = oneWayConnection(tl, { t: 1, sport: 40002, close: 'rst', client: OTHER_CLIENT });
  tl.tcp(2, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40003, dport: 8081, flags: 'S', seq: 4242, synOpts: true });
  const s = tl.conversation(ONE_WAY_CLIENT, SECOND_SERVER, { sport: 40004, dport: 443, cIsn: 900, sIsn: 77000 });
  const other = [s.at(3).c('S', { synOpts: true })];
  s.at(3).sNext = 77001;
  other.push(s.at(3 + 1 / 512).c('A'));
  s.at(3).sNext = 77002;
  other.push(s.at(3 + 2 / 512).c('FA'));
  for (const t of [4, 4.5, 5]) tl.udp(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40010, dport: 5300, len: 7 });
  return { tl, fin, rst, other };
}

describe('flow.one_way fires', () => {
  it('for connections whose client acknowledges answers never seen: per server, with the INVALID packets by kind', async () => {
    const { tl, fin, rst, other } = oneWayCapture();
    const found = await findingsOfTimeline(tl, ID);
    expect(kinds(found)).toEqual([
      ['10.4.2.2:8080', 'medium', 2],
      ['10.4.2.3:443', 'medium', 1],
    ]);
    const [vip, second] = found as [Finding, Finding];
    expect(vip.summary).toBe(
      "2 TCP connection(s) to 10.4.2.2:8080 seen in one direction only (10 packets, none back), although the clients acknowledge the server's answers; 8 packet(s) would be INVALID for conntrack here (4 ACK, 2 data, 1 FIN, 1 RST)",
    );
    expect(vip.details).toEqual({ side: 'clients', flows: 2, packets: 10, invalidPackets: 8, invalidByKind: { ACK: 4, data: 2, FIN: 1, RST: 1 }, clients: 2 });
    // Per connection: its first packet (the SYN), then its INVALID packets.
    expect(frames(vip)).toEqual(frameNumbers([...fin.all, ...rst.all]));
    expect(vip.evidenceTotal).toBe(10);
    expect(vip.evidence[0]).toMatchObject({ time: iso(0), what: 'first handshake packet of a connection whose answers never pass here', src: '10.4.1.2:40001', dst: '10.4.2.2:8080' });
    expect(vip.evidence[1]).toMatchObject({ what: 'ACK, INVALID for conntrack: its SYN+ACK or data never passed here', src: '10.4.1.2:40001', dst: '10.4.2.2:8080' });
    expect(vip.evidence[9]).toMatchObject({ what: 'RST, INVALID for conntrack: its SYN+ACK or data never passed here', src: '10.4.1.3:40002' });
    expect([vip.first, vip.last]).toEqual([iso(0), iso(1 + 7 / 512)]);
    expect(vip.explanation).toContain('asymmetric routing');
    expect(vip.explanation).toContain('LVS-DR');
    expect(vip.remediation).toContain('-A INPUT -p tcp --tcp-flags SYN,ACK,FIN,RST,URG ACK,FIN -m conntrack --ctstate INVALID -j ACCEPT');
    expect(vip.remediation).toContain('-A INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -m conntrack --ctstate INVALID -j ACCEPT');
    expect(vip.remediation).toContain('-A INPUT -p icmp --icmp-type destination-unreachable -j ACCEPT');
    expect(vip.remediation).toContain('iptables -t raw -A PREROUTING -d 10.4.2.2 -p tcp --dport 8080 -j NOTRACK');
    expect(vip.remediation).toContain('nf_conntrack_tcp_be_liberal=1');

    expect(second.summary).toBe(
      "1 TCP connection(s) to 10.4.2.3:443 seen in one direction only (3 packets, none back), although the clients acknowledge the server's answers; 2 packet(s) would be INVALID for conntrack here (1 ACK, 1 FIN)",
    );
    expect(second.details).toEqual({ side: 'clients', flows: 1, packets: 3, invalidPackets: 2, invalidByKind: { ACK: 1, FIN: 1 }, clients: 1 });
    expect(frames(second)).toEqual(frameNumbers(other));
  });

  it('for a connection picked up mid-stream (no SYN); loose=1 leaves nothing INVALID, so it is only low', async () => {
    const tl = new Timeline();
    const c = oneWayConnection(tl, { t: 0, sport: 40005, close: 'fin', syn: false });
    const found = await findingsOfTimeline(tl, ID);
    expect(kinds(found)).toEqual([['10.4.2.2:8080', 'low', 1]]);
    expect(found[0]!.summary).toBe(
      "1 TCP connection(s) to 10.4.2.2:8080 seen in one direction only (4 packets, none back), although the clients acknowledge the server's answers; 0 packet(s) would be INVALID for conntrack here",
    );
    expect(found[0]!.details).toEqual({ side: 'clients', flows: 1, packets: 4, invalidPackets: 0, invalidByKind: {}, clients: 1 });
    expect([found[0]!.first, found[0]!.last]).toEqual([iso(c.ack.t), iso(c.close.t)]);
  });

  // A connection picked up mid-stream has no handshake event: its evidence is its first packet.
  it('points at the first packet of a connection picked up mid-stream', async () => {
    const tl = new Timeline();
    const c = oneWayConnection(tl, { t: 0, sport: 40005, close: 'fin', syn: false });
    const found = await findingsOfTimeline(tl, ID);
    expect(frames(found[0]!)).toEqual([c.ack.frame]);
  });

  it('names the VLAN of a tagged service and keeps the NOTRACK rule on its address', async () => {
    const tl = new Timeline();
    const c = oneWayConnection(tl, { t: 0, sport: 40001, close: 'fin', vlans: [10] });
    const found = await findingsOfTimeline(tl, ID);
    expect(kinds(found)).toEqual([['vlan 10 10.4.2.2:8080', 'medium', 1]]);
    expect(found[0]!.details).toMatchObject({ flows: 1, packets: 5, invalidPackets: 4 });
    expect(frames(found[0]!)).toEqual(frameNumbers(c.all));
    expect(found[0]!.remediation).toContain('iptables -t raw -A PREROUTING -d 10.4.2.2 -p tcp --dport 8080 -j NOTRACK');
  });

  it('one-way-min-packets: connections of fewer packets do not count', async () => {
    const { tl } = oneWayCapture();
    expect(kinds(await findingsOfTimeline(tl, ID, { 'one-way-min-packets': 4 }))).toEqual([['10.4.2.2:8080', 'medium', 2]]);
    expect(await findingsOfTimeline(tl, ID, { 'one-way-min-packets': 6 })).toEqual([]);
  });

  // The other half of the same asymmetric route: router B sees only the server's SYN+ACK, data and
  // FIN, acknowledging a request it never saw; conntrack there drops every SYN+ACK (ct.invalid).
  it("for the server's half of an asymmetric route (router B sees only the server's packets)", async () => {
    const tl = new Timeline();
    const server = { mac: '02:00:00:04:02:02', ip: '10.4.2.2' };
    const client = { mac: ROUTER_B_MAC, ip: '10.4.1.2' };
    for (const [i, t] of [0, 1].entries()) {
      const s = tl.conversation(client, server, { sport: 40001 + i, dport: 8080, cIsn: 500 + i, sIsn: 9000 + i });
      s.at(t).cNext = 501 + i; // the client's SYN went via router A
      s.at(t).s('SA', { synOpts: true });
      s.at(t).cNext += 26; // its request
      s.at(t + 2 / 512).s('PA', { len: 1000 });
      s.at(t + 3 / 512).s('PA', { len: 1000 });
      s.at(t + 4 / 512).s('FA');
      s.at(t).cNext += 1; // its FIN
      s.at(t + 6 / 512).s('A');
    }
    const found = await findingsOfTimeline(tl, ID);
    expect(kinds(found)).toEqual([['10.4.2.2:8080 (answers only)', 'medium', 2]]);
    expect(found[0]!.details).toMatchObject({ side: 'server', flows: 2 });
    expect(found[0]!.summary).toContain("seen from the server's side only");
    expect(found[0]!.evidence[0]).toMatchObject({ what: "first handshake packet of a connection whose clients' packets never pass here", src: '10.4.2.2:8080', dst: '10.4.1.2:40001' });
    expect(found[0]!.remediation).toContain('iptables -t raw -A PREROUTING -s 10.4.2.2 -p tcp --sport 8080 -j NOTRACK');
  });

  it('gives the same findings with --threads 1 and --threads 2 (dist/ must be built)', async () => {
    const { tl } = oneWayCapture();
    const one = await analyzeTimeline(tl, {}, 1);
    const two = await analyzeTimeline(tl, {}, 2);
    expect(one.findings.filter((f) => f.id === ID)).toHaveLength(2);
    expect(two.findings).toEqual(one.findings);
  });
});

describe('flow.one_way stays silent', () => {
  it('for full two-way traffic', async () => {
    const tl = new Timeline();
    const server = { mac: '02:00:00:04:02:02', ip: '10.4.2.2' };
    for (let i = 0; i < 4; i++) {
      twoWaySession(tl, ONE_WAY_CLIENT, server, { t: i, sport: 40001 + i, dport: 8080, cIsn: 10 * i, sIsn: 1000 * i, requestBytes: 26, answerBytes: 3000, serverClosesFirst: true });
    }
    const r = await analyzeTimeline(tl);
    expect(r.flows.connStates).toEqual({ SF: 4 });
    expect(r.findings.filter((f) => f.id === ID || f.id === 'ct.invalid')).toEqual([]);
  });

  it('for a SYN retransmitted to a dead server, and a SYN its client gave up with a RST (nothing acknowledged)', async () => {
    const tl = new Timeline();
    for (const t of [0, 1, 3, 7]) tl.tcp(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40020, dport: 8080, flags: 'S', seq: 99, synOpts: true });
    tl.tcp(8, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40021, dport: 8080, flags: 'S', seq: 500, synOpts: true });
    tl.tcp(9, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40021, dport: 8080, flags: 'R', seq: 501 });
    expect(await findingsOfTimeline(tl, ID)).toEqual([]);
  });

  it('for one-way UDP and ICMP (only TCP shows that answers exist)', async () => {
    const tl = new Timeline();
    for (const t of [0, 0.5, 1]) tl.udp(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { sport: 40010, dport: 5300, len: 7 });
    for (const [i, t] of [2, 2.5, 3].entries()) tl.ping(t, ONE_WAY_CLIENT, ONE_WAY_SERVER, { type: 8, id: 16880, seq: i + 1 });
    expect(await findingsOfTimeline(tl, ID)).toEqual([]);
  });
});

describe('flow.one_way on captures/asymmetric-oneway.pcap (lab/GROUND_TRUTH.md §6)', () => {
  it('finds the 5 connections to 10.4.2.2:8080 (25 packets, none back), not the lone SYN to 8081', async () => {
    const r = await reportOf(fileURLToPath(new URL('../../captures/asymmetric-oneway.pcap', import.meta.url)));
    const found = r.findings.filter((f) => f.id === ID);
    expect(kinds(found)).toEqual([['10.4.2.2:8080', 'medium', 5]]);
    // Every TCP frame but the 6 SYNs and frame 31 (the lone SYN) is INVALID: ACKs, requests, FINs, the RST.
    expect(found[0]!.details).toEqual({ side: 'clients', flows: 5, packets: 25, invalidPackets: 20, invalidByKind: { ACK: 10, data: 5, FIN: 4, RST: 1 }, clients: 1 });
    expect(frames(found[0]!)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(found[0]!.evidenceTotal).toBe(25);
  });
});
