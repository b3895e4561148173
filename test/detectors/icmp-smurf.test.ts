import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'icmp.smurf';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const monitor = { mac: '02:00:00:0a:00:09', ip: '10.0.0.9' };
const router = { mac: '02:00:00:0a:00:01', ip: '10.0.0.1' };
const printer = { mac: '02:00:00:0a:00:07', ip: '10.0.0.7' };
const host = { mac: '02:00:00:0a:00:10', ip: '10.0.0.16' };

function capture() {
  const b = new CaptureBuilder();
  const requests: number[] = [];
  const replies: number[] = [];
  for (let seq = 1; seq <= 3; seq++) {
    requests.push(b.at(seq).ping(monitor, { mac: BCAST, ip: '10.0.0.255' }, { type: 8, id: 42, seq }));
    replies.push(b.at(seq + 0.001).ping(router, monitor, { type: 0, id: 42, seq }));
    replies.push(b.at(seq + 0.002).ping(printer, monitor, { type: 0, id: 42, seq }));
    // A unicast ping of the same tool: its reply is not an answer to the broadcast.
    b.at(seq + 0.5).ping(monitor, host, { type: 8, id: 42, seq: 100 + seq });
    b.at(seq + 0.501).ping(host, monitor, { type: 0, id: 42, seq: 100 + seq });
  }
  const flood: number[] = [];
  for (let i = 0; i < 20; i++) flood.push(b.at(5 + i * 0.04).ping({ mac: '02:00:00:0a:00:66', ip: '203.0.113.50' }, { mac: '01:00:5e:00:00:01', ip: '224.0.0.1' }, { type: 8, id: 7, seq: i }));
  const limited = b.at(6).ping(host, { mac: BCAST, ip: '255.255.255.255' }, { type: 8, id: 1, seq: 1 });
  return { b, requests, replies, flood, limited };
}

describe('icmp.smurf', () => {
  it('reports echo requests to broadcast/multicast per source, with the hosts that answered', async () => {
    const { b, requests, replies, flood, limited } = capture();
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([
      ['203.0.113.50', 'medium', 20],
      ['10.0.0.9', 'low', 3],
      ['10.0.0.16', 'low', 1],
    ]);
    const [attack, mon, one] = found as [(typeof found)[0], (typeof found)[0], (typeof found)[0]];
    // Requests, and the first four replies.
    expect(frames(mon)).toEqual([requests[0], replies[0], replies[1], requests[1], replies[2], replies[3], requests[2]]);
    expect(mon.evidenceTotal).toBe(9);
    expect(mon.evidence[0]).toMatchObject({ what: 'ICMP echo request to 10.0.0.255 (MAC ff:ff:ff:ff:ff:ff)', src: '10.0.0.9', dst: '10.0.0.255', srcMac: monitor.mac });
    expect(mon.evidence[1]).toMatchObject({ what: 'ICMP echo reply from 10.0.0.1 to the broadcast ping' });
    expect(mon.summary).toBe('10.0.0.9 sent 3 ICMP echo requests to broadcast/multicast 10.0.0.255 (MAC ff:ff:ff:ff:ff:ff), peak 1/s; answered by 2 hosts (10.0.0.1, 10.0.0.7), 6 replies');
    expect(mon.details).toMatchObject({ requests: 3, replies: 6, responders: ['10.0.0.1', '10.0.0.7'], responderCount: 2, peakPerSecond: 1 });
    expect(mon.remediation).toContain('net.ipv4.icmp_echo_ignore_broadcasts=1');
    expect(mon.remediation).toContain('no ip directed-broadcast');
    expect(frames(attack).slice(0, 3)).toEqual(flood.slice(0, 3));
    expect(attack.details).toMatchObject({ dstIps: ['224.0.0.1'], dstMacs: ['01:00:5e:00:00:01'], peakPerSecond: 20, replies: 0 });
    expect(frames(one)).toEqual([limited]);
  });

  it('is silent for unicast pings', async () => {
    const b = new CaptureBuilder();
    for (let seq = 1; seq <= 30; seq++) {
      b.at(seq * 0.01).ping(monitor, host, { type: 8, id: 1, seq });
      b.at(seq * 0.01 + 0.001).ping(host, monitor, { type: 0, id: 1, seq });
    }
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('takes the medium rate from smurf-medium-rate', async () => {
    const { b } = capture();
    const found = await findingsOf(b, ID, { 'smurf-medium-rate': 21 });
    expect(found.every((f) => f.severity === 'low')).toBe(true);
    const lower = await findingsOf(b, ID, { 'smurf-medium-rate': 1 });
    expect(lower.every((f) => f.severity === 'medium')).toBe(true);
  });
});
