import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { Oui, Sap } from '../../src/decode/llc.js';
import { FrameDecoder, decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { arp, concat, ieee8023, ipNumber, ipv4, macNumber, stpBpdu, udp } from '../helpers/packets.js';

const SRC = '00:1b:2c:3d:4e:5f';
const STP_DST = '01:80:c2:00:00:00';
const PVST_DST = '01:00:0c:cc:cc:cd';

function snap(oui: number, pid: number): Uint8Array {
  return Uint8Array.of(0xaa, 0xaa, 0x03, (oui >> 16) & 0xff, (oui >> 8) & 0xff, oui & 0xff, pid >> 8, pid & 0xff);
}

describe('802.2 LLC', () => {
  it('decodes DSAP, SSAP and a U-format (1-byte) control field', () => {
    const frame = ieee8023({ src: SRC, dst: STP_DST }, stpBpdu({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' }));
    const { f, events } = decodeBytes(frame);
    expect(f.lengthField).toBe(38);
    expect(f.outerEtherType).toBe(38);
    expect(f.etherType).toBe(0);
    expect(f.llcDsap).toBe(Sap.STP);
    expect(f.llcSsap).toBe(Sap.STP);
    expect(f.llcControl).toBe(0x03);
    expect(f.snapOui).toBe(-1);
    expect(f.snapPid).toBe(-1);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.STP);
    expect(events).toEqual({});
  });

  it('reads a 2-byte control field for I- and S-format PDUs', () => {
    // NetBIOS (SAP 0xF0) I-format: N(S)=0, N(R)=1.
    const { f, events } = decodeBytes(ieee8023({ src: SRC, dst: '03:00:00:00:00:01' }, Uint8Array.of(0xf0, 0xf1, 0x00, 0x02, 0xaa, 0xbb)));
    expect(f.llcDsap).toBe(0xf0);
    expect(f.llcSsap).toBe(0xf1);
    expect(f.llcControl).toBe(0x0002);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
    expect(events).toEqual({});
    // S-format (receiver ready).
    expect(decodeBytes(ieee8023({ src: SRC, dst: '03:00:00:00:00:01' }, Uint8Array.of(0xf0, 0xf0, 0x01, 0x05))).f.llcControl).toBe(0x0105);
  });

  it('stops after an LLC header of an unknown SAP without an event', () => {
    const { f, events } = decodeBytes(ieee8023({ src: SRC, dst: '09:00:2b:00:00:0f' }, Uint8Array.of(0xe0, 0xe0, 0x03, 0xff, 0xff)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
    expect(f.llcDsap).toBe(0xe0);
    expect(events).toEqual({});
  });
});

describe('SNAP', () => {
  it('decodes IPv4 carried in RFC 1042 SNAP (OUI 0, protocol id = EtherType)', () => {
    const dgram = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 17, ttl: 9 }, udp({ sport: 520, dport: 520, payload: new Uint8Array(4) }));
    const { f, events } = decodeBytes(ieee8023({ src: SRC, dst: 'ff:ff:ff:ff:ff:ff' }, concat(snap(Oui.ENCAPSULATED_ETHERNET, 0x0800), dgram)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.IPV4 | Layer.UDP);
    expect(f.snapOui).toBe(0);
    expect(f.snapPid).toBe(0x0800);
    expect(f.lengthField).toBe(8 + dgram.length);
    expect(f.etherType).toBe(0x0800);
    expect(f.ipOff).toBe(f.off + 14 + 8);
    expect(f.ipSrc).toBe(ipNumber('192.0.2.1'));
    expect(f.ipTtl).toBe(9);
    expect(f.srcPort).toBe(520);
    expect(events).toEqual({});
  });

  it('decodes ARP carried in SNAP', () => {
    const body = arp({ op: 2, senderMac: SRC, senderIp: '192.0.2.1', targetMac: '00:00:00:00:00:09', targetIp: '192.0.2.9' });
    const { f, events } = decodeBytes(ieee8023({ src: SRC, dst: '00:00:00:00:00:09' }, concat(snap(0, 0x0806), body)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.ARP);
    expect(f.arpOp).toBe(2);
    expect(f.arpSenderMac).toBe(macNumber(SRC));
    expect(events).toEqual({});
  });

  it('keeps the OUI and protocol id of a vendor SNAP frame (Cisco CDP) and decodes nothing more', () => {
    const { f, events } = decodeBytes(ieee8023({ src: SRC, dst: PVST_DST }, concat(snap(Oui.CISCO, 0x2000), new Uint8Array(20))));
    expect(f.snapOui).toBe(0x00000c);
    expect(f.snapPid).toBe(0x2000);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
    expect(events).toEqual({});
  });

  it('does not take a SNAP protocol id below 0x0600 (OUI 0) for an EtherType', () => {
    const { f } = decodeBytes(ieee8023({ src: SRC, dst: PVST_DST }, concat(snap(0, 0x0005), new Uint8Array(20))));
    expect(f.snapPid).toBe(5);
    expect(f.etherType).toBe(0);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
  });

  it('decodes a Cisco PVST+ BPDU (OUI 00000c, protocol id 0x010b)', () => {
    const bpdu = stpBpdu({ rootMac: '00:1b:2c:00:00:01', rootPriority: 32768 + 10, bridgeMac: '00:1b:2c:00:00:02', bridgePriority: 32768 + 10, portId: 0x8003, rootPathCost: 4 }).subarray(3);
    const { f, events } = decodeBytes(ieee8023({ src: SRC, dst: PVST_DST }, concat(snap(Oui.CISCO, 0x010b), bpdu)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC | Layer.STP);
    expect(f.snapOui).toBe(0x00000c);
    expect(f.snapPid).toBe(0x010b);
    expect(f.stpRootPriority).toBe(32778);
    expect(f.stpRootMac).toBe(macNumber('00:1b:2c:00:00:01'));
    expect(f.stpBridgeMac).toBe(macNumber('00:1b:2c:00:00:02'));
    expect(f.stpPortId).toBe(0x8003);
    expect(f.stpRootPathCost).toBe(4);
    expect(events).toEqual({});
  });
});

describe('a frame cut inside LLC or SNAP', () => {
  it('counts decoder.llc.truncated, with the LLC fields once they are whole', () => {
    const dgram = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 17 }, udp({ sport: 1, dport: 2 }));
    const whole = ieee8023({ src: SRC, dst: 'ff:ff:ff:ff:ff:ff' }, concat(snap(0, 0x0800), dgram), false);
    for (let n = 14; n < 22; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.llc.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.lengthField).toBe(whole.length - 14);
      expect((f.layers & Layer.LLC) !== 0, `cut at ${n}`).toBe(n >= 17);
      expect(f.llcDsap).toBe(n >= 17 ? 0xaa : 0);
      expect(f.snapOui).toBe(-1);
    }
    const ipCut = decodeCut(whole, 22);
    expect(ipCut.events).toEqual({ 'decoder.ipv4.truncated': 1 });
    expect(ipCut.f.snapPid).toBe(0x0800);
  });

  it('counts a 2-byte control field cut after its first byte, keeping the SAPs', () => {
    const whole = ieee8023({ src: SRC, dst: '03:00:00:00:00:01' }, Uint8Array.of(0xf0, 0xf1, 0x00, 0x02), false);
    const { f, events } = decodeCut(whole, 17);
    expect(events).toEqual({ 'decoder.llc.truncated': 1 });
    expect(f.truncated).toBe(1);
    expect(f.layers & Layer.LLC).toBe(Layer.LLC);
    expect(f.llcDsap).toBe(0xf0);
    expect(f.llcSsap).toBe(0xf1);
  });

  it('does not leave the previous frame\'s SAPs on a reused Frame when the control field is cut', () => {
    const d = new FrameDecoder();
    d.decode(ieee8023({ src: SRC, dst: STP_DST }, stpBpdu({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' })));
    expect(d.f.llcDsap).toBe(0x42);
    const cut = ieee8023({ src: SRC, dst: '03:00:00:00:00:01' }, Uint8Array.of(0xf0, 0xf1, 0x00, 0x02), false);
    const { f } = d.decode(cut.subarray(0, 17), { wireLen: cut.length });
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
    expect(f.llcDsap).toBe(0xf0);
    expect(f.llcSsap).toBe(0xf1);
  });
});
