/**
 * LINKTYPE_NFLOG (239): the header, TLVs in either byte order, the logged packet in the
 * NFULA_PAYLOAD TLV, and every way a record can be cut or malformed. The public NFLOG captures
 * (tcpdump's, Zeek's, Arkime's, PcapPlusPlus') are compared with tshark field by field in
 * tshark-crosscheck.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ipNumber, ipv4, udp } from '../helpers/packets.js';

const NFLOG = 239;
const NFULA_PREFIX = 10;
const NFULA_PAYLOAD = 9;
const NFULA_TIMESTAMP = 3;

/** One TLV: length (header + value, no padding) and type in the given byte order, the value padded to 4 bytes. */
function tlv(type: number, value: Uint8Array, littleEndian: boolean, lengthOverride?: number): Uint8Array {
  const padded = (value.length + 3) & ~3;
  const b = new Uint8Array(4 + padded);
  const v = new DataView(b.buffer);
  v.setUint16(0, lengthOverride ?? 4 + value.length, littleEndian);
  v.setUint16(2, type, littleEndian);
  b.set(value, 4);
  return b;
}

function header(family: number, group = 6): Uint8Array {
  return Uint8Array.of(family, 0, group >> 8, group & 0xff);
}

function datagram(): Uint8Array {
  return ipv4({ src: '10.6.1.2', dst: '10.6.2.2', proto: 17 }, udp({ sport: 41010, dport: 5300, payload: new TextEncoder().encode('query') }));
}

/** A record as NFLOG writes it: a prefix (odd length, so padded), a timestamp, then the packet. */
function record(littleEndian: boolean, family = 2, packet = datagram()): Uint8Array {
  return concat(
    header(family),
    tlv(NFULA_PREFIX, new TextEncoder().encode('ESTABLISHED\0'), littleEndian),
    tlv(NFULA_TIMESTAMP, new Uint8Array(16), littleEndian),
    tlv(NFULA_PAYLOAD, packet, littleEndian),
  );
}

describe('NFLOG', () => {
  it('decodes the logged IPv4 packet, with the TLVs in either byte order', () => {
    for (const le of [true, false]) {
      const bytes = record(le);
      const { f, events } = decodeBytes(bytes, { linkType: NFLOG });
      expect(f.layers, le ? 'LE' : 'BE').toBe(Layer.RAW_IP | Layer.IPV4 | Layer.UDP);
      expect(f.etherType).toBe(0x0800);
      // The packet is the last TLV's value, padded to 4 bytes.
      expect(f.ipOff).toBe(f.off + bytes.length - ((datagram().length + 3) & ~3));
      expect([f.ipSrc, f.ipDst, f.srcPort, f.dstPort]).toEqual([ipNumber('10.6.1.2'), ipNumber('10.6.2.2'), 41010, 5300]);
      expect(events).toEqual({});
    }
  });

  it("tells the byte order from the first TLV's type, also when a large packet makes its length fit both ways", () => {
    // A first TLV of 8 bytes reads 2048 the other way: a 3,000-byte packet's record holds that.
    const big = ipv4({ src: '10.6.1.2', dst: '10.6.2.2', proto: 17 }, udp({ sport: 41010, dport: 5300, payload: new Uint8Array(2972) }));
    for (const le of [true, false]) {
      const bytes = concat(header(2), tlv(1, new Uint8Array(4), le), tlv(NFULA_PAYLOAD, big, le));
      const { f, events } = decodeBytes(bytes, { linkType: NFLOG });
      expect(f.layers, le ? 'LE' : 'BE').toBe(Layer.RAW_IP | Layer.IPV4 | Layer.UDP);
      expect([f.ipLen, f.dstPort], le ? 'LE' : 'BE').toEqual([3000, 5300]);
      expect(events).toEqual({});
    }
  });

  it('reads an IPv6 packet for family AF_INET6, and the version nibble for another family', () => {
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    v6[6] = 59; // no next header
    v6[7] = 64;
    expect(decodeBytes(record(true, 10, v6), { linkType: NFLOG }).f.etherType).toBe(0x86dd);
    const { f } = decodeBytes(record(true, 0, datagram()), { linkType: NFLOG });
    expect([f.etherType, f.layers & Layer.UDP]).toEqual([0x0800, Layer.UDP]);
  });

  it('takes the nested/byte-order flag bits off a TLV type', () => {
    const bytes = concat(header(2), tlv(NFULA_PAYLOAD | 0x8000, datagram(), true));
    expect(decodeBytes(bytes, { linkType: NFLOG }).f.layers & Layer.UDP).toBe(Layer.UDP);
  });

  it('decodes what a snap length left of the packet, as a cut datagram', () => {
    const bytes = record(true);
    const at = bytes.length - ((datagram().length + 3) & ~3);
    const { f, events } = decodeCut(bytes, at + 24, { linkType: NFLOG });
    expect(f.layers & (Layer.IPV4 | Layer.UDP)).toBe(Layer.IPV4);
    expect(f.ipSrc).toBe(ipNumber('10.6.1.2'));
    expect(Object.keys(events)).toEqual(['decoder.udp.truncated']);
  });

  it('counts a record cut before the packet as truncated, in the header, a TLV header or a TLV', () => {
    const bytes = record(true);
    for (const n of [0, 3, 4, 6, 10, 20]) {
      const { f, events } = decodeCut(bytes, n, { linkType: NFLOG });
      expect(f.layers, `cut at ${n}`).toBe(Layer.RAW_IP);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.nflog.truncated': 1 });
    }
  });

  it('says so when a record has no packet, or a TLV length shorter than its header', () => {
    const noPayload = concat(header(2), tlv(NFULA_PREFIX, new TextEncoder().encode('x\0'), true));
    expect(decodeBytes(noPayload, { linkType: NFLOG }).events).toEqual({ 'decoder.nflog.no_payload': 1 });
    expect(decodeBytes(header(2), { linkType: NFLOG }).events).toEqual({ 'decoder.nflog.no_payload': 1 });
    // Zeek's nflog-bad-tlv-len.pcap: a TLV whose length is 0.
    const bad = concat(header(2), tlv(NFULA_PREFIX, new Uint8Array(4), true, 0));
    expect(decodeBytes(bad, { linkType: NFLOG }).events).toEqual({ 'decoder.nflog.bad_tlv_length': 1 });
  });
});
