import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { failover } from './failover.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'ip.multiple_macs';
const ZERO = '00:00:00:00:00:00';
const client = { mac: '02:00:00:01:00:10', ip: '192.0.2.10' };
const server = { mac: '02:00:00:01:00:20', ip: '192.0.2.20' };
const vm2 = '02:00:00:01:00:30';

/** Incident 1 with ARP: a firewall VM on another bridge port answers SYNs with RSTs in the server's name. */
function forgedRsts(attempts: number) {
  const b = new CaptureBuilder();
  b.at(0).arp({ op: 1, from: client, target: { mac: ZERO, ip: server.ip } });
  const arpReply = b.at(0.0001).arp({ op: 2, from: server, target: client });
  const rsts: number[] = [];
  const serverFrames: number[] = [];
  for (let i = 0; i < attempts; i++) {
    const t = 1 + 3 * i;
    const sport = 40001 + i;
    b.at(t).tcp(client, server, { sport, dport: 22, flags: 'S', seq: 1000 });
    rsts.push(b.at(t + 0.00003).tcp(server, client, { sport: 22, dport: sport, flags: 'RA', seq: 0, ack: 1001, srcMac: vm2 }));
    serverFrames.push(b.at(t + 0.00006).tcp(server, client, { sport: 22, dport: sport, flags: 'SA', seq: 5000, ack: 1001 }));
    b.at(t + 0.0001).tcp(client, server, { sport, dport: 22, flags: 'R', seq: 1001 });
  }
  return { b, arpReply, rsts, serverFrames };
}

describe('ip.multiple_macs', () => {
  it('reports a local IP sending from a MAC other than the one ARP bound it to', async () => {
    const { b, rsts, serverFrames } = forgedRsts(2);
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f).toMatchObject({ subject: '192.0.2.20', severity: 'medium', count: 2, evidenceTotal: 4, first: '2023-11-14T22:13:21.000030000Z', last: '2023-11-14T22:13:24.000030000Z' });
    expect(frames(f)).toEqual([rsts[0], serverFrames[0], rsts[1], serverFrames[1]]);
    expect(f.evidence[0]).toMatchObject({ srcMac: vm2, dstMac: client.mac, src: '192.0.2.20', dst: '192.0.2.10', what: `IPv4 from 192.0.2.20 sent by ${vm2}, not the MAC ARP had for it` });
    expect(f.summary).toBe(`IPv4 from 192.0.2.20 came from 2 MACs: ${vm2} (2 frames, 2 while ARP said another MAC), ${server.mac} (2 frames); ARP announced it at ${server.mac}`);
    expect(f.details).toMatchObject({
      arpMacs: [server.mac],
      mismatchedFrames: 2,
      macs: [
        { mac: vm2, frames: 2, mismatched: 2, firstFrame: rsts[0], lastFrame: rsts[1] },
        { mac: server.mac, frames: 2, mismatched: 0 },
      ],
    });
  });

  it('is silent for many IPs behind one router MAC, and for a move announced by gratuitous ARP', async () => {
    const b = new CaptureBuilder();
    const router = { mac: '02:00:00:01:00:01', ip: '192.0.2.1' };
    b.at(0).arp({ op: 1, from: client, target: { mac: ZERO, ip: router.ip } });
    b.at(0.001).arp({ op: 2, from: router, target: client });
    ['8.8.8.8', '1.1.1.1', '93.184.216.34', '198.51.100.7'].forEach((ip, i) => {
      b.at(1 + i).tcp(client, { mac: router.mac, ip }, { sport: 50000 + i, dport: 443, flags: 'S' });
      b.at(1.01 + i).tcp({ mac: router.mac, ip }, client, { sport: 443, dport: 50000 + i, flags: 'SA', ack: 1 });
    });
    b.at(6).ping(router, client, { type: 8, id: 1, seq: 1 });
    b.at(6.001).ping(client, router, { type: 0, id: 1, seq: 1 });
    expect(await findingsOf(b, ID)).toEqual([]);
    expect(await findingsOf(failover().b, ID)).toEqual([]);
  });

  it('reports only from ip-multiple-macs-min-frames mismatched frames', async () => {
    const { b } = forgedRsts(2);
    expect(await findingsOf(b, ID, { 'ip-multiple-macs-min-frames': 3 })).toEqual([]);
    const [f] = await findingsOf(forgedRsts(3).b, ID, { 'ip-multiple-macs-min-frames': 3 });
    expect(f!.count).toBe(3);
  });
});
