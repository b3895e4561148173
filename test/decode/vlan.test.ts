import { describe, expect, it } from 'vitest';
import { Layer, MAX_VLAN_DEPTH } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ethernet, ieee8023, ipNumber, ipv4, stpBpdu, tcp } from '../helpers/packets.js';

const SRC = '02:00:00:00:00:01';
const DST = '02:00:00:00:00:02';

function ip(): Uint8Array {
  return ipv4({ src: '10.1.1.1', dst: '10.1.1.2', proto: 6 }, tcp({ sport: 1234, dport: 443, flags: 'S', seq: 7 }));
}

function vids(f: { vlanDepth: number; vlanId(n: number): number }): number[] {
  return Array.from({ length: f.vlanDepth }, (_, i) => f.vlanId(i));
}

describe('802.1Q tags', () => {
  it('decodes one tag: the VLAN id, then the inner EtherType and what follows', () => {
    const { f, events } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [100], type: 0x0800 }, ip()));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.VLAN | Layer.IPV4 | Layer.TCP);
    expect(f.outerEtherType).toBe(0x8100);
    expect(f.etherType).toBe(0x0800);
    expect(f.vlanDepth).toBe(1);
    expect(f.vlan0).toBe(100);
    expect(f.ipOff).toBe(f.off + 18);
    expect(f.ipSrc).toBe(ipNumber('10.1.1.1'));
    expect(f.dstPort).toBe(443);
    expect(events).toEqual({});
  });

  it('keeps the 12-bit id only: priority and DEI bits are not part of it', () => {
    const frame = ethernet({ src: SRC, dst: DST, vlans: [100], type: 0x0800 }, ip());
    frame[14] = 0xf0 | (100 >> 8); // PCP 7, DEI 1
    const { f } = decodeBytes(frame);
    expect(f.vlan0).toBe(100);
    const max = ethernet({ src: SRC, dst: DST, vlans: [4095], type: 0x0800 }, ip());
    expect(decodeBytes(max).f.vlan0).toBe(4095);
  });

  it('decodes a priority tag (VLAN 0)', () => {
    const { f } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [0], type: 0x0800 }, ip()));
    expect(f.vlanDepth).toBe(1);
    expect(f.vlan0).toBe(0);
    expect(f.layers & Layer.TCP).toBe(Layer.TCP);
  });
});

describe('stacked tags (QinQ)', () => {
  it('decodes 802.1ad (0x88a8) + 802.1Q at depth 2, outermost first', () => {
    const { f, events } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [200, 300], tpids: [0x88a8, 0x8100], type: 0x0800 }, ip()));
    expect(f.outerEtherType).toBe(0x88a8);
    expect(f.vlanDepth).toBe(2);
    expect(vids(f)).toEqual([200, 300]);
    expect(f.etherType).toBe(0x0800);
    expect(f.ipOff).toBe(f.off + 22);
    expect(f.layers & Layer.TCP).toBe(Layer.TCP);
    expect(events).toEqual({});
  });

  it('decodes the old 0x9100, 0x9200 and 0x9300 TPIDs as tags', () => {
    for (const tpid of [0x9100, 0x9200, 0x9300]) {
      const { f, events } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [10, 20], tpids: [tpid, 0x8100], type: 0x0800 }, ip()));
      expect(f.outerEtherType, tpid.toString(16)).toBe(tpid);
      expect(vids(f)).toEqual([10, 20]);
      expect(f.layers & Layer.IPV4).toBe(Layer.IPV4);
      expect(events).toEqual({});
    }
  });

  it(`decodes ${MAX_VLAN_DEPTH} tags, the most it keeps`, () => {
    const { f, events } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [1, 2, 3, 4], tpids: [0x88a8, 0x8100, 0x8100, 0x8100], type: 0x0800 }, ip()));
    expect(f.vlanDepth).toBe(4);
    expect(vids(f)).toEqual([1, 2, 3, 4]);
    expect([f.vlan0, f.vlan1, f.vlan2, f.vlan3]).toEqual([1, 2, 3, 4]);
    expect(f.etherType).toBe(0x0800);
    expect(f.ipOff).toBe(f.off + 14 + 16);
    expect(f.layers & Layer.TCP).toBe(Layer.TCP);
    expect(events).toEqual({});
  });

  it('stops at a fifth tag: decoder.vlan.too_deep, the four ids kept, nothing decoded after', () => {
    const { f, events } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [1, 2, 3, 4, 5], type: 0x0800 }, ip()));
    expect(events).toEqual({ 'decoder.vlan.too_deep': 1 });
    expect(f.vlanDepth).toBe(4);
    expect(vids(f)).toEqual([1, 2, 3, 4]);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.VLAN);
    expect(f.ipOff).toBe(-1);
    expect(f.truncated).toBe(0);
  });

  it('reads an invalid type (1501..1535) after a tag as invalid', () => {
    const { f, events } = decodeBytes(ethernet({ src: SRC, dst: DST, vlans: [7], type: 0x05ee }, new Uint8Array(46)));
    expect(f.vlan0).toBe(7);
    expect(f.invalidType).toBe(1);
    expect(f.etherType).toBe(0x05ee);
    expect(events).toEqual({ 'decoder.ethernet.invalid_type': 1 });
  });

  it('decodes an 802.3 length after a tag: LLC follows', () => {
    const llc = stpBpdu({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' });
    const frame = ethernet({ src: SRC, dst: '01:80:c2:00:00:00', vlans: [30], type: llc.length }, llc);
    const { f, events } = decodeBytes(frame);
    expect(f.vlan0).toBe(30);
    expect(f.lengthField).toBe(llc.length);
    expect(f.etherType).toBe(0);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.VLAN | Layer.LLC | Layer.STP);
    expect(events).toEqual({});
    // The same BPDU untagged, for comparison.
    expect(decodeBytes(ieee8023({ src: SRC, dst: '01:80:c2:00:00:00' }, llc)).f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.STP);
  });
});

describe('a frame cut inside the tags', () => {
  it('counts decoder.vlan.truncated, keeping the tags that were whole', () => {
    const whole = ethernet({ src: SRC, dst: DST, vlans: [200, 300], tpids: [0x88a8, 0x8100], type: 0x0800 }, ip(), );
    for (let n = 14; n < 22; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.vlan.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.outerEtherType).toBe(0x88a8);
      expect(f.vlanDepth).toBe(n >= 18 ? 1 : 0);
      expect(f.vlan0).toBe(n >= 18 ? 200 : 0);
      expect(f.etherType).toBe(0);
      expect(f.layers).toBe(n >= 18 ? Layer.ETHERNET | Layer.VLAN : Layer.ETHERNET);
    }
    const after = decodeCut(whole, 22);
    expect(after.events).toEqual({ 'decoder.ipv4.truncated': 1 });
    expect(vids(after.f)).toEqual([200, 300]);
    expect(after.f.etherType).toBe(0x0800);
  });
});

describe('tags in front of ARP', () => {
  it('decodes ARP after a tag', () => {
    const arpBody = concat(Uint8Array.of(0, 1, 8, 0, 6, 4, 0, 1), new Uint8Array(20));
    const { f, events } = decodeBytes(ethernet({ src: SRC, dst: 'ff:ff:ff:ff:ff:ff', vlans: [12], type: 0x0806 }, arpBody));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.VLAN | Layer.ARP);
    expect(f.arpOp).toBe(1);
    expect(events).toEqual({});
  });
});
