/**
 * LINKTYPE_NFLOG (239): the header, TLVs in either byte order, the logged packet in the
 * NFULA_PAYLOAD TLV, and every way a record can be cut or malformed. The public NFLOG captures
 * (tcpdump's, Zeek's, Arkime's, PcapPlusPlus') are compared with tshark field by field in
 * tshark-crosscheck.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Layer, type Frame } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut, decodeFile } from '../helpers/frame-fields.js';
import { concat, ipNumber, ipv4, NFULA_PAYLOAD, NFULA_PREFIX, NFULA_TIMESTAMP, nflogHeader as header, nflogTlv as tlv, udp } from '../helpers/packets.js';

const NFLOG = 239;

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

const CAPTURES = fileURLToPath(new URL('../../captures', import.meta.url));

/** The frame's NFLOG prefix as text. */
function prefixOf(f: Frame): string {
  return new TextDecoder().decode(f.buf.subarray(f.nflogPrefixOff, f.nflogPrefixOff + f.nflogPrefixLen));
}

describe('NFLOG', () => {
  it('decodes the logged IPv4 packet, with the TLVs in either byte order', () => {
    for (const le of [true, false]) {
      const bytes = record(le);
      const { f, events } = decodeBytes(bytes, { linkType: NFLOG });
      expect(f.layers, le ? 'LE' : 'BE').toBe(Layer.RAW_IP | Layer.NFLOG | Layer.IPV4 | Layer.UDP);
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
      expect(f.layers, le ? 'LE' : 'BE').toBe(Layer.RAW_IP | Layer.NFLOG | Layer.IPV4 | Layer.UDP);
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

  it('keeps the group (network byte order) and the prefix up to its NUL, in either TLV byte order', () => {
    for (const le of [true, false]) {
      const bytes = concat(header(2, 0x0102), tlv(NFULA_PREFIX, new TextEncoder().encode('DROP in\0'), le), tlv(NFULA_PAYLOAD, datagram(), le));
      const { f } = decodeBytes(bytes, { linkType: NFLOG });
      expect(f.nflogGroup, le ? 'LE' : 'BE').toBe(0x0102);
      expect(prefixOf(f), le ? 'LE' : 'BE').toBe('DROP in');
    }
  });

  it('has no prefix for a record without the TLV, an empty one for an empty prefix, and what was captured of a cut one', () => {
    const none = decodeBytes(concat(header(2, 5), tlv(NFULA_PAYLOAD, datagram(), true)), { linkType: NFLOG }).f;
    expect([none.nflogGroup, none.nflogPrefixOff, none.nflogPrefixLen]).toEqual([5, -1, 0]);
    const empty = decodeBytes(concat(header(2), tlv(NFULA_PREFIX, Uint8Array.of(0), true), tlv(NFULA_PAYLOAD, datagram(), true)), { linkType: NFLOG }).f;
    expect([prefixOf(empty), empty.nflogPrefixOff >= 0]).toEqual(['', true]);
    // A snap length inside the prefix: the bytes captured, no further.
    const cut = decodeCut(record(true), 4 + 4 + 5, { linkType: NFLOG }).f;
    expect([prefixOf(cut), cut.nflogPrefixCut]).toEqual(['ESTAB', 1]);
    // Cut right after its NUL: whole.
    const whole = decodeCut(record(true), 4 + 4 + 12, { linkType: NFLOG }).f;
    expect([prefixOf(whole), whole.nflogPrefixCut]).toEqual(['ESTABLISHED', 0]);
  });

  it('reads the group and prefix of every packet of the lab capture as tshark did (captures/conntrack-verdicts.kernel.tsv)', async () => {
    // The lab logged each packet with its conntrack state as the prefix, to group 6; the .tsv
    // holds tshark's nflog.prefix for each, in order.
    const expected = fs
      .readFileSync(path.join(CAPTURES, 'conntrack-verdicts.kernel.tsv'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .slice(1)
      .map((l) => l.split('\t')[0]);
    const seen: string[] = [];
    const groups = new Set<number>();
    await decodeFile(path.join(CAPTURES, 'conntrack-verdicts.nflog.pcap'), (f) => {
      groups.add(f.nflogGroup);
      seen.push(prefixOf(f));
    });
    expect(seen.length).toBe(641);
    expect(seen).toEqual(expected);
    expect([...groups]).toEqual([6]);
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
      // From 4 bytes on, the header (and so the group) was read.
      expect(f.layers, `cut at ${n}`).toBe(n >= 4 ? Layer.RAW_IP | Layer.NFLOG : Layer.RAW_IP);
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
