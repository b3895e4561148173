import { describe, expect, it } from 'vitest';
import { BROADCAST_MAC, ETHERNET_HEADER_BYTES, isGroupMac } from '../../src/decode/ethernet.js';
import { Layer } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { ethernet, ipv4, macNumber, tcp, udp } from '../helpers/packets.js';

const A = { mac: '02:00:00:00:00:01', ip: '10.0.0.1' };
const B = { mac: '02:00:00:00:00:02', ip: '10.0.0.2' };

function tcpFrame(payloadLen: number, pad = true): Uint8Array {
  const seg = tcp({ sport: 40000, dport: 80, seq: 1000, ack: 2000, flags: 'PA', payload: new Uint8Array(payloadLen).fill(0x61) });
  return ethernet({ src: A.mac, dst: B.mac, type: 0x0800, pad }, ipv4({ src: A.ip, dst: B.ip, proto: 6 }, seg));
}

describe('Ethernet II', () => {
  it('decodes the MACs and the type, then what the type announces', () => {
    const { f, events } = decodeBytes(tcpFrame(10));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
    expect(f.dstMac).toBe(macNumber(B.mac));
    expect(f.srcMac).toBe(macNumber(A.mac));
    expect(f.outerEtherType).toBe(0x0800);
    expect(f.etherType).toBe(0x0800);
    expect(f.lengthField).toBe(0);
    expect(f.invalidType).toBe(0);
    expect(f.ipOff).toBe(f.off + ETHERNET_HEADER_BYTES);
    expect(f.truncated).toBe(0);
    expect(f.event).toBe(-1);
    expect(events).toEqual({});
  });

  it('keeps a MAC with the top bit set exact (48-bit integers, not 32-bit)', () => {
    const frame = ethernet({ src: 'fe:dc:ba:98:76:54', dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 }, new Uint8Array(28));
    const { f } = decodeBytes(frame);
    expect(f.srcMac).toBe(0xfedcba987654);
    expect(f.dstMac).toBe(BROADCAST_MAC);
  });

  it('stops at an EtherType it does not decode, without an event', () => {
    const { f, events } = decodeBytes(ethernet({ src: A.mac, dst: B.mac, type: 0xfe68 }, new Uint8Array(46)));
    expect(f.layers).toBe(Layer.ETHERNET);
    expect(f.etherType).toBe(0xfe68);
    expect(f.outerEtherType).toBe(0xfe68);
    expect(events).toEqual({});
  });

  it('trims the padding of a short frame: the TCP payload length comes from the IP total length', () => {
    const bytes = tcpFrame(0);
    expect(bytes.length).toBe(60); // 54 bytes of headers, 6 of padding
    const { f, events } = decodeBytes(bytes);
    expect(f.ipTotalLen).toBe(40);
    expect(f.ipLen).toBe(40);
    expect(f.l4Len).toBe(20);
    expect(f.tcpPayloadLen).toBe(0);
    expect(events).toEqual({});
    const two = decodeBytes(tcpFrame(2)).f;
    expect(two.tcpPayloadLen).toBe(2);
  });

  it('takes the TCP payload length from the IP total length when a snaplen cut the frame (capLen < wireLen)', () => {
    const whole = tcpFrame(1400);
    const { f, events } = decodeCut(whole, 96);
    expect(f.capLen).toBe(96);
    expect(f.wireLen).toBe(whole.length);
    expect(f.layers & Layer.TCP).toBe(Layer.TCP);
    expect(f.ipLen).toBe(20 + 20 + 1400);
    expect(f.tcpPayloadLen).toBe(1400);
    // Only payload is missing: no header was cut, nothing to count.
    expect(f.truncated).toBe(0);
    expect(events).toEqual({});
  });

  it('trims padding after a UDP datagram too (UDP length checked against the IP payload, not the frame)', () => {
    const frame = ethernet({ src: A.mac, dst: B.mac, type: 0x0800 }, ipv4({ src: A.ip, dst: B.ip, proto: 17 }, udp({ sport: 53, dport: 5353, payload: new Uint8Array(4) })));
    expect(frame.length).toBe(60);
    const { f, events } = decodeBytes(frame);
    expect(f.l4Len).toBe(12);
    expect(f.udpLen).toBe(12);
    expect(events).toEqual({});
  });

  it('marks a frame shorter than 14 bytes truncated, with the MACs once 12 bytes are there', () => {
    const whole = tcpFrame(0);
    for (let n = 0; n < ETHERNET_HEADER_BYTES; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(f.truncated, `cut at ${n}`).toBe(1);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.ethernet.truncated': 1 });
      if (n >= 12) {
        expect(f.layers).toBe(Layer.ETHERNET);
        expect(f.dstMac).toBe(macNumber(B.mac));
        expect(f.srcMac).toBe(macNumber(A.mac));
      } else {
        expect(f.layers).toBe(0);
        expect(f.srcMac).toBe(0);
      }
      expect(f.outerEtherType).toBe(0);
      expect(f.etherType).toBe(0);
    }
  });

  it('counts each cut frame once, for the header it ends in, at every length', () => {
    const whole = tcpFrame(0).subarray(0, 54);
    const expected = (n: number): string | null => {
      if (n < 14) return 'decoder.ethernet.truncated';
      if (n < 34) return 'decoder.ipv4.truncated';
      if (n < 54) return 'decoder.tcp.truncated';
      return null;
    };
    for (let n = 0; n <= whole.length; n++) {
      const { f, events } = decodeCut(whole, n);
      const name = expected(n);
      expect(events, `cut at ${n}`).toEqual(name ? { [name]: 1 } : {});
      expect(f.truncated, `cut at ${n}`).toBe(name ? 1 : 0);
      expect(f.etherType, `cut at ${n}`).toBe(n >= 14 ? 0x0800 : 0);
      expect((f.layers & Layer.IPV4) !== 0, `cut at ${n}`).toBe(n >= 34);
      expect((f.layers & Layer.TCP) !== 0, `cut at ${n}`).toBe(n >= 54);
    }
  });
});

describe('the type/length field', () => {
  it('takes 1501..1535 for neither a length nor an EtherType: invalidType and decoder.ethernet.invalid_type', () => {
    for (const type of [1501, 1518, 1535]) {
      const { f, events } = decodeBytes(ethernet({ src: A.mac, dst: B.mac, type }, new Uint8Array(46)));
      expect(f.invalidType, `type ${type}`).toBe(1);
      expect(f.etherType).toBe(type);
      expect(f.outerEtherType).toBe(type);
      expect(f.lengthField).toBe(0);
      expect(f.layers).toBe(Layer.ETHERNET);
      expect(events).toEqual({ 'decoder.ethernet.invalid_type': 1 });
    }
  });

  it('takes 1500 for an 802.3 length and 1536 (0x0600) for an EtherType', () => {
    const len = decodeBytes(ethernet({ src: A.mac, dst: B.mac, type: 1500 }, Uint8Array.of(0xf0, 0xf0, 0x03)), { wireLen: 1514 });
    expect(len.f.invalidType).toBe(0);
    expect(len.f.lengthField).toBe(1500);
    expect(len.f.etherType).toBe(0);
    expect(len.f.layers & Layer.LLC).toBe(Layer.LLC);
    expect(len.events).toEqual({});
    const type = decodeBytes(ethernet({ src: A.mac, dst: B.mac, type: 0x0600 }, new Uint8Array(46)));
    expect(type.f.invalidType).toBe(0);
    expect(type.f.lengthField).toBe(0);
    expect(type.f.etherType).toBe(0x0600);
    expect(type.events).toEqual({});
  });
});

describe('isGroupMac', () => {
  it('tells group (multicast, broadcast) from individual addresses by the I/G bit', () => {
    expect(isGroupMac(BROADCAST_MAC)).toBe(true);
    expect(isGroupMac(macNumber('01:00:5e:00:00:fb'))).toBe(true);
    expect(isGroupMac(macNumber('01:80:c2:00:00:00'))).toBe(true);
    expect(isGroupMac(macNumber('33:33:00:00:00:01'))).toBe(true);
    expect(isGroupMac(macNumber('00:11:22:33:44:55'))).toBe(false);
    expect(isGroupMac(macNumber('02:00:00:00:00:01'))).toBe(false);
    expect(isGroupMac(macNumber('fe:ff:ff:ff:ff:ff'))).toBe(false);
  });
});
