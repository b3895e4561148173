import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { failover, node1, node2, observer, ZERO } from './failover.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'arp.gratuitous';

describe('arp.gratuitous', () => {
  it('lists the gratuitous ARPs per sender (IP, MAC), requests and replies apart', async () => {
    const { b, move1, move2, move3 } = failover();
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([
      [`10.5.1.100 at ${node1.mac}`, 'info', 2],
      [`10.5.1.100 at ${node2.mac}`, 'info', 4],
    ]);
    const [n1, n2] = found as [(typeof found)[0], (typeof found)[0]];
    expect(frames(n1)).toEqual(move2);
    expect(frames(n2)).toEqual([...move1, ...move3]);
    expect(n1.details).toMatchObject({ ip: '10.5.1.100', mac: node1.mac, requests: 0, replies: 2 });
    expect(n2.details).toMatchObject({ requests: 4, replies: 0 });
    expect(n1.evidence[0]).toMatchObject({ what: `gratuitous ARP reply: 10.5.1.100 is at ${node1.mac}`, srcMac: node1.mac, dstMac: 'ff:ff:ff:ff:ff:ff' });
    expect(n2.first).toBe('2023-11-14T22:13:24.800000000Z');
    expect(n2.last).toBe('2023-11-14T22:13:37.000000000Z');
    // Three announcements one second apart, then one six seconds later: a burst, no period claimed.
    expect(n2.summary).toBe(`4 gratuitous ARPs from ${node2.mac} announcing 10.5.1.100 (4 requests, 0 replies), frames ${move1[0]}-${move3[0]}`);
  });

  it('is silent for ordinary requests, replies and RFC 5227 probes', async () => {
    const b = new CaptureBuilder();
    b.at(0).arp({ op: 1, from: observer, target: { mac: ZERO, ip: node1.ip } });
    b.at(0.001).arp({ op: 2, from: node1, target: observer });
    b.at(1).arp({ op: 1, from: { mac: node2.mac, ip: '0.0.0.0' }, target: { mac: ZERO, ip: node2.ip } });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('lists only senders with arp-gratuitous-min-frames announcements', async () => {
    const { b } = failover();
    const found = await findingsOf(b, ID, { 'arp-gratuitous-min-frames': 3 });
    expect(found.map((f) => f.subject)).toEqual([`10.5.1.100 at ${node2.mac}`]);
  });
});
