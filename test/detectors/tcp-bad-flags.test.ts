import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'tcp.bad_flags';
const scanner = { mac: '02:00:00:09:00:01', ip: '198.51.100.7' };
const target = { mac: '02:00:00:09:00:05', ip: '10.0.0.5' };
const target2 = { mac: '02:00:00:09:00:06', ip: '10.0.0.6' };
const client = { mac: '02:00:00:09:00:10', ip: '10.0.0.10' };

function scan() {
  const b = new CaptureBuilder();
  const nul = [21, 22, 23].map((p, i) => b.at(i * 0.01).tcp(scanner, target, { sport: 61000, dport: p, flags: 0 }));
  const xmas = [b.at(1).tcp(scanner, target, { sport: 61001, dport: 80, flags: 'FPU' }), b.at(1.01).tcp(scanner, target2, { sport: 61001, dport: 80, flags: 'FPU' })];
  const synFin = b.at(2).tcp(scanner, target, { sport: 61002, dport: 443, flags: 'SF' });
  const fin = [b.at(3).tcp(scanner, target, { sport: 61003, dport: 25, flags: 'F' }), b.at(3.01).tcp(scanner, target, { sport: 61003, dport: 26, flags: 'F' })];
  const synRst = b.at(4).tcp(client, target, { sport: 5000, dport: 80, flags: 'SR' });
  // The target's answers: RSTs from closed ports are normal segments.
  b.at(0.001).tcp(target, scanner, { sport: 21, dport: 61000, flags: 'RA', ack: 1 });
  return { b, nul, xmas, synFin, fin, synRst };
}

describe('tcp.bad_flags', () => {
  it('reports each kind per source IP, with targets and evidence', async () => {
    const { b, nul, xmas, synFin, fin, synRst } = scan();
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.severity, f.count])).toEqual([
      ['10.0.0.10 (SYN+RST)', 'medium', 1],
      ['198.51.100.7 (FIN scan)', 'medium', 2],
      ['198.51.100.7 (NULL scan)', 'medium', 3],
      ['198.51.100.7 (SYN+FIN)', 'medium', 1],
      ['198.51.100.7 (Xmas scan)', 'medium', 2],
    ]);
    const by = new Map(found.map((f) => [f.subject, f]));
    const n = by.get('198.51.100.7 (NULL scan)')!;
    expect(frames(n)).toEqual(nul);
    expect(n.evidence[0]).toMatchObject({ what: 'TCP flags none (0x000)', src: '198.51.100.7:61000', dst: '10.0.0.5:21', srcMac: scanner.mac, dstMac: target.mac });
    expect(n.summary).toBe(`198.51.100.7 sent 3 TCP segments with NULL scan (no flag set) to 1 host (10.0.0.5), ports 21, 22, 23, frames ${nul[0]}-${nul[2]}`);
    expect(n.details).toMatchObject({ kind: 'null', srcIp: '198.51.100.7', srcMacs: [scanner.mac], frames: 3, dstHosts: 1, dstPorts: 3, ports: [21, 22, 23], flagValues: ['0x000'] });
    expect(n.remediation).toContain('iptables -A INPUT -p tcp --tcp-flags ALL NONE -j DROP');
    expect(n.remediation).toContain('--ctstate INVALID -j DROP');
    expect(n.explanation).toContain('INVALID');
    const x = by.get('198.51.100.7 (Xmas scan)')!;
    expect(frames(x)).toEqual(xmas);
    expect(x.evidence[0]!.what).toBe('TCP flags FIN+PSH+URG (0x029)');
    expect(x.details).toMatchObject({ dstHosts: 2, dstPorts: 1 });
    expect(x.remediation).toContain('--tcp-flags ALL FIN,PSH,URG -j DROP');
    expect(frames(by.get('198.51.100.7 (SYN+FIN)')!)).toEqual([synFin]);
    expect(frames(by.get('198.51.100.7 (FIN scan)')!)).toEqual(fin);
    expect(frames(by.get('10.0.0.10 (SYN+RST)')!)).toEqual([synRst]);
  });

  it('is silent for normal handshakes, closes, resets, ECN and urgent data', async () => {
    const b = new CaptureBuilder();
    b.at(0).tcp(client, target, { sport: 5000, dport: 80, flags: 'SEC', synOpts: true });
    b.at(0.001).tcp(target, client, { sport: 80, dport: 5000, flags: 'SAE', ack: 1, synOpts: true });
    b.at(0.002).tcp(client, target, { sport: 5000, dport: 80, flags: 'A', seq: 1, ack: 1 });
    b.at(0.003).tcp(client, target, { sport: 5000, dport: 80, flags: 'PA', seq: 1, ack: 1, len: 10 });
    b.at(0.004).tcp(client, target, { sport: 5000, dport: 80, flags: 'UA', seq: 11, ack: 1, len: 1, urgent: 1 });
    b.at(0.005).tcp(target, client, { sport: 80, dport: 5000, flags: 'FA', seq: 1, ack: 12 });
    b.at(0.006).tcp(client, target, { sport: 5000, dport: 80, flags: 'FPA', seq: 12, ack: 2 });
    b.at(0.007).tcp(target, client, { sport: 80, dport: 5000, flags: 'A', seq: 2, ack: 13 });
    b.at(1).tcp(client, target, { sport: 5001, dport: 81, flags: 'S' });
    b.at(1.001).tcp(target, client, { sport: 81, dport: 5001, flags: 'RA', ack: 1 });
    b.at(1.002).tcp(client, target, { sport: 5001, dport: 81, flags: 'R', seq: 1 });
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('reports only from tcp-bad-flags-min-frames segments', async () => {
    const { b } = scan();
    const found = await findingsOf(b, ID, { 'tcp-bad-flags-min-frames': 3 });
    expect(found.map((f) => f.subject)).toEqual(['198.51.100.7 (NULL scan)']);
  });
});
