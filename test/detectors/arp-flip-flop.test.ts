import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { failover, node1, node2, observer } from './failover.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'arp.flip_flop';

describe('arp.flip_flop', () => {
  it('reports the address going back to MACs it had, with how long each held it', async () => {
    const { b, move2, move3 } = failover();
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f).toMatchObject({ subject: '10.5.1.100', severity: 'low', count: 2, evidenceTotal: 2, first: '2023-11-14T22:13:30.900000000Z', last: '2023-11-14T22:13:37.000000000Z' });
    expect(frames(f)).toEqual([move2[0], move3[0]]);
    expect(f.evidence.map((e) => e.what)).toEqual([
      `gratuitous ARP reply: 10.5.1.100 is at ${node1.mac}, was ${node2.mac} for 6.10 s`,
      `gratuitous ARP request: 10.5.1.100 is at ${node2.mac}, was ${node1.mac} for 6.10 s`,
    ]);
    expect(f.details).toMatchObject({
      flipFlops: 2,
      announced: 2,
      moves: [
        { frame: move2[0], from: node2.mac, to: node1.mac, announced: true, arp: 'gratuitous ARP reply' },
        { frame: move3[0], from: node1.mac, to: node2.mac, announced: true, arp: 'gratuitous ARP request' },
      ],
    });
    expect(f.explanation).toContain('flip flop');
  });

  it('is silent for a single move (that is arp.changed_mac) and for stable bindings', async () => {
    const b = new CaptureBuilder();
    b.at(0).arp({ op: 2, from: node1, target: observer });
    b.at(1).arp({ op: 1, from: node2, target: { mac: 'ff:ff:ff:ff:ff:ff', ip: node2.ip } });
    b.at(2).arp({ op: 2, from: node2, target: observer });
    b.at(3).arp({ op: 2, from: observer, target: node2 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('is medium from arp-flip-flop-medium flip flops', async () => {
    const { b } = failover();
    const [f] = await findingsOf(b, ID, { 'arp-flip-flop-medium': 2 });
    expect(f!.severity).toBe('medium');
    const bounce = new CaptureBuilder();
    for (let i = 0; i < 6; i++) bounce.at(i).arp({ op: 1, from: i % 2 ? node2 : node1, target: { mac: 'ff:ff:ff:ff:ff:ff', ip: node1.ip } });
    const [g] = await findingsOf(bounce, ID);
    // node1 -> node2 is a change; the 4 returns are flip flops (>= 3 by default: medium).
    expect(g).toMatchObject({ count: 4, severity: 'medium' });
  });
});
