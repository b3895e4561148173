import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { failover, node1, node2, observer, ZERO } from './failover.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'arp.changed_mac';

describe('arp.changed_mac', () => {
  it('reports the first move of a virtual IP to a new MAC, announced by gratuitous ARP', async () => {
    const { b, move1 } = failover();
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f).toMatchObject({ subject: '10.5.1.100', severity: 'low', count: 1, evidenceTotal: 1, first: '2023-11-14T22:13:24.800000000Z', last: '2023-11-14T22:13:24.800000000Z' });
    expect(frames(f)).toEqual([move1[0]]);
    expect(f.evidence[0]).toMatchObject({ what: `gratuitous ARP request: 10.5.1.100 is at ${node2.mac}, was ${node1.mac} for 4.80 s`, srcMac: node2.mac, src: '10.5.1.100', dst: '10.5.1.100' });
    expect(f.summary).toContain(`${node1.mac} -> ${node2.mac} at frame ${move1[0]} (gratuitous ARP, after 4.80 s)`);
    expect(f.details).toMatchObject({ changes: 1, announced: 1, moves: [{ frame: move1[0], from: node1.mac, to: node2.mac, announced: true, heldSeconds: 4.7999 }] });
    const macs = (f.details as any).macs;
    expect(macs.map((m: any) => m.mac)).toEqual([node1.mac, node2.mac]);
    // node1: 0.0001-4.8, then 10.9-17 (held 10.8999 s); node2: 4.8-10.9 and 17 to the end of the capture.
    expect(macs[0].heldSeconds).toBeCloseTo(10.8999, 4);
    expect(macs[0].periods).toBe(2);
  });

  it('is silent while every address keeps its MAC', async () => {
    const b = new CaptureBuilder();
    for (let i = 0; i < 5; i++) {
      b.at(i).arp({ op: 1, from: observer, target: { mac: ZERO, ip: node1.ip } });
      b.at(i + 0.001).arp({ op: 2, from: node1, target: observer });
      b.at(i + 0.5).arp({ op: 1, from: node1, target: { mac: observer.mac, ip: observer.ip }, dstMac: observer.mac });
      b.at(i + 0.501).arp({ op: 2, from: observer, target: node1 });
    }
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('reports an unannounced change only once the old owner has been silent longer than arp-duplicate-window', async () => {
    const b = new CaptureBuilder();
    b.at(0).arp({ op: 2, from: node1, target: observer });
    const change = b.at(30).arp({ op: 2, from: node2, target: observer });
    // 30 s < 60 s: a conflict (arp.duplicate_ip), not a change.
    expect(await findingsOf(b, ID)).toEqual([]);
    const [f] = await findingsOf(b, ID, { 'arp-duplicate-window': 10 });
    expect(f).toMatchObject({ count: 1, details: { announced: 0 } });
    expect(frames(f!)).toEqual([change]);
    expect(f!.evidence[0]!.what).toBe(`ARP reply: 10.5.1.100 is at ${node2.mac}, was ${node1.mac} for 30.0 s`);
  });
});
