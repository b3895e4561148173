import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { arp, ethernet } from '../helpers/packets.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'arp.duplicate_ip';
const ZERO = '00:00:00:00:00:00';
const asker = { mac: '02:00:00:05:00:20', ip: '10.5.0.20' };
const dupa = { mac: '02:00:00:05:00:0a', ip: '10.5.0.10' };
const dupb = { mac: '02:00:00:05:00:0b', ip: '10.5.0.10' };

/** The lab's duplicate-IP run in short: dupb probes, is told the address is in use, takes it anyway. */
function conflict() {
  const b = new CaptureBuilder();
  b.at(0).arp({ op: 1, from: asker, target: { mac: ZERO, ip: dupa.ip } });
  const r1 = b.at(0.0001).arp({ op: 2, from: dupa, target: asker });
  b.at(0.5).ping(asker, dupa, { type: 8, id: 7, seq: 1 });
  b.at(0.5001).ping(dupa, asker, { type: 0, id: 7, seq: 1 });
  b.at(1).arp({ op: 1, from: { mac: dupb.mac, ip: '0.0.0.0' }, target: { mac: ZERO, ip: dupa.ip } });
  const defend = b.at(1.0001).arp({ op: 2, from: dupa, target: { mac: dupb.mac, ip: '0.0.0.0' } });
  b.at(2).arp({ op: 1, from: asker, target: { mac: ZERO, ip: dupa.ip } });
  const fromB = b.at(2.000005).arp({ op: 2, from: dupb, target: asker });
  const fromA = b.at(2.00001).arp({ op: 2, from: dupa, target: asker });
  b.at(2.5).ping(asker, dupb, { type: 8, id: 7, seq: 2 });
  b.at(2.5001).ping(dupb, asker, { type: 0, id: 7, seq: 2 });
  return { b, r1, defend, fromB, fromA };
}

describe('arp.duplicate_ip', () => {
  it('reports two MACs answering for one IP, with the double answer and the answered probe', async () => {
    const { b, r1, defend, fromB, fromA } = conflict();
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f).toMatchObject({ subject: '10.5.0.10', severity: 'high', count: 4, evidenceTotal: 4 });
    expect(frames(f)).toEqual([r1, defend, fromB, fromA]);
    expect(f.summary).toBe(
      `10.5.0.10 claimed by 2 MACs at the same time: ${dupa.mac} (3 ARP frames), ${dupb.mac} (1 ARP frame); 2 conflicting changes within 60 s, 1 request answered by two MACs, 1 address probe answered "in use"`,
    );
    const ev = new Map(f.evidence.map((e) => [e.frame, e]));
    expect(ev.get(defend)!.what).toBe(`ARP reply to an address probe (RFC 5227): 10.5.0.10 is at ${dupa.mac}, already in use`);
    expect(ev.get(fromB)!.what).toMatch(new RegExp(`^ARP reply: 10.5.0.10 is at ${dupb.mac}, while ${dupa.mac} claimed it .* before$`));
    expect(ev.get(fromA)!.what).toBe(`ARP reply: 10.5.0.10 is at ${dupa.mac}, a second answer to one request (${dupb.mac} answered it too)`);
    expect(ev.get(fromA)).toMatchObject({ srcMac: dupa.mac, dstMac: asker.mac, src: '10.5.0.10', dst: '10.5.0.20' });
    expect(f.first).toBe('2023-11-14T22:13:20.000100000Z');
    expect(f.last).toBe('2023-11-14T22:13:22.000010000Z');
    expect(f.details).toMatchObject({ ip: '10.5.0.10', vlan: 0, conflicts: 2, requestsAnsweredTwice: 1, probesAnswered: 1 });
    expect((f.details as any).macs.map((m: any) => [m.mac, m.claims])).toEqual([
      [dupa.mac, 3],
      [dupb.mac, 1],
    ]);
    expect(f.remediation).toContain('arping -D -I <if>');
  });

  it('is silent for normal ARP and for a failover announced by gratuitous ARP', async () => {
    const b = new CaptureBuilder();
    const router = { mac: '02:00:00:05:00:01', ip: '10.5.0.1' };
    const node1 = { mac: '02:00:00:05:01:01', ip: '10.5.1.100' };
    const node2 = { mac: '02:00:00:05:01:02', ip: '10.5.1.100' };
    for (let i = 0; i < 3; i++) {
      b.at(i).arp({ op: 1, from: asker, target: { mac: ZERO, ip: router.ip } });
      b.at(i + 0.001).arp({ op: 2, from: router, target: asker });
      b.at(i + 0.1).arp({ op: 1, from: router, target: { mac: ZERO, ip: node1.ip } });
      b.at(i + 0.101).arp({ op: 2, from: node1, target: router });
    }
    // node2 takes the VIP over and announces it; node1 falls silent.
    b.at(4).arp({ op: 1, from: node2, target: { mac: 'ff:ff:ff:ff:ff:ff', ip: node2.ip } });
    b.at(5).arp({ op: 1, from: router, target: { mac: ZERO, ip: node2.ip } });
    b.at(5.001).arp({ op: 2, from: node2, target: router });
    // The same address in two VLANs is two addresses.
    b.at(6).add(ethernet({ src: dupa.mac, dst: 'ff:ff:ff:ff:ff:ff', vlans: [10], type: 0x0806 }, arp({ op: 1, senderMac: dupa.mac, senderIp: dupa.ip, targetMac: ZERO, targetIp: asker.ip })));
    b.at(6.1).add(ethernet({ src: dupb.mac, dst: 'ff:ff:ff:ff:ff:ff', vlans: [20], type: 0x0806 }, arp({ op: 1, senderMac: dupb.mac, senderIp: dupb.ip, targetMac: ZERO, targetIp: asker.ip })));
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('takes the conflict window from arp-duplicate-window', async () => {
    const b = new CaptureBuilder();
    const a1 = b.at(0).arp({ op: 2, from: dupa, target: asker });
    const b1 = b.at(100).arp({ op: 2, from: dupb, target: asker });
    // 100 s apart: an address that changed hands (arp.changed_mac), not a conflict.
    expect(await findingsOf(b, ID)).toEqual([]);
    const [f] = await findingsOf(b, ID, { 'arp-duplicate-window': 120 });
    expect(f).toMatchObject({ subject: '10.5.0.10', severity: 'medium', count: 2 });
    expect(frames(f!)).toEqual([a1, b1]);
  });
});
