/**
 * l2.unknown_unicast_flood: a learning-bridge model (`fdb-ageing`, default 300 s) replays the
 * capture; a unicast frame whose destination MAC last sent longer ago than the ageing time is
 * flooded. With the capture host's MAC known (given with `host-mac`, inferred, or a cooked capture's
 * "to another host"), unicast frames for other hosts seen there are flooded traffic too. Tied to
 * tcp.conflicting_responses on the same host as its root cause (src/detectors/correlate.ts).
 *
 * Severity (commit bb6f1e7): low, unless heavy (`flood-medium-frames`, default 100 frames), refused by
 * another box in the addressee's name (a RST or ICMP unreachable from another MAC answering a frame
 * meant for someone else: medium), or the root cause of a conflict (then the conflict's severity).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeShardPool } from '../../src/flows/feeder.js';
import type { Finding } from '../../src/report/types.js';
import { CaptureBuilder, type Host } from '../helpers/capture-builder.js';
import { ipv4, macNumber, sll, tcp } from '../helpers/packets.js';
import { analyzeBuilt, byId, client, doubleAnswer, firewall, iso, normalSession, router, server, server2 } from './handshakes.js';
import { findingsOf, frames, reportOf } from './helpers.js';

const ID = 'l2.unknown_unicast_flood';
const CONFLICT = 'tcp.conflicting_responses';
/** An Internet client behind the router: its frames carry the router's MAC. */
const remote: Host = { mac: router.mac, ip: '198.51.100.7' };
const ZERO = '00:00:00:00:00:00';

afterAll(async () => {
  await closeShardPool();
});

interface Quiet {
  b: CaptureBuilder;
  /** The server's last frame before its silence. */
  lastWord: number;
  /** Frames to the server after the silence (a SYN and its retransmission 1 s later). */
  syns: number[];
  /** The server's SYN+ACK after them. */
  synAck: number;
}

/**
 * A quiet server: a session from the remote client at t=0, the server's FIN at t=10 (its last word),
 * then `silence` seconds later a SYN from the remote client, its retransmission 1 s later, and the
 * server's SYN+ACK right after the retransmission. `before` adds frames in between.
 */
function quietServer(silence: number, before?: (b: CaptureBuilder) => void): Quiet {
  const b = new CaptureBuilder();
  const cs = { sport: 40001, dport: 22 };
  const sc = { sport: 22, dport: 40001 };
  b.at(0).tcp(remote, server, { ...cs, flags: 'S', seq: 100 });
  b.at(0.0001).tcp(server, remote, { ...sc, flags: 'SA', seq: 5000, ack: 101 });
  b.at(0.0002).tcp(remote, server, { ...cs, flags: 'A', seq: 101, ack: 5001 });
  const lastWord = b.at(10).tcp(server, remote, { ...sc, flags: 'FA', seq: 5001, ack: 101 });
  b.at(10.0001).tcp(remote, server, { ...cs, flags: 'FA', seq: 101, ack: 5002 });
  before?.(b);
  const t = 10 + silence;
  const cs2 = { sport: 40002, dport: 22 };
  const syns = [b.at(t).tcp(remote, server, { ...cs2, flags: 'S', seq: 900 }), b.at(t + 1).tcp(remote, server, { ...cs2, flags: 'S', seq: 900 })];
  const synAck = b.at(t + 1.0001).tcp(server, remote, { sport: 22, dport: 40002, flags: 'SA', seq: 7000, ack: 901 });
  b.at(t + 1.0002).tcp(remote, server, { ...cs2, flags: 'A', seq: 901, ack: 7001 });
  return { b, lastWord, syns, synAck };
}

function details(f: Finding): Record<string, unknown> {
  return f.details as Record<string, unknown>;
}

describe('l2.unknown_unicast_flood: the learning-bridge model', () => {
  it('flags unicast frames to a MAC silent longer than the ageing time (300 s by default)', async () => {
    const q = quietServer(400);
    expect(q).toMatchObject({ lastWord: 4, syns: [6, 7], synAck: 8 });
    const found = await findingsOf(q.b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f.subject).toBe(server.mac);
    // Two flooded frames, nobody harmed: a bridge does that now and then by design.
    expect(f.severity).toBe('low');
    expect(f.count).toBe(2);
    expect(f.summary).toBe('02:00:00:01:00:20 (192.0.2.20): 2 frame(s) flooded after 6 min 41 s of silence (bridge ageing 5 min 00 s)');
    // The two flooded SYNs, and the server's SYN+ACK that ends the episode.
    expect(frames(f)).toEqual([6, 7, 8]);
    expect(f.evidenceTotal).toBe(3);
    expect(f.evidence).toEqual([
      {
        frame: 6,
        time: iso(410),
        what: 'unicast to a MAC silent for 6 min 40 s (last sent in frame 4): flooded',
        srcMac: router.mac,
        dstMac: server.mac,
        src: remote.ip,
        dst: server.ip,
      },
      {
        frame: 7,
        time: iso(411),
        what: 'unicast to a MAC silent for 6 min 41 s (last sent in frame 4): flooded',
        srcMac: router.mac,
        dstMac: server.mac,
        src: remote.ip,
        dst: server.ip,
      },
      { frame: 8, time: iso(411.0001), what: 'the MAC sends again: the bridge re-learns it and stops flooding', srcMac: server.mac },
    ]);
    expect(f.first).toBe(iso(410));
    expect(f.last).toBe(iso(411));
    expect(f.details).toEqual({
      mac: server.mac,
      agedOutFrames: 2,
      seenAtCapturePoint: 0,
      refusedByOthers: 0,
      refusingMacs: [],
      episodes: 1,
      episodesWithoutArp: 1,
      maxSilenceSeconds: 401,
      ips: ['192.0.2.20'],
      fdbAgeingSeconds: 300,
      captureHostMac: null,
    });
    expect(f.explanation).toContain('This MAC sent nothing for longer than the bridge\'s ageing time');
    expect(f.explanation).toContain('In 1 of 1 episode(s) nobody asked ARP for its address first');
    expect(f.remediation).toContain('ip link set dev br0 type bridge ageing_time 360000');
    expect(f.remediation).toContain('arping -U -c 1 -I <if> <ip>');
    expect(f.remediation).toContain('bridge fdb add 02:00:00:01:00:20 dev <port> master static');
    expect(f.remediation).toContain('DROP (not REJECT)');
  });

  it('stays silent when the MAC spoke within the ageing time', async () => {
    // 299 s before the SYN, 300 s before its retransmission: not longer than the ageing time.
    expect(await findingsOf(quietServer(299).b, ID)).toEqual([]);
    // The same with the lab's 10 s: 9 s, then 10 s.
    expect(await findingsOf(quietServer(9).b, ID, { 'fdb-ageing': 10 })).toEqual([]);
  });

  it('stays silent for a MAC never seen sending (the bridge may have learned it before the capture)', async () => {
    const b = new CaptureBuilder();
    b.at(0).tcp(remote, server2, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    b.at(500).tcp(remote, server2, { sport: 40002, dport: 22, flags: 'S', seq: 2 });
    b.at(1000).tcp(remote, server2, { sport: 40003, dport: 22, flags: 'S', seq: 3 });
    // The router itself is heard at 0, 500 and 1000: nothing to it is flooded either.
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('ignores broadcast and multicast destinations, whatever the silence', async () => {
    const b = new CaptureBuilder();
    b.at(0).arp({ op: 1, from: router, target: { mac: ZERO, ip: server.ip } });
    b.at(0.001).arp({ op: 2, from: server, target: router });
    b.at(400).arp({ op: 1, from: router, target: { mac: ZERO, ip: server.ip } });
    b.at(400.5).udp(router, { mac: '01:00:5e:00:00:fb', ip: '224.0.0.251' }, { sport: 5353, dport: 5353, len: 20 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('takes the ageing time from --fdb-ageing', async () => {
    // The lab's bridge: ageing_time 10 s, the server silent 12.6 s.
    const q = quietServer(12.6);
    expect(await findingsOf(q.b, ID)).toEqual([]);
    const found = await findingsOf(q.b, ID, { 'fdb-ageing': 10 });
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([[server.mac, 'low', 2]]);
    const f = found[0]!;
    expect(f.summary).toBe('02:00:00:01:00:20 (192.0.2.20): 2 frame(s) flooded after 13.6 s of silence (bridge ageing 10.0 s)');
    expect(frames(f)).toEqual([...q.syns, q.synAck]);
    expect(f.evidence[0]!.what).toBe('unicast to a MAC silent for 12.6 s (last sent in frame 4): flooded');
    expect(details(f)).toMatchObject({ agedOutFrames: 2, episodes: 1, maxSilenceSeconds: 13.6, fdbAgeingSeconds: 10 });
    // With a long ageing time (the fix), nothing is flooded even after 400 s.
    expect(await findingsOf(quietServer(400).b, ID, { 'fdb-ageing': 3600 })).toEqual([]);
  });

  it('counts each silence as an episode, with every IP the flooded frames carried', async () => {
    const b = new CaptureBuilder();
    const alias = { mac: server.mac, ip: '192.0.2.22' };
    b.at(0).udp(server, remote, { sport: 123, dport: 123, len: 48 });
    const first = b.at(400).tcp(remote, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    const back = b.at(400.0001).tcp(server, remote, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 2, window: 0 });
    const second = b.at(1000).tcp(remote, alias, { sport: 40002, dport: 443, flags: 'S', seq: 2 });
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f.count).toBe(2);
    expect(f.summary).toBe('02:00:00:01:00:20 (192.0.2.20, 192.0.2.22): 2 frame(s) flooded after 9 min 60 s of silence (bridge ageing 5 min 00 s)');
    expect(frames(f)).toEqual([first, back, second]);
    expect(details(f)).toMatchObject({ agedOutFrames: 2, episodes: 2, episodesWithoutArp: 2, ips: ['192.0.2.20', '192.0.2.22'] });
    expect(Number(details(f)['maxSilenceSeconds'])).toBeCloseTo(599.9999, 3);
    expect(f.first).toBe(iso(400));
    expect(f.last).toBe(iso(1000));
  });
});

describe('l2.unknown_unicast_flood: severity', () => {
  /** `n` UDP frames to the server, one every 10 ms, after 400 s of silence; the server never answers. */
  function stream(n: number): { b: CaptureBuilder; flooded: number[] } {
    const b = new CaptureBuilder();
    b.at(0).udp(server, remote, { sport: 514, dport: 514, len: 20 });
    const flooded: number[] = [];
    for (let i = 0; i < n; i++) flooded.push(b.at(400 + i * 0.01).udp(remote, server, { sport: 514, dport: 514, len: 100 }));
    return { b, flooded };
  }

  it('is medium from flood-medium-frames flooded frames (100 by default), low below', async () => {
    const heavy = stream(100);
    const [f, ...rest] = await findingsOf(heavy.b, ID);
    expect(rest).toEqual([]);
    expect([f!.subject, f!.severity, f!.count]).toEqual([server.mac, 'medium', 100]);
    expect(frames(f!)).toEqual(heavy.flooded.slice(0, 12));
    expect(f!.evidenceTotal).toBe(100);
    expect(details(f!)).toMatchObject({ agedOutFrames: 100, episodes: 1 });
    expect(f!.first).toBe(iso(400));
    expect(f!.last).toBe(iso(400.99));

    const light = await findingsOf(stream(99).b, ID);
    expect(light.map((x) => [x.subject, x.severity, x.count])).toEqual([[server.mac, 'low', 99]]);
  });

  it('takes the medium threshold from --flood-medium-frames', async () => {
    const found = await findingsOf(quietServer(400).b, ID, { 'flood-medium-frames': 2 });
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([[server.mac, 'medium', 2]]);
    const notYet = await findingsOf(quietServer(400).b, ID, { 'flood-medium-frames': 3 });
    expect(notYet.map((f) => [f.subject, f.severity, f.count])).toEqual([[server.mac, 'low', 2]]);
  });
});

describe('l2.unknown_unicast_flood: ARP', () => {
  it('notes when someone asked ARP for the address before the flood (the reply was not seen)', async () => {
    const q = quietServer(400, (b) => b.at(409.5).arp({ op: 1, from: router, target: { mac: ZERO, ip: server.ip } }));
    const found = await findingsOf(q.b, ID);
    expect(found.map((f) => [f.subject, f.count])).toEqual([[server.mac, 2]]);
    const f = found[0]!;
    expect(details(f)).toMatchObject({ agedOutFrames: 2, episodes: 1, episodesWithoutArp: 0 });
    expect(f.explanation).not.toContain('nobody asked ARP');
    // The broadcast request itself is not evidence.
    expect(frames(f)).toEqual([...q.syns, q.synAck]);
  });

  it('counts an ARP request older than the ageing time as no ARP', async () => {
    const q = quietServer(400, (b) => b.at(50).arp({ op: 1, from: router, target: { mac: ZERO, ip: server.ip } }));
    const [f] = await findingsOf(q.b, ID);
    expect(details(f!)).toMatchObject({ episodes: 1, episodesWithoutArp: 1 });
    expect(f!.explanation).toContain('In 1 of 1 episode(s) nobody asked ARP for its address first');
  });

  it('stays silent when the server answered ARP before the frames came (the bridge re-learned it)', async () => {
    const q = quietServer(400, (b) => {
      b.at(409.5).arp({ op: 1, from: router, target: { mac: ZERO, ip: server.ip } });
      b.at(409.5001).arp({ op: 2, from: server, target: router });
    });
    expect(await findingsOf(q.b, ID)).toEqual([]);
  });

  it('matches ARP requests for any address the MAC announced', async () => {
    // The server announced 192.0.2.22 too (gratuitous ARP); the router asks for .22, the flooded frame carries .20.
    const q = quietServer(400, (b) => {
      b.at(10.5).arp({ op: 1, from: { mac: server.mac, ip: '192.0.2.22' }, target: { mac: ZERO, ip: '192.0.2.22' } });
      b.at(410.1).arp({ op: 1, from: router, target: { mac: ZERO, ip: '192.0.2.22' } });
    });
    const [f] = await findingsOf(q.b, ID);
    expect(f!.count).toBe(2);
    expect(details(f!)).toMatchObject({ episodes: 1, episodesWithoutArp: 0, ips: ['192.0.2.20'] });
  });
});

describe('l2.unknown_unicast_flood: frames for other hosts at the capture point', () => {
  /** Captured on the firewall VM's port (its MAC 02:00:00:01:00:30): three flooded SYNs for the server and the firewall's RSTs. */
  function vm2Port(): { b: CaptureBuilder; syns: number[] } {
    const b = new CaptureBuilder();
    const syns: number[] = [];
    for (const [i, t] of [0, 5.561401, 21.145292].entries()) {
      const sport = 40001 + 2 * i;
      syns.push(b.at(t).tcp(client, server, { sport, dport: 22, flags: 'S', seq: 1000 * i + 1, synOpts: true }));
      b.at(t + 0.00002).tcp({ mac: firewall.mac, ip: server.ip }, client, { sport: 22, dport: sport, flags: 'RA', seq: 0, ack: 1000 * i + 2, window: 0 });
    }
    return { b, syns };
  }

  it('reports unicast frames for another MAC when --host-mac is given', async () => {
    const { b, syns } = vm2Port();
    expect(syns).toEqual([1, 3, 5]);
    const found = await findingsOf(b, ID, { 'host-mac': macNumber(firewall.mac) });
    expect(found).toHaveLength(1);
    const f = found[0]!;
    // The firewall refused the flooded SYNs in the server's name: harm done, medium.
    expect([f.subject, f.severity, f.count]).toEqual([server.mac, 'medium', 3]);
    expect(f.summary).toBe(
      '02:00:00:01:00:20 (192.0.2.20): 3 frame(s) for it reached this capture point, which is not its host; 02:00:00:01:00:30 refused 3 of them in its name (forged RST or ICMP unreachable)',
    );
    // Each flooded SYN, and the RST that refused it.
    expect(frames(f)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f.evidenceTotal).toBe(6);
    expect(f.evidence[0]).toEqual({
      frame: 1,
      time: iso(0),
      what: 'unicast addressed to another host reached the capture point',
      srcMac: client.mac,
      dstMac: server.mac,
      dst: server.ip,
    });
    expect(f.evidence[1]).toEqual({
      frame: 2,
      time: iso(0.00002),
      what: 'RST from 02:00:00:01:00:30 in the name of 192.0.2.20, refusing frame 1 that was addressed to 02:00:00:01:00:20',
      srcMac: firewall.mac,
      dstMac: client.mac,
      src: server.ip,
      dst: client.ip,
    });
    expect(f.details).toEqual({
      mac: server.mac,
      agedOutFrames: 0,
      seenAtCapturePoint: 3,
      refusedByOthers: 3,
      refusingMacs: [firewall.mac],
      episodes: 0,
      episodesWithoutArp: 0,
      maxSilenceSeconds: 0,
      ips: ['192.0.2.20'],
      fdbAgeingSeconds: 300,
      captureHostMac: firewall.mac,
    });
    expect(f.explanation).toContain('Unicast frames addressed to 02:00:00:01:00:20 arrived at the capture point (whose own MAC is 02:00:00:01:00:30): a switch or bridge flooded them here.');
    expect(f.explanation).toContain('Here it did harm: 02:00:00:01:00:30 answered 3 frame(s) addressed to 02:00:00:01:00:20 with a refusal');
    expect(f.explanation).not.toContain('This MAC sent nothing');
    expect(f.first).toBe(iso(0));
    expect(f.last).toBe(iso(21.145292));
  });

  it('flooded frames nobody refused are low; an ICMP unreachable from another MAC is a refusal too', async () => {
    const b = new CaptureBuilder();
    const quietSyn = b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    const syn = b.at(10).tcp(client, server, { sport: 40003, dport: 22, flags: 'S', seq: 3 });
    const quoted = ipv4({ src: client.ip, dst: server.ip, proto: 6 }, tcp({ sport: 40003, dport: 22, flags: 'S', seq: 3 }));
    const icmp = b.at(10.00002).icmpError({ mac: firewall.mac, ip: server.ip }, client, { type: 3, code: 3 }, quoted);
    const [f, ...rest] = await findingsOf(b, ID, { 'host-mac': macNumber(firewall.mac) });
    expect(rest).toEqual([]);
    expect([f!.subject, f!.severity, f!.count]).toEqual([server.mac, 'medium', 2]);
    expect(frames(f!)).toEqual([quietSyn, syn, icmp]);
    expect(f!.evidence[2]!.what).toBe('ICMP unreachable from 02:00:00:01:00:30 in the name of 192.0.2.20, refusing frame 2 that was addressed to 02:00:00:01:00:20');
    expect(details(f!)).toMatchObject({ seenAtCapturePoint: 2, refusedByOthers: 1, refusingMacs: [firewall.mac] });

    const unrefused = new CaptureBuilder();
    const s1 = unrefused.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    const s2 = unrefused.at(1).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    const [g, ...more] = await findingsOf(unrefused, ID, { 'host-mac': macNumber(firewall.mac) });
    expect(more).toEqual([]);
    expect([g!.subject, g!.severity, g!.count]).toEqual([server.mac, 'low', 2]);
    expect(frames(g!)).toEqual([s1, s2]);
    expect(details(g!)).toMatchObject({ seenAtCapturePoint: 2, refusedByOthers: 0, refusingMacs: [] });
  });

  it('a RST from the addressee\'s own MAC or more than 2 s later is no refusal by another box', async () => {
    const b = new CaptureBuilder();
    b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    // The real server's RST (its own MAC) reaches this port too.
    b.at(0.0001).tcp(server, client, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 2, window: 0 });
    b.at(10).tcp(client, server, { sport: 40002, dport: 22, flags: 'S', seq: 5 });
    // The firewall's RST, 3 s later: not an answer to that frame.
    b.at(13).tcp({ mac: firewall.mac, ip: server.ip }, client, { sport: 22, dport: 40002, flags: 'RA', seq: 0, ack: 6, window: 0 });
    const found = await findingsOf(b, ID, { 'host-mac': macNumber(firewall.mac) });
    // The server's own RST is a frame for the client, not for the firewall: seen here, it is flooded traffic too.
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([
      [client.mac, 'low', 1],
      [server.mac, 'low', 2],
    ]);
    expect(details(found[1]!)).toMatchObject({ seenAtCapturePoint: 2, refusedByOthers: 0, refusingMacs: [] });
  });

  it('stays silent without --host-mac when the host cannot be inferred (6 frames)', async () => {
    expect(await findingsOf(vm2Port().b, ID)).toEqual([]);
    // Given the MAC of the client instead, the SYNs are its own frames; the RSTs come from the firewall to it.
    expect(await findingsOf(vm2Port().b, ID, { 'host-mac': macNumber(client.mac) })).toEqual([]);
  });

  it('the genuine capture of the other VM\'s port (bridge-flood-reject-diffmac-vm2port.pcap)', async () => {
    const report = await reportOf('captures/bridge-flood-reject-diffmac-vm2port.pcap', { 'host-mac': macNumber('02:00:00:01:00:30') });
    const found = report.findings.filter((f) => f.id === ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([['02:00:00:01:00:20', 'medium', 3]]);
    // GROUND_TRUTH.md: the flooded SYNs 1, 3, 5 and vm2's RSTs 2, 4, 6.
    expect(frames(found[0]!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(details(found[0]!)).toMatchObject({
      seenAtCapturePoint: 3,
      refusedByOthers: 3,
      refusingMacs: ['02:00:00:01:00:30'],
      agedOutFrames: 0,
      ips: ['192.0.2.20'],
      captureHostMac: '02:00:00:01:00:30',
    });
    const without = await reportOf('captures/bridge-flood-reject-diffmac-vm2port.pcap');
    expect(without.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  /** The capture host talks to two peers (`exchanges` pings each); then `flooded` frames for another host arrive. */
  function hostCapture(exchanges: number, flooded: number): { b: CaptureBuilder; foreign: number[] } {
    const b = new CaptureBuilder();
    const peer1 = server;
    const peer2 = firewall;
    for (let i = 0; i < exchanges; i++) {
      b.at(i).ping(client, peer1, { type: 8, id: 1, seq: i });
      b.at(i + 0.001).ping(peer1, client, { type: 0, id: 1, seq: i });
      b.at(i + 0.5).ping(client, peer2, { type: 8, id: 2, seq: i });
      b.at(i + 0.501).ping(peer2, client, { type: 0, id: 2, seq: i });
    }
    const foreign: number[] = [];
    for (let i = 0; i < flooded; i++) foreign.push(b.at(exchanges + i).tcp(remote, server2, { sport: 40001, dport: 22, flags: 'S', seq: 5 }));
    return { b, foreign };
  }

  it('infers the capture host\'s MAC when it is in nearly every unicast frame', async () => {
    // 160 frames of the host, 2 for another host: 160 / 162 > 98 %.
    const { b, foreign } = hostCapture(40, 2);
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([[server2.mac, 'low', 2]]);
    const f = found[0]!;
    expect(frames(f)).toEqual(foreign);
    expect(f.summary).toBe('02:00:00:01:00:21 (192.0.2.21): 2 frame(s) for it reached this capture point, which is not its host');
    expect(details(f)).toMatchObject({ seenAtCapturePoint: 2, agedOutFrames: 0, captureHostMac: client.mac });
  });

  it('does not infer a host from too few frames, or from a capture where no MAC dominates', async () => {
    // 80 frames: below the 100 needed.
    expect(await findingsOf(hostCapture(20, 1).b, ID)).toEqual([]);
    // A mirror port: three hosts talking to each other, none in 98 % of the frames.
    const b = new CaptureBuilder();
    const hosts = [client, server, firewall];
    for (let i = 0; i < 40; i++) {
      for (const [a, c] of [
        [0, 1],
        [1, 2],
        [2, 0],
      ] as const) {
        b.at(i + a * 0.1).ping(hosts[a]!, hosts[c]!, { type: 8, id: a, seq: i });
        b.at(i + a * 0.1 + 0.001).ping(hosts[c]!, hosts[a]!, { type: 0, id: a, seq: i });
      }
    }
    b.at(50).tcp(remote, server2, { sport: 40001, dport: 22, flags: 'S', seq: 5 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('reports frames a Linux cooked capture marks "to another host"', async () => {
    const b = new CaptureBuilder();
    // Flooded SYNs from another Internet client than the one the host talks to.
    const syn = (sport: number) => ipv4({ src: '203.0.113.9', dst: server2.ip, proto: 6 }, tcp({ sport, dport: 22, flags: 'S', seq: 1 }));
    b.at(0).add(sll({ packetType: 0, srcMac: router.mac, protocol: 0x0800 }, ipv4({ src: remote.ip, dst: client.ip, proto: 6 }, tcp({ sport: 40000, dport: 22, flags: 'S', seq: 1 }))));
    const o1 = b.at(1).add(sll({ packetType: 3, srcMac: router.mac, protocol: 0x0800 }, syn(40001)));
    b.at(1.5).add(sll({ packetType: 4, srcMac: client.mac, protocol: 0x0800 }, ipv4({ src: client.ip, dst: remote.ip, proto: 6 }, tcp({ sport: 22, dport: 40000, flags: 'RA', ack: 2 }))));
    const o2 = b.at(2).add(sll({ packetType: 3, srcMac: router.mac, protocol: 0x0800 }, syn(40002)));
    const found = byId(await analyzeBuilt(b, { linkType: 113 }), ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([['other hosts (cooked capture)', 'low', 2]]);
    const f = found[0]!;
    expect(frames(f)).toEqual([o1, o2]);
    expect(f.evidence[0]).toEqual({
      frame: o1,
      time: iso(1),
      what: 'the kernel marked this frame "to another host": it reached the capture point flooded',
      srcMac: router.mac,
      dst: server2.ip,
    });
    expect(details(f)).toMatchObject({ seenAtCapturePoint: 2, ips: ['192.0.2.21'] });
  });

  // Neighbour addresses must not be confused (an earlier key, ipSrc * 2**32 + ipDst, lost its low bits
  // beyond 2**53): the capture host 192.0.2.21 refusing a SYN to its own closed port, in its own name,
  // 0.6 ms after a flooded SYN for 192.0.2.20 passed by, is not a refusal of that SYN.
  it('does not take a RST in another address\'s name for a refusal (a neighbour address refusing its own SYN)', async () => {
    const b = new CaptureBuilder();
    const flooded = b.at(0).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    b.at(0.0005).tcp(client, server2, { sport: 40002, dport: 23, flags: 'S', seq: 9 });
    b.at(0.0006).tcp(server2, client, { sport: 23, dport: 40002, flags: 'RA', seq: 0, ack: 10, window: 0 });
    const found = await findingsOf(b, ID, { 'host-mac': macNumber(server2.mac) });
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([[server.mac, 'low', 1]]);
    expect(frames(found[0]!)).toEqual([flooded]);
    expect(details(found[0]!)).toMatchObject({ refusedByOthers: 0, refusingMacs: [] });
  });

  // With an inferred host MAC, the first 4096 unicast frames (the whole capture, when smaller) are
  // buffered until the host is known and then replayed, refusals included: the result must equal the
  // one with --host-mac given.
  it('finds refusals by another box when the capture host\'s MAC is inferred, as when it is given', async () => {
    const b = new CaptureBuilder();
    // Captured on the firewall's port: it talks with two peers (160 frames), then two flooded SYNs for the server arrive and it refuses them.
    for (let i = 0; i < 40; i++) {
      b.at(i).ping(firewall, server2, { type: 8, id: 1, seq: i });
      b.at(i + 0.001).ping(server2, firewall, { type: 0, id: 1, seq: i });
      b.at(i + 0.5).ping(firewall, router, { type: 8, id: 2, seq: i });
      b.at(i + 0.501).ping(router, firewall, { type: 0, id: 2, seq: i });
    }
    for (const [i, t] of [50, 60].entries()) {
      b.at(t).tcp(client, server, { sport: 40001 + i, dport: 22, flags: 'S', seq: 100 * i + 1 });
      b.at(t + 0.00002).tcp({ mac: firewall.mac, ip: server.ip }, client, { sport: 22, dport: 40001 + i, flags: 'RA', seq: 0, ack: 100 * i + 2, window: 0 });
    }
    const given = await findingsOf(b, ID, { 'host-mac': macNumber(firewall.mac) });
    expect(given.map((f) => [f.subject, f.severity, f.count])).toEqual([[server.mac, 'medium', 2]]);
    expect(details(given[0]!)).toMatchObject({ refusedByOthers: 2, captureHostMac: firewall.mac });
    const inferred = await findingsOf(b, ID);
    expect(inferred).toEqual(given);
  });

  // A frame both flooded after the ageing time and seen at a capture point that is not its host is one
  // flooded frame: count 1, listed once in the evidence.
  it('counts a frame once when it is both aged out and seen at another host\'s capture point', async () => {
    const b = new CaptureBuilder();
    // Captured on the firewall's port: the server's broadcast ARP reaches it, then 400 s later a flooded SYN.
    b.at(0).arp({ op: 1, from: server, target: { mac: ZERO, ip: router.ip } });
    const syn = b.at(400).tcp(client, server, { sport: 40001, dport: 22, flags: 'S', seq: 1 });
    const rst = b.at(400.00002).tcp({ mac: firewall.mac, ip: server.ip }, client, { sport: 22, dport: 40001, flags: 'RA', seq: 0, ack: 2, window: 0 });
    const [f] = await findingsOf(b, ID, { 'host-mac': macNumber(firewall.mac) });
    expect(f!.subject).toBe(server.mac);
    expect(details(f!)).toMatchObject({ agedOutFrames: 1, refusedByOthers: 1 });
    // The flooded SYN once, and the firewall's RST refusing it.
    expect(frames(f!)).toEqual([syn, rst]);
    expect(f!.count).toBe(1);
  });
});

describe('l2.unknown_unicast_flood: root cause of tcp.conflicting_responses', () => {
  /**
   * Incident 1 end to end: the server answers a session at t=0, stays quiet 400 s, the router's SYN
   * is flooded, a REJECT forges a RST with the server's MAC (which re-teaches the bridge), the
   * server's SYN+ACK loses the race; a normal session follows.
   */
  function incident() {
    const b = new CaptureBuilder();
    const first = normalSession(b, 0, { client: remote, sport: 40001, isn: 100 });
    const hit = doubleAnswer(b, 400, { client: remote, sport: 40002, isn: 200, first: 'refusal' });
    const after = normalSession(b, 403, { client: remote, sport: 40003, isn: 300 });
    return { b, first, hit, after };
  }

  it('ties the flood to the conflicting responses on the same server, both ways', async () => {
    const { b, hit } = incident();
    expect(hit.syn).toBe(9);
    const report = await analyzeBuilt(b);
    const floods = byId(report, ID);
    const conflicts = byId(report, CONFLICT);
    // The root cause is as serious as the problem it explains: raised from low to the conflict's high.
    expect(floods.map((f) => [f.subject, f.severity, f.count])).toEqual([[server.mac, 'high', 1]]);
    expect(conflicts.map((f) => [f.subject, f.severity, f.count])).toEqual([['192.0.2.20:22', 'high', 1]]);
    const fl = floods[0]!;
    const c = conflicts[0]!;
    // The flooded SYN, and the forged RST that carries the server's MAC (the bridge re-learns it).
    expect(frames(fl)).toEqual([hit.syn, hit.refusal]);
    expect(fl.summary).toBe('02:00:00:01:00:20 (192.0.2.20): 1 frame(s) flooded after 6 min 40 s of silence (bridge ageing 5 min 00 s)');
    expect(details(fl)).toMatchObject({ agedOutFrames: 1, episodes: 1, episodesWithoutArp: 1, related: [{ id: CONFLICT, subject: '192.0.2.20:22' }] });
    expect(details(c)).toMatchObject({ handshakesHit: 1, handshakesNormal: 2, related: [{ id: ID, subject: server.mac }] });
    expect(c.explanation).toContain(
      `Root cause found in this capture: l2.unknown_unicast_flood on 02:00:00:01:00:20 — frames addressed to this server were flooded (first at ${iso(400)}, frames ${hit.syn}, ${hit.refusal}).`,
    );
    expect(fl.explanation).toContain('This flooding is the root cause of tcp.conflicting_responses on 192.0.2.20:22');
    // The same with two flow shards.
    const two = await analyzeBuilt(b, { threads: 2 });
    expect(two.findings).toEqual(report.findings);
  });

  it('raises the flood to the conflict\'s severity: medium when the SYN+ACK won', async () => {
    const b = new CaptureBuilder();
    normalSession(b, 0, { client: remote, sport: 40001, isn: 100 });
    const hit = doubleAnswer(b, 400, { client: remote, sport: 40002, isn: 200, first: 'synack' });
    const report = await analyzeBuilt(b);
    expect(byId(report, CONFLICT).map((f) => [f.subject, f.severity, f.count])).toEqual([['192.0.2.20:22', 'medium', 1]]);
    const [fl, ...more] = byId(report, ID);
    expect(more).toEqual([]);
    expect([fl!.subject, fl!.severity, fl!.count]).toEqual([server.mac, 'medium', 1]);
    // The flooded SYN; the server's SYN+ACK re-teaches the bridge.
    expect(frames(fl!)).toEqual([hit.syn, hit.synAck]);
    expect(details(fl!)).toMatchObject({ related: [{ id: CONFLICT, subject: '192.0.2.20:22' }] });
  });

  it('ties them in the genuine lab capture (bridge-flood-reject-samemac.pcapng, ageing 10 s)', async () => {
    const report = await reportOf('captures/bridge-flood-reject-samemac.pcapng', { 'fdb-ageing': 10 });
    const [fl, ...moreFloods] = report.findings.filter((f) => f.id === ID);
    const [c] = report.findings.filter((f) => f.id === CONFLICT);
    expect(moreFloods).toEqual([]);
    expect([fl!.subject, fl!.severity, fl!.count]).toEqual(['02:00:00:01:00:20', 'high', 1]);
    // SYN frame 27, 12.63 s after the server's frame 26; frame 28 is the forged RST with the server's MAC.
    expect(frames(fl!)).toEqual([27, 28]);
    expect(fl!.evidence[0]!.what).toBe('unicast to a MAC silent for 12.6 s (last sent in frame 26): flooded');
    expect(details(fl!)).toMatchObject({ agedOutFrames: 1, maxSilenceSeconds: 12.626, ips: ['192.0.2.20'], fdbAgeingSeconds: 10, related: [{ id: CONFLICT, subject: '192.0.2.20:22' }] });
    expect(details(c!)).toMatchObject({ related: [{ id: ID, subject: '02:00:00:01:00:20' }] });
    expect(c!.explanation).toContain('Root cause found in this capture: l2.unknown_unicast_flood on 02:00:00:01:00:20');
  });

  it('does not tie a flood on one host to conflicting responses on another', async () => {
    const b = new CaptureBuilder();
    // server2 quiet for 400 s, then flooded; server (never heard before the SYN) double-answers.
    b.at(0).udp(server2, remote, { sport: 123, dport: 123, len: 48 });
    const flooded = b.at(400).udp(remote, server2, { sport: 123, dport: 123, len: 48 });
    doubleAnswer(b, 401, { client: remote, sport: 40002, isn: 200, first: 'refusal' });
    const report = await analyzeBuilt(b);
    const [fl, ...moreFloods] = byId(report, ID);
    const [c, ...moreConflicts] = byId(report, CONFLICT);
    expect(moreFloods).toEqual([]);
    expect(moreConflicts).toEqual([]);
    expect([fl!.subject, fl!.severity, fl!.count]).toEqual([server2.mac, 'low', 1]);
    expect(frames(fl!)).toEqual([flooded]);
    expect([c!.subject, c!.severity]).toEqual(['192.0.2.20:22', 'high']);
    expect(details(fl!)['related']).toBeUndefined();
    expect(details(c!)['related']).toBeUndefined();
    expect(c!.explanation).not.toContain('Root cause found in this capture');
    expect(fl!.explanation).not.toContain('root cause of tcp.conflicting_responses');
  });
});
