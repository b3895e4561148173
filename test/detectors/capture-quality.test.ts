import { describe, expect, it } from 'vitest';
import { CaptureBuilder, writeTempFile } from '../helpers/capture-builder.js';
import { concat, ethernet, ipv4, udp } from '../helpers/packets.js';
import { reportOf } from './helpers.js';

const ID = 'capture.quality';
const a = { mac: '02:00:00:0b:00:01', ip: '10.11.0.1' };
const c = { mac: '02:00:00:0b:00:02', ip: '10.11.0.2' };

function normal(): CaptureBuilder {
  const b = new CaptureBuilder();
  b.at(0).tcp(a, c, { sport: 40000, dport: 22, flags: 'S' });
  b.at(0.001).tcp(c, a, { sport: 22, dport: 40000, flags: 'SA', ack: 1 });
  b.at(0.002).tcp(a, c, { sport: 40000, dport: 22, flags: 'A', seq: 1, ack: 1 });
  return b;
}

/** An interface statistics block (pcapng) saying `dropped` packets were dropped by the interface. */
function isb(dropped: number): Uint8Array {
  const out = new Uint8Array(48);
  const v = new DataView(out.buffer);
  v.setUint32(0, 5, true);
  v.setUint32(4, 48, true);
  v.setUint32(8, 0, true); // interface 0
  v.setUint32(12, 0, true);
  v.setUint32(16, 0, true);
  v.setUint16(20, 5, true); // isb_ifdrop
  v.setUint16(22, 8, true);
  v.setUint32(24, dropped, true);
  v.setUint32(28, 0, true);
  v.setUint16(32, 0, true); // opt_endofopt
  v.setUint16(34, 0, true);
  v.setUint32(44, 48, true);
  return out;
}

describe('capture.quality', () => {
  it('says nothing about a clean capture', async () => {
    const r = await reportOf(normal().writeTemp('clean.pcap'));
    expect(r.findings.filter((f) => f.id === ID)).toEqual([]);
  });

  it('sums up truncated frames, decode events and the read error', async () => {
    const b = normal();
    const full = ethernet({ src: a.mac, dst: c.mac, type: 0x0800 }, ipv4({ src: a.ip, dst: c.ip, proto: 17 }, udp({ sport: 1, dport: 2, payload: new Uint8Array(20) })));
    b.at(1).add(full.subarray(0, 38), full.length); // cut inside the UDP header
    b.at(2).add(ethernet({ src: a.mac, dst: c.mac, type: 0x0800 }, ipv4({ src: a.ip, dst: c.ip, proto: 17, badChecksum: true }, udp({ sport: 1, dport: 2 }))));
    b.at(3).tcp(a, c, { sport: 40000, dport: 22, flags: 'A', seq: 1, ack: 1 });
    const bytes = b.pcap();
    // The last record is cut in the middle (a copy of a capture still being written).
    const file = writeTempFile('cut.pcap', bytes.subarray(0, bytes.length - 20));
    const r = await reportOf(file);
    const found = r.findings.filter((f) => f.id === ID);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    expect(r.error).not.toBeNull();
    expect(f).toMatchObject({ severity: 'info', subject: 'capture', evidence: [], evidenceTotal: 0, first: r.start, last: r.end });
    expect(f.count).toBe(Object.values(r.events).reduce((n, k) => n + k, 0) + 1);
    expect(r.events['decoder.udp.truncated']).toBe(1);
    expect(r.events['decoder.ipv4.bad_checksum']).toBe(1);
    expect(f.summary).toContain('1 frame cut inside a header');
    expect(f.summary).toContain(`reading stopped at frame ${r.error!.frame}, byte offset ${r.error!.offset}`);
    expect(f.summary).toContain('decoder.ipv4.bad_checksum 1');
    expect(f.details).toMatchObject({ frames: 5, truncatedFrames: 1, droppedByCapture: null, flowEvictions: 0, error: { frame: r.error!.frame, offset: r.error!.offset } });
    expect(f.explanation).toContain('IPv4 header checksum does not verify');
    expect(f.remediation).toContain('tcpdump -s 0');
    expect(f.remediation).toContain('pcapfix');
  });

  it('reports the packets the capturing tool dropped and the flows evicted by --max-flows', async () => {
    const b = normal();
    for (let i = 0; i < 40; i++) b.at(1 + i * 0.01).udp(a, c, { sport: 10000 + i, dport: 53 });
    const file = writeTempFile('drops.pcapng', concat(b.pcapng(), isb(1474)));
    const r = await reportOf(file, { 'max-flows': 16 });
    const [f] = r.findings.filter((x) => x.id === ID);
    expect(r.droppedByCapture).toBe(1474);
    expect(r.flows.evictions).toBeGreaterThan(0);
    expect(f!.summary).toBe(`Capture quality: 1474 packets dropped by the capturing tool; ${r.flows.evictions} flows evicted from the flow table`);
    expect(f!.count).toBe(1474 + r.flows.evictions);
    expect(f!.details).toMatchObject({ droppedByCapture: 1474, flowEvictions: r.flows.evictions, events: {} });
    expect(f!.remediation).toContain('tcpdump -B 16384');
    expect(f!.remediation).toContain('--max-flows');
  });
});
