import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { ethernet, ieee8023, stpBpdu } from '../helpers/packets.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'l2.unknown_ethertype';
const box = '02:00:00:03:00:fe';
const group = '01:80:c2:ef:03:fe';
const host = { mac: '02:00:00:03:00:0a', ip: '10.3.0.11' };
const peer = { mac: '02:00:00:03:00:0b', ip: '10.3.0.12' };
const payload = Uint8Array.from([0x00, 0x01, 0x00, 0x32, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, ...new Array(40).fill(0)]);

/** Incident 3: an ISP box sends EtherType 0xfe68 every second next to STP, LLDP and ordinary traffic. */
function incident(): { b: CaptureBuilder; fe68: number[] } {
  const b = new CaptureBuilder();
  const fe68: number[] = [];
  const jitter = [0, 0.004, -0.003, 0.002, 0];
  for (let i = 0; i < 5; i++) {
    fe68.push(b.at(i + jitter[i]!).add(ethernet({ src: box, dst: group, type: 0xfe68 }, payload)));
    b.at(i + 0.3).add(ieee8023({ src: '02:00:00:03:01:0a', dst: '01:80:c2:00:00:00' }, stpBpdu({ rootMac: '02:00:00:03:00:01', bridgeMac: '02:00:00:03:00:01' })));
    b.at(i + 0.5).add(ethernet({ src: '02:00:00:03:01:0a', dst: '01:80:c2:00:00:0e', type: 0x88cc }, new Uint8Array(40)));
    b.at(i + 0.6).ping(host, peer, { type: 8, id: 1, seq: i });
    b.at(i + 0.61).ping(peer, host, { type: 0, id: 1, seq: i });
  }
  b.at(5).arp({ op: 1, from: host, target: { mac: '00:00:00:00:00:00', ip: peer.ip } });
  b.at(5.001).arp({ op: 2, from: peer, target: host });
  return { b, fe68 };
}

describe('l2.unknown_ethertype', () => {
  it('reports the 0xfe68 beacon of incident 3 with its period, destination class and payload', async () => {
    const { b, fe68 } = incident();
    const found = await findingsOf(b, ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f.subject).toBe(`EtherType 0xfe68 from ${box} to ${group}`);
    expect(f.severity).toBe('low');
    expect(f.count).toBe(5);
    expect(f.evidenceTotal).toBe(5);
    expect(frames(f)).toEqual(fe68);
    expect(f.evidence[0]).toMatchObject({ srcMac: box, dstMac: group, what: 'EtherType 0xfe68 (unknown)' });
    expect(f.first).toBe('2023-11-14T22:13:20.000000000Z');
    expect(f.last).toBe('2023-11-14T22:13:24.000000000Z');
    expect(f.summary).toContain('every 1.00 s ±');
    expect(f.remediation).toContain('ebtables -A INPUT -p 0xfe68 -j DROP');
    expect(f.remediation).toContain('nft add rule bridge filter input ether type 0xfe68 drop');
    expect(f.explanation).toContain('rx_dropped');
    const d = f.details as Record<string, any>;
    expect(d).toMatchObject({ etherType: '0xfe68', srcMac: box, dstMac: group, dstClass: 'ieee-group', frames: 5, bytes: 5 * 64, vlans: [], untagged: true });
    expect(d.payloadHex).toBe('00 01 00 32 0a 0b 0c 0d 0e 0f 00 00 00 00 00 00');
    expect(d.period.meanSeconds).toBeCloseTo(1, 6);
    expect(d.period.stdDevSeconds).toBeGreaterThan(0.002);
    expect(d.period.stdDevSeconds).toBeLessThan(0.01);
    expect(d.period.minSeconds).toBeCloseTo(0.993, 6);
    expect(d.period.maxSeconds).toBeCloseTo(1.005, 6);
  });

  it('looks inside VLAN tags and keeps one finding per (type, source, destination)', async () => {
    const b = new CaptureBuilder();
    const tagged = [b.at(0).add(ethernet({ src: box, dst: 'ff:ff:ff:ff:ff:ff', vlans: [10], type: 0xabcd }, payload))];
    tagged.push(b.at(1).add(ethernet({ src: box, dst: 'ff:ff:ff:ff:ff:ff', vlans: [10], type: 0xabcd }, payload)));
    const unicast = b.at(2).add(ethernet({ src: box, dst: host.mac, type: 0xabcd }, payload));
    const found = await findingsOf(b, ID);
    expect(found.map((f) => f.subject)).toEqual([`EtherType 0xabcd from ${box} to ${host.mac}`, `EtherType 0xabcd from ${box} to ff:ff:ff:ff:ff:ff`]);
    const [uni, bcast] = found as [typeof found[0], typeof found[0]];
    expect(bcast.count).toBe(2);
    expect(frames(bcast)).toEqual(tagged);
    expect(bcast.details).toMatchObject({ dstClass: 'broadcast', vlans: [10], untagged: false });
    // Two frames: below the default of 3 for "low".
    expect(bcast.severity).toBe('info');
    expect(bcast.remediation).toContain('--vlan-encap 0xabcd');
    expect(uni.count).toBe(1);
    expect(frames(uni)).toEqual([unicast]);
    expect(uni.details).toMatchObject({ dstClass: 'unicast', dstLocallyAdministered: true });
  });

  it('stays silent for known EtherTypes (LLDP, 802.1X, PTP), STP and ordinary traffic', async () => {
    const b = new CaptureBuilder();
    for (let i = 0; i < 4; i++) {
      b.at(i).add(ethernet({ src: '02:00:00:03:01:0a', dst: '01:80:c2:00:00:0e', type: 0x88cc }, new Uint8Array(40)));
      b.at(i + 0.1).add(ethernet({ src: host.mac, dst: '01:80:c2:00:00:03', type: 0x888e }, new Uint8Array(10)));
      b.at(i + 0.2).add(ethernet({ src: host.mac, dst: '01:1b:19:00:00:00', vlans: [20], type: 0x88f7 }, new Uint8Array(44)));
      b.at(i + 0.3).add(ieee8023({ src: '02:00:00:03:01:0a', dst: '01:80:c2:00:00:00' }, stpBpdu({ rootMac: '02:00:00:03:00:01', bridgeMac: '02:00:00:03:00:01' })));
      b.at(i + 0.4).ping(host, peer, { type: 8, id: 1, seq: i });
    }
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('takes its thresholds from the options', async () => {
    const { b } = incident();
    const [f] = await findingsOf(b, ID, { 'unknown-ethertype-low-frames': 10, 'unknown-ethertype-payload-bytes': 4 });
    expect(f!.severity).toBe('info');
    expect((f!.details as Record<string, unknown>).payloadHex).toBe('00 01 00 32');
  });
});
