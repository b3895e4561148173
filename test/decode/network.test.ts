import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { wireBytesFrom } from '../../src/decode/network.js';
import { decodeBytes } from '../helpers/frame-fields.js';
import { concat, ethernet, ieee8023, stpBpdu } from '../helpers/packets.js';

const SRC = '02:00:00:00:00:01';
const STP_DST = '01:80:c2:00:00:00';

describe('decodeTypeField: the 802.3 length case', () => {
  it('treats the bytes after the length as padding, not as the PDU', () => {
    // A TCN BPDU (LLC + 4 bytes = 7) in a padded 60-byte frame: decoded as TCN.
    const tcn = stpBpdu({ type: 0x80, rootMac: '00:00:00:00:00:00', bridgeMac: '00:00:00:00:00:00' });
    expect(tcn.length).toBe(7);
    const ok = decodeBytes(ieee8023({ src: SRC, dst: STP_DST }, tcn));
    expect(ok.f.lengthField).toBe(7);
    expect(ok.f.stpType).toBe(0x80);
    expect(ok.events).toEqual({});

    // A configuration BPDU whose length field claims only 7 bytes: the rest is padding, so the
    // 35-byte BPDU is cut short.
    const config = stpBpdu({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' });
    const frame = ieee8023({ src: SRC, dst: STP_DST }, config);
    frame[12] = 0;
    frame[13] = 7;
    const { f, events } = decodeBytes(frame);
    expect(f.lengthField).toBe(7);
    expect(f.layers & Layer.STP).toBe(Layer.STP);
    expect(f.stpType).toBe(0);
    expect(events).toEqual({ 'decoder.stp.truncated': 1 });
  });

  it('counts a length larger than the bytes on the wire, and decodes what is there', () => {
    const frame = ieee8023({ src: SRC, dst: STP_DST }, Uint8Array.of(0xf0, 0xf0, 0x03, 1, 2, 3), false);
    frame[12] = 0x01;
    frame[13] = 0x00; // 256
    const { f, events } = decodeBytes(frame);
    expect(f.lengthField).toBe(256);
    expect(events).toEqual({ 'decoder.ethernet.bad_8023_length': 1 });
    expect(f.layers).toBe(Layer.ETHERNET | Layer.LLC);
    expect(f.llcDsap).toBe(0xf0);
  });

  it('compares the length with the wire length, so a snaplen cut is no length error', () => {
    const frame = ieee8023({ src: SRC, dst: STP_DST }, Uint8Array.of(0xf0, 0xf0, 0x03, 1, 2, 3), false);
    frame[12] = 0x01;
    frame[13] = 0x00; // 256 bytes of LLC data, of which 6 were captured
    const { events } = decodeBytes(frame, { wireLen: 14 + 256 });
    expect(events).toEqual({});
  });
});

describe('decodeEtherType dispatch', () => {
  it('hands IPv4, ARP, RARP and IPv6 to their decoders and stops at anything else', () => {
    const cases: Array<[number, number]> = [
      [0x0800, Layer.IPV4],
      [0x0806, Layer.ARP],
      [0x8035, Layer.ARP],
      [0x86dd, Layer.IPV6],
      [0x88cc, 0],
      [0x8847, 0],
    ];
    const ipv4Header = Uint8Array.of(0x45, 0, 0, 20, 0, 0, 0, 0, 64, 253, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2);
    const arpBody = concat(Uint8Array.of(0, 1, 8, 0, 6, 4, 0, 3), new Uint8Array(20));
    const ipv6Header = concat(Uint8Array.of(0x60, 0, 0, 0, 0, 0, 59, 64), new Uint8Array(32));
    for (const [type, layer] of cases) {
      const payload = type === 0x0800 ? ipv4Header : type === 0x86dd ? ipv6Header : arpBody;
      const { f } = decodeBytes(ethernet({ src: SRC, dst: STP_DST, type }, payload));
      expect(f.etherType, type.toString(16)).toBe(type);
      expect(f.layers & ~Layer.ETHERNET, type.toString(16)).toBe(layer);
    }
  });
});

describe('wireBytesFrom', () => {
  it('counts the bytes the frame had on the wire from an offset on', () => {
    const { f } = decodeBytes(new Uint8Array(60), { wireLen: 1514, lead: 100 });
    expect(f.off).toBe(100);
    expect(wireBytesFrom(f, f.off)).toBe(1514);
    expect(wireBytesFrom(f, f.off + 14)).toBe(1500);
  });
});
