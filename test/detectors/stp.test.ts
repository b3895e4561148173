import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/analysis/analyze.js';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { concat, ethernet, ieee8023, stpBpdu, type BpduSpec } from '../helpers/packets.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'l2.stp';
const STP_GROUP = '01:80:c2:00:00:00';
const port = '02:00:00:03:01:0a';
const rootMac = '02:00:00:03:00:01';
const newRoot = '02:00:00:03:00:07';

function bpdu(b: CaptureBuilder, src: string, spec: BpduSpec): number {
  return b.add(ieee8023({ src, dst: STP_GROUP }, stpBpdu(spec)));
}

function stable(): { b: CaptureBuilder; bpdus: number[] } {
  const b = new CaptureBuilder();
  const bpdus: number[] = [];
  for (let i = 0; i < 5; i++) {
    b.at(2 * i + 0.5).ping({ mac: '02:00:00:03:00:0a', ip: '10.3.0.11' }, { mac: '02:00:00:03:00:0b', ip: '10.3.0.12' }, { type: 8, id: 1, seq: i });
    bpdus.push(bpdu(b.at(2 * i), port, { rootMac, bridgeMac: rootMac, portId: 0x8002, maxAge: 6, forwardDelay: 4 }));
  }
  return { b, bpdus };
}

/** A bridge with priority 4096 joins: the root changes, topology-change BPDUs follow, and a TCN. */
function rootChange(): { b: CaptureBuilder; change: number; tc: number[]; tcn: number } {
  const b = new CaptureBuilder();
  for (let i = 0; i < 3; i++) bpdu(b.at(2 * i), port, { rootMac, bridgeMac: rootMac });
  const change = bpdu(b.at(6), port, { rootPriority: 4096, rootMac: newRoot, rootPathCost: 4, bridgeMac: rootMac, flags: 0x01 });
  const tc = [change, bpdu(b.at(8), port, { rootPriority: 4096, rootMac: newRoot, rootPathCost: 4, bridgeMac: rootMac, flags: 0x01 })];
  const tcn = b.at(8.5).add(ieee8023({ src: '02:00:00:03:02:0c', dst: STP_GROUP }, stpBpdu({ type: 0x80, rootMac, bridgeMac: rootMac })));
  bpdu(b.at(10), port, { rootPriority: 4096, rootMac: newRoot, rootPathCost: 4, bridgeMac: rootMac });
  return { b, change, tc: [...tc, tcn], tcn };
}

describe('l2.stp', () => {
  it('describes a stable tree: root, sender, hello interval, rate (info)', async () => {
    const { b, bpdus } = stable();
    const file = b.writeTemp('stp.pcap');
    const report = await analyzeFile(file, { threads: 1 });
    const found = report.findings.filter((f) => f.id === ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(f).toMatchObject({ severity: 'info', subject: 'spanning tree (untagged BPDUs)', count: 5, evidenceTotal: 5 });
    expect(frames(f)).toEqual(bpdus);
    expect(f.summary).toContain(`root 32768.${rootMac}`);
    expect(f.summary).toContain('every 2.00 s');
    expect(f.summary).toContain('no topology change');
    expect(f.evidence[0]!.what).toBe(`Config BPDU, root 32768.${rootMac} cost 0, bridge 32768.${rootMac} port 0x8002`);
    const d = f.details as Record<string, any>;
    expect(d).toMatchObject({ vlan: 0, protocols: ['STP (802.1D)'], bpdus: 5, configBpdus: 5, tcnBpdus: 0, topologyChanges: 0, rootChanges: 0, bpdusPerSecond: 0.5 });
    expect(d.roots).toEqual([{ id: `32768.${rootMac}`, priority: 32768, mac: rootMac, bpdus: 5, firstFrame: bpdus[0], lastFrame: bpdus[4] }]);
    expect(d.bridges[0]).toMatchObject({ srcMac: port, bridgeId: `32768.${rootMac}`, ports: ['0x8002'], bpdus: 5, helloTimeSeconds: 2, maxAgeSeconds: 6, forwardDelaySeconds: 4 });
    // BPDUs are LLC frames, never unknown EtherTypes.
    expect(report.findings.filter((x) => x.id === 'l2.unknown_ethertype')).toEqual([]);
  });

  it('raises a root change to medium with the frame where it changed, and counts topology changes', async () => {
    const { b, change, tc, tcn } = rootChange();
    const [f] = await findingsOf(b, ID);
    expect(f).toMatchObject({ severity: 'medium', count: 7, evidenceTotal: 7 });
    expect(f!.summary).toContain(`2 roots: 32768.${rootMac} (frames 1-3), 4096.${newRoot} (frames 4-7)`);
    expect(f!.summary).toContain('root changed 1 time');
    const ev = new Map(f!.evidence.map((e) => [e.frame, e.what]));
    expect(ev.get(change)).toMatch(new RegExp(`^root changed from 32768\\.${rootMac}: Config BPDU, root 4096\\.${newRoot}`));
    expect(ev.get(tcn)).toBe('TCN BPDU (topology change notification)');
    for (const t of tc) expect(ev.has(t)).toBe(true);
    expect(f!.details).toMatchObject({ rootChanges: 1, tcFlagBpdus: 2, tcnBpdus: 1, topologyChanges: 2, firstTcFrame: change, lastTcFrame: tcn });
    expect(f!.remediation).toContain('priority 4096');
  });

  it('keeps PVST+ trees per VLAN', async () => {
    const b = new CaptureBuilder();
    const pvst = (vlan: number, t: number) => {
      const body = stpBpdu({ version: 2, rootPriority: 32768 + vlan, rootMac, bridgePriority: 32768 + vlan, bridgeMac: rootMac }).subarray(3);
      const llc = concat(Uint8Array.of(0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x01, 0x0b), body);
      return b.at(t).add(ethernet({ src: port, dst: '01:00:0c:cc:cc:cd', vlans: [vlan], type: llc.length }, llc));
    };
    const v10 = [pvst(10, 0), pvst(10, 2)];
    const v20 = [pvst(20, 0.1)];
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.count, f.severity])).toEqual([
      ['spanning tree, VLAN 10', 2, 'info'],
      ['spanning tree, VLAN 20', 1, 'info'],
    ]);
    expect(frames(found[0]!)).toEqual(v10);
    expect(frames(found[1]!)).toEqual(v20);
    expect(found[0]!.details).toMatchObject({ vlan: 10, protocols: ['Cisco PVST+'], roots: [{ id: `32778.${rootMac}` }] });
  });

  it('keeps the PVST+ trees sent untagged on the native VLAN apart: one root each, not several roots of one tree', async () => {
    // A Cisco trunk sends the IEEE BPDU and every VLAN's PVST+ BPDU untagged; each VLAN's root
    // carries its VLAN in the priority (32768 + 1, 32768 + 5): tcpdump's rpvstp-trunk-native-vid5.
    const b = new CaptureBuilder();
    const pvstUntagged = (vlan: number, t: number) => {
      const body = stpBpdu({ version: 2, rootPriority: 32768 + vlan, rootMac, bridgePriority: 32768 + vlan, bridgeMac: rootMac }).subarray(3);
      const llc = concat(Uint8Array.of(0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x01, 0x0b), body);
      return b.at(t).add(ethernet({ src: port, dst: '01:00:0c:cc:cc:cd', type: llc.length }, llc));
    };
    const ieee = [bpdu(b.at(0), port, { version: 2, rootPriority: 32769, rootMac, bridgePriority: 32769, bridgeMac: rootMac }), bpdu(b.at(2), port, { version: 2, rootPriority: 32769, rootMac, bridgePriority: 32769, bridgeMac: rootMac })];
    const v1 = [pvstUntagged(1, 0.1), pvstUntagged(1, 2.1)];
    const v5 = [pvstUntagged(5, 0.2), pvstUntagged(5, 2.2)];
    const found = await findingsOf(b, ID);
    expect(found.map((f) => [f.subject, f.count, f.severity])).toEqual([
      ['spanning tree (untagged BPDUs)', 2, 'info'],
      ['spanning tree (untagged BPDUs), PVST+ VLAN 1', 2, 'info'],
      ['spanning tree (untagged BPDUs), PVST+ VLAN 5', 2, 'info'],
    ]);
    expect(found.map(frames)).toEqual([ieee, v1, v5]);
    expect(found[2]!.details).toMatchObject({ vlan: 0, pvstVlan: 5, roots: [{ id: `32773.${rootMac}` }] });
  });

  it('topology changes alone raise it to low; stp-tc-low=0 keeps it info; no BPDU, no finding', async () => {
    const b = new CaptureBuilder();
    for (let i = 0; i < 4; i++) bpdu(b.at(2 * i), port, { version: 2, rootMac, bridgeMac: rootMac, flags: i === 2 ? 0x01 : 0x3c });
    const [low] = await findingsOf(b, ID);
    expect(low).toMatchObject({ severity: 'low' });
    expect(low!.details).toMatchObject({ protocols: ['RSTP (802.1w)'], rstBpdus: 4, topologyChanges: 1, tcFlagBpdus: 1, firstTcFrame: 3 });
    const [info] = await findingsOf(b, ID, { 'stp-tc-low': 0 });
    expect(info!.severity).toBe('info');
    const none = new CaptureBuilder();
    none.at(0).ping({ mac: '02:00:00:03:00:0a', ip: '10.3.0.11' }, { mac: '02:00:00:03:00:0b', ip: '10.3.0.12' }, { type: 8, id: 1, seq: 1 });
    expect(await findingsOf(none, ID)).toEqual([]);
  });
});
