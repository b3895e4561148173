import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Frame, Layer } from '../../src/decode/frame.js';
import type { EvidenceItem } from '../../src/detectors/finding.js';
import { ipMultipleMacsDetector } from '../../src/detectors/ip-multiple-macs.js';
import { newEventCounters } from '../../src/events.js';
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

  it('keeps, per address and MAC, what a plain per-frame model of the rule keeps (random ARP and IPv4 sequences)', () => {
    // Frames as the decoder leaves them: only the fields the detector reads are set.
    type Ev = { arp: boolean; op: number; vlan: number; ip: number; mac: number; link: number; dstMac: number; dstIp: number };
    const MAC0 = 0x020000000000; // above 2^32: MACs are doubles
    // Few addresses and MACs, ARP now and then: long runs from one MAC, and many mismatches.
    const evArb = fc.record({
      arp: fc.integer({ min: 0, max: 5 }).map((k) => k === 0),
      op: fc.constantFrom(1, 2, 2, 3),
      vlan: fc.constantFrom(0, 0, 0, 7),
      ip: fc.constantFrom(0, 0xc0000201, 0xc0000201, 0xc0000202, 0xc0010201),
      mac: fc.constantFrom(0, 1, 1, 1, 2, 3).map((k) => (k === 0 ? 0 : MAC0 + k)),
      link: fc.constantFrom(0, 0, 0, 1, 2), // Ethernet, Linux cooked, raw IP
      dstMac: fc.constantFrom(MAC0 + 9, 0xffffffffffff),
      dstIp: fc.constantFrom(0xc0000209, 0x08080808),
    });
    fc.assert(
      fc.property(fc.array(evArb, { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 4 }), (evs, maxIps) => {
        const link = ipMultipleMacsDetector.createLink!({ 'arp-max-ips': maxIps });
        const model = new Map<number, ModelLocal>();
        evs.forEach((ev, i) => {
          const f = frameOf(ev, i);
          link.onFrame(f);
          modelFrame(model, ev, f, maxIps);
        });
        const got = (link.partial() as { locals: Array<Record<string, any>> }).locals.map((e) => ({
          key: e.key,
          vlan: e.vlan,
          ip: e.ip,
          arpMacs: e.arpMacs,
          mismatched: e.mismatched,
          mismatchSpan: { ...e.mismatchSpan },
          mismatchItems: e.mismatchSample.items,
          srcs: e.srcs.map((s: Record<string, any>) => ({ mac: s.mac, frames: s.frames, mismatched: s.mismatched, span: { ...s.span }, items: s.sample.items })),
        }));
        const want = [...model.values()].filter((e) => e.srcs.length >= 2 && e.mismatched > 0).map(({ arpMac: _a, ...e }) => e);
        expect(got).toEqual(want);
      }),
      { numRuns: 300, seed: 20261121 },
    );

    function frameOf(ev: Ev, i: number): Frame {
      const f = new Frame(newEventCounters());
      f.frameNo = i + 1;
      f.tsSec = 1_700_000_000 + i;
      f.tsNs = (i * 7919) % 1e9;
      f.layers = [Layer.ETHERNET, Layer.SLL, Layer.RAW_IP][ev.link]! | (ev.arp ? Layer.ARP : Layer.IPV4);
      f.vlanDepth = ev.vlan === 0 ? 0 : 1;
      f.vlan0 = ev.vlan;
      f.srcMac = ev.link === 2 ? 0 : ev.mac;
      f.dstMac = ev.link === 0 ? ev.dstMac : 0;
      if (ev.arp) {
        f.arpOp = ev.op;
        f.arpSenderIp = ev.ip;
        f.arpSenderMac = ev.mac;
        f.arpTargetIp = ev.dstIp;
      } else {
        f.ipSrc = ev.ip;
        f.ipDst = ev.dstIp;
      }
      return f;
    }
  });

  it('reports only from ip-multiple-macs-min-frames mismatched frames', async () => {
    const { b } = forgedRsts(2);
    expect(await findingsOf(b, ID, { 'ip-multiple-macs-min-frames': 3 })).toEqual([]);
    const [f] = await findingsOf(forgedRsts(3).b, ID, { 'ip-multiple-macs-min-frames': 3 });
    expect(f!.count).toBe(3);
  });
});

/** The model: what the detector keeps per ARP-announced address, frame by frame, with no shortcut. */
interface ModelSpan {
  n: number;
  firstSec: number;
  firstNs: number;
  firstFrame: number;
  lastSec: number;
  lastNs: number;
  lastFrame: number;
}
interface ModelLocal {
  key: number;
  vlan: number;
  ip: number;
  arpMac: number;
  arpMacs: number[];
  mismatched: number;
  mismatchSpan: ModelSpan;
  mismatchItems: EvidenceItem[];
  srcs: Array<{ mac: number; frames: number; mismatched: number; span: ModelSpan; items: EvidenceItem[] }>;
}

function newSpan(): ModelSpan {
  return { n: 0, firstSec: 0, firstNs: 0, firstFrame: 0, lastSec: 0, lastNs: 0, lastFrame: 0 };
}

function addToSpan(s: ModelSpan, f: Frame): void {
  if (s.n === 0) Object.assign(s, { firstSec: f.tsSec, firstNs: f.tsNs, firstFrame: f.frameNo });
  s.n++;
  Object.assign(s, { lastSec: f.tsSec, lastNs: f.tsNs, lastFrame: f.frameNo });
}

/** The evidence item of an IPv4 frame: its MACs as the link records them, and its addresses. */
function ipItem(f: Frame, what: string): EvidenceItem {
  const it: EvidenceItem = { frame: f.frameNo, tsSec: f.tsSec, tsNs: f.tsNs, what };
  if ((f.layers & Layer.ETHERNET) !== 0) Object.assign(it, { srcMac: f.srcMac, dstMac: f.dstMac });
  else if ((f.layers & Layer.SLL) !== 0) it.srcMac = f.srcMac;
  return Object.assign(it, { srcIp: f.ipSrc, dstIp: f.ipDst });
}

function modelFrame(model: Map<number, ModelLocal>, ev: { arp: boolean; op: number; vlan: number; ip: number; mac: number }, f: Frame, maxIps: number): void {
  const key = ev.vlan * 2 ** 32 + ev.ip;
  if (ev.arp) {
    if (ev.ip === 0 || ev.mac === 0 || (ev.op !== 1 && ev.op !== 2)) return;
    const e = model.get(key);
    if (e) {
      // The MAC ARP names now; the list keeps the first eight distinct ones.
      if (e.arpMac !== ev.mac && e.arpMacs.length < 8 && !e.arpMacs.includes(ev.mac)) e.arpMacs.push(ev.mac);
      e.arpMac = ev.mac;
    } else if (model.size < maxIps) {
      model.set(key, { key, vlan: ev.vlan, ip: ev.ip, arpMac: ev.mac, arpMacs: [ev.mac], mismatched: 0, mismatchSpan: newSpan(), mismatchItems: [], srcs: [] });
    }
    return;
  }
  const e = model.get(key);
  if (!e) return;
  let s = e.srcs.find((x) => x.mac === f.srcMac);
  if (!s) e.srcs.push((s = { mac: f.srcMac, frames: 0, mismatched: 0, span: newSpan(), items: [] }));
  s.frames++;
  addToSpan(s.span, f);
  if (s.items.length < 3) s.items.push(ipItem(f, 'IPv4'));
  if (f.srcMac !== e.arpMac) {
    s.mismatched++;
    e.mismatched++;
    addToSpan(e.mismatchSpan, f);
    if (e.mismatchItems.length < 8) e.mismatchItems.push(ipItem(f, 'mismatch'));
  }
}
