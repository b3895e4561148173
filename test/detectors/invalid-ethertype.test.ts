import { describe, expect, it } from 'vitest';
import { CaptureBuilder } from '../helpers/capture-builder.js';
import { ethernet, ieee8023, stpBpdu } from '../helpers/packets.js';
import { findingsOf, frames } from './helpers.js';

const ID = 'l2.invalid_ethertype';
const broken = '00:1b:21:3a:4f:5e';
const other = '02:00:00:00:00:99';

function capture(): { b: CaptureBuilder; bad1504: number[]; bad1535: number; otherFrame: number } {
  const b = new CaptureBuilder();
  const bad1504: number[] = [];
  bad1504.push(b.at(0).add(ethernet({ src: broken, dst: 'ff:ff:ff:ff:ff:ff', type: 1504 }, new Uint8Array(46))));
  b.at(0.5).add(ieee8023({ src: '02:00:00:00:00:01', dst: '01:80:c2:00:00:00' }, stpBpdu({ rootMac: '02:00:00:00:00:01', bridgeMac: '02:00:00:00:00:01' })));
  bad1504.push(b.at(1).add(ethernet({ src: broken, dst: '02:00:00:00:00:02', type: 1504 }, new Uint8Array(46))));
  const bad1535 = b.at(1.5).add(ethernet({ src: broken, dst: '02:00:00:00:00:02', vlans: [7], type: 1535 }, new Uint8Array(46)));
  bad1504.push(b.at(2).add(ethernet({ src: broken, dst: 'ff:ff:ff:ff:ff:ff', type: 1504 }, new Uint8Array(46))));
  const otherFrame = b.at(3).add(ethernet({ src: other, dst: 'ff:ff:ff:ff:ff:ff', type: 1504 }, new Uint8Array(46)));
  return { b, bad1504, bad1535, otherFrame };
}

describe('l2.invalid_ethertype', () => {
  it('reports each (value, source MAC) with its frames', async () => {
    const { b, bad1504, bad1535, otherFrame } = capture();
    const found = await findingsOf(b, ID);
    expect(found.map((f) => f.subject)).toEqual([
      `type/length 1504 (0x05e0) from ${broken}`,
      `type/length 1504 (0x05e0) from ${other}`,
      `type/length 1535 (0x05ff) from ${broken}`,
    ]);
    const [a, o, c] = found as [(typeof found)[0], (typeof found)[0], (typeof found)[0]];
    expect(a).toMatchObject({ severity: 'low', count: 3, evidenceTotal: 3, first: '2023-11-14T22:13:20.000000000Z', last: '2023-11-14T22:13:22.000000000Z' });
    expect(frames(a)).toEqual(bad1504);
    expect(a.evidence[0]).toMatchObject({ srcMac: broken, dstMac: 'ff:ff:ff:ff:ff:ff', what: 'type/length 1504 (0x05e0)' });
    expect(a.details).toMatchObject({ value: 1504, hex: '0x05e0', frames: 3, dstMacs: ['02:00:00:00:00:02', 'ff:ff:ff:ff:ff:ff'] });
    expect(a.explanation).toContain('neither');
    expect(a.remediation).toContain(`bridge fdb show | grep -i ${broken}`);
    expect(frames(o)).toEqual([otherFrame]);
    expect(frames(c)).toEqual([bad1535]);
    expect(c.count).toBe(1);
  });

  it('stays silent for 802.3 length frames and the lowest EtherTypes', async () => {
    const b = new CaptureBuilder();
    b.at(0).add(ieee8023({ src: broken, dst: '01:80:c2:00:00:00' }, stpBpdu({ rootMac: broken, bridgeMac: broken })));
    b.at(1).add(ieee8023({ src: broken, dst: 'ff:ff:ff:ff:ff:ff' }, Uint8Array.from([0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06, ...new Array(28).fill(0)])));
    b.at(2).add(ethernet({ src: broken, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0600 }, new Uint8Array(46)));
    b.at(3).add(ethernet({ src: broken, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0800 }, new Uint8Array(46)));
    expect(await findingsOf(b, ID)).toEqual([]);
  });

  it('reports only sources with invalid-ethertype-min-frames frames', async () => {
    const { b } = capture();
    const found = await findingsOf(b, ID, { 'invalid-ethertype-min-frames': 2 });
    expect(found.map((f) => [f.subject, f.count])).toEqual([[`type/length 1504 (0x05e0) from ${broken}`, 3]]);
  });
});
