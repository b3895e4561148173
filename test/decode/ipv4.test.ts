import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { headerChecksumOk } from '../../src/decode/ipv4.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ethernet, ipNumber, ipv4, tcp, udp, type Ipv4Spec } from '../helpers/packets.js';

const SRC_MAC = '02:00:00:00:00:01';
const DST_MAC = '02:00:00:00:00:02';

function frame(spec: Partial<Ipv4Spec>, payload: Uint8Array, pad = true): Uint8Array {
  return ethernet({ src: SRC_MAC, dst: DST_MAC, type: 0x0800, pad }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, ...spec }, payload));
}

function seg(payloadLen = 0): Uint8Array {
  return tcp({ sport: 33000, dport: 22, seq: 100, ack: 200, flags: 'A', payload: new Uint8Array(payloadLen).fill(0x42) });
}

describe('IPv4 header fields', () => {
  it('decodes every field and verifies the header checksum', () => {
    const { f, events } = decodeBytes(frame({ tos: 0x10, id: 0x1234, df: true, ttl: 57, src: '172.16.5.4', dst: '224.0.0.251' }, seg(10)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
    expect(f.ipOff).toBe(f.off + 14);
    expect(f.ipHeaderLen).toBe(20);
    expect(f.ipTos).toBe(0x10);
    expect(f.ipTotalLen).toBe(50);
    expect(f.ipLen).toBe(50);
    expect(f.ipId).toBe(0x1234);
    expect(f.ipDf).toBe(1);
    expect(f.ipMf).toBe(0);
    expect(f.ipFragOffset).toBe(0);
    expect(f.ipTtl).toBe(57);
    expect(f.ipProto).toBe(6);
    expect(f.ipSrc).toBe(ipNumber('172.16.5.4'));
    expect(f.ipDst).toBe(ipNumber('224.0.0.251'));
    expect(f.ipChecksumOk).toBe(1);
    expect(f.l4Off).toBe(f.ipOff + 20);
    expect(f.l4Len).toBe(30);
    expect(f.tcpPayloadLen).toBe(10);
    expect(events).toEqual({});
  });

  it('keeps addresses with the top bit set unsigned', () => {
    const { f } = decodeBytes(frame({ src: '255.255.255.255', dst: '192.168.0.1', proto: 17 }, udp({ sport: 68, dport: 67 })));
    expect(f.ipSrc).toBe(0xffffffff);
    expect(f.ipDst).toBe(0xc0a80001);
  });

  it('skips IP options by the header length', () => {
    const options = Uint8Array.of(0x94, 0x04, 0x00, 0x00); // router alert
    const { f, events } = decodeBytes(frame({ options }, seg(4)));
    expect(f.ipHeaderLen).toBe(24);
    expect(f.ipChecksumOk).toBe(1);
    expect(f.l4Off).toBe(f.ipOff + 24);
    expect(f.srcPort).toBe(33000);
    expect(f.dstPort).toBe(22);
    expect(f.tcpPayloadLen).toBe(4);
    expect(events).toEqual({});
  });

  it('stops at a protocol it does not decode, with the L4 offset and length set', () => {
    const { f, events } = decodeBytes(frame({ proto: 47 }, new Uint8Array(24)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4);
    expect(f.ipProto).toBe(47);
    expect(f.l4Off).toBe(f.ipOff + 20);
    expect(f.l4Len).toBe(24);
    expect(events).toEqual({});
  });
});

describe('the header checksum', () => {
  it('counts a bad checksum (decoder.ipv4.bad_checksum) and decodes on', () => {
    const { f, events } = decodeBytes(frame({ badChecksum: true }, seg()));
    expect(f.ipChecksumOk).toBe(0);
    expect(events).toEqual({ 'decoder.ipv4.bad_checksum': 1 });
    expect(f.layers & Layer.TCP).toBe(Layer.TCP);
  });

  it('headerChecksumOk verifies a header with and without options', () => {
    const good = ipv4({ src: '10.9.8.7', dst: '10.1.2.3', proto: 17, id: 0xbeef, ttl: 1 }, new Uint8Array(8));
    expect(headerChecksumOk(good, 0, 20)).toBe(true);
    const withOpts = ipv4({ src: '10.9.8.7', dst: '10.1.2.3', proto: 17, options: Uint8Array.of(1, 1, 1, 0, 7, 3, 4, 0) }, new Uint8Array(8));
    expect(headerChecksumOk(withOpts, 0, 28)).toBe(true);
    const bad = ipv4({ src: '10.9.8.7', dst: '10.1.2.3', proto: 17, badChecksum: true }, new Uint8Array(8));
    expect(headerChecksumOk(bad, 0, 20)).toBe(false);
    const shifted = concat(new Uint8Array(5), good);
    expect(headerChecksumOk(shifted, 5, 20)).toBe(true);
  });

  it('headerChecksumOk agrees with a plain sum of 16-bit words on any header of 20 to 60 bytes', () => {
    // RFC 1071, word by word: the reference the split-byte sum must match.
    const reference = (b: Uint8Array, off: number, len: number): boolean => {
      let sum = 0;
      for (let i = 0; i < len; i += 2) sum += (b[off + i]! << 8) | b[off + i + 1]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return sum === 0xffff;
    };
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 15 }), fc.uint8Array({ minLength: 60, maxLength: 60 }), fc.boolean(), (ihl, bytes, fix) => {
        const len = ihl * 4;
        if (fix) {
          // Make it valid: set the checksum field (bytes 10-11) to the complement of the rest.
          bytes[10] = 0;
          bytes[11] = 0;
          let sum = 0;
          for (let i = 0; i < len; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
          while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
          const ck = ~sum & 0xffff;
          bytes[10] = ck >>> 8;
          bytes[11] = ck & 0xff;
        }
        expect(headerChecksumOk(bytes, 0, len)).toBe(reference(bytes, 0, len));
        if (fix) expect(headerChecksumOk(bytes, 0, len)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // All ones: the largest sums.
    expect(headerChecksumOk(new Uint8Array(60).fill(0xff), 0, 60)).toBe(reference(new Uint8Array(60).fill(0xff), 0, 60));
  });
});

describe('impossible headers', () => {
  it('stops at a header length below 20 bytes (decoder.ipv4.bad_header_length)', () => {
    for (let ihl = 0; ihl < 5; ihl++) {
      const bytes = frame({}, seg());
      bytes[14] = 0x40 | ihl;
      const { f, events } = decodeBytes(bytes);
      expect(events, `ihl ${ihl}`).toEqual({ 'decoder.ipv4.bad_header_length': 1 });
      expect(f.layers).toBe(Layer.ETHERNET);
      expect(f.ipOff).toBe(-1);
      expect(f.l4Off).toBe(-1);
      expect(f.truncated).toBe(0);
    }
  });

  it('stops at a version other than 4 (decoder.ipv4.bad_version)', () => {
    const bytes = frame({}, seg());
    bytes[14] = 0x65;
    const { f, events } = decodeBytes(bytes);
    expect(events).toEqual({ 'decoder.ipv4.bad_version': 1 });
    expect(f.layers).toBe(Layer.ETHERNET);
  });

  it('stops after the header at a total length below the header length (decoder.ipv4.bad_total_length)', () => {
    for (const [totalLength, options] of [
      [19, undefined],
      [1, undefined],
      [23, Uint8Array.of(1, 1, 1, 1)],
    ] as const) {
      const { f, events } = decodeBytes(frame({ totalLength, ...(options ? { options } : {}) }, seg()));
      expect(events, `total ${totalLength}`).toEqual({ 'decoder.ipv4.bad_total_length': 1 });
      expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4);
      expect(f.ipTotalLen).toBe(totalLength);
      expect(f.ipSrc).toBe(ipNumber('10.0.0.1'));
      expect(f.ipLen).toBe(0);
      expect(f.l4Off).toBe(-1);
      expect(f.srcPort).toBe(0);
    }
  });

  it('reads a total length of 0 as a segmentation-offload frame: the length comes from the wire', () => {
    const bytes = frame({ totalLength: 0 }, seg(3000));
    const { f, events } = decodeBytes(bytes);
    expect(events).toEqual({ 'decoder.ipv4.tso_zero_length': 1 });
    expect(f.ipTotalLen).toBe(0);
    expect(f.ipLen).toBe(20 + 20 + 3000);
    expect(f.l4Len).toBe(20 + 3000);
    expect(f.tcpPayloadLen).toBe(3000);
    // Cut by a snaplen: still the length on the wire.
    const cut = decodeCut(bytes, 128);
    expect(cut.events).toEqual({ 'decoder.ipv4.tso_zero_length': 1 });
    expect(cut.f.tcpPayloadLen).toBe(3000);
    expect(cut.f.truncated).toBe(0);
  });

  it('counts a total length larger than the frame on the wire and uses what the wire had', () => {
    const bytes = frame({ totalLength: 1500 }, seg(100), false);
    const { f, events } = decodeBytes(bytes);
    expect(events).toEqual({ 'decoder.ipv4.total_length_exceeds_frame': 1 });
    expect(f.ipTotalLen).toBe(1500);
    expect(f.ipLen).toBe(140);
    expect(f.tcpPayloadLen).toBe(100);
    // The same datagram cut by a snaplen to 140 bytes of a 1514-byte frame: nothing wrong.
    const snap = decodeBytes(bytes, { wireLen: 1514 });
    expect(snap.events).toEqual({});
    expect(snap.f.ipLen).toBe(1500);
    expect(snap.f.tcpPayloadLen).toBe(1460);
  });
});

describe('the datagram length', () => {
  it('ignores bytes after the datagram (padding, an FCS): the L4 length comes from the total length', () => {
    const bytes = concat(frame({}, seg(7), false), Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    const { f, events } = decodeBytes(bytes);
    expect(f.ipLen).toBe(47);
    expect(f.tcpPayloadLen).toBe(7);
    expect(events).toEqual({});
  });

  it('keeps the total length when a snaplen cut the payload (capLen < wireLen)', () => {
    const bytes = frame({}, seg(1000));
    const { f, events } = decodeCut(bytes, 80);
    expect(f.ipLen).toBe(1040);
    expect(f.tcpPayloadLen).toBe(1000);
    expect(f.truncated).toBe(0);
    expect(events).toEqual({});
  });
});

describe('fragments', () => {
  it('decodes the L4 header of a first fragment (MF set, offset 0)', () => {
    const { f, events } = decodeBytes(frame({ mf: true, id: 77 }, seg(24)));
    expect(f.ipMf).toBe(1);
    expect(f.ipFragOffset).toBe(0);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
    expect(f.srcPort).toBe(33000);
    expect(f.tcpPayloadLen).toBe(24);
    expect(events).toEqual({});
  });

  it('gives a later fragment no L4 header, Layer.FRAGMENT and decoder.ipv4.fragment', () => {
    for (const mf of [true, false]) {
      // The payload starts with bytes that would read as ports if taken for a TCP header.
      const { f, events } = decodeBytes(frame({ mf, fragOffset: 1480, proto: 6 }, seg(40)));
      expect(f.ipFragOffset).toBe(1480);
      expect(f.ipMf).toBe(mf ? 1 : 0);
      expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.FRAGMENT);
      expect(f.l4Off).toBe(-1);
      expect(f.srcPort).toBe(0);
      expect(f.dstPort).toBe(0);
      expect(events).toEqual({ 'decoder.ipv4.fragment': 1 });
    }
    const udpFrag = decodeBytes(frame({ fragOffset: 8, proto: 17 }, udp({ sport: 53, dport: 53, payload: new Uint8Array(20) })));
    expect(udpFrag.f.layers & Layer.UDP).toBe(0);
    expect(udpFrag.f.layers & Layer.FRAGMENT).toBe(Layer.FRAGMENT);
  });
});

describe('a frame cut inside the IPv4 header', () => {
  it('counts decoder.ipv4.truncated and decodes nothing of a fixed header that is not whole', () => {
    const whole = frame({}, seg(), false);
    for (let n = 14; n < 34; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.ipv4.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(Layer.ETHERNET);
      expect(f.etherType).toBe(0x0800);
      expect(f.ipSrc).toBe(0);
    }
  });

  it('decodes the fixed header when only options are cut, without checking the checksum', () => {
    const whole = frame({ options: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 0), ttl: 3 }, seg(), false);
    for (let n = 34; n < 42; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.ipv4.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4);
      expect(f.ipHeaderLen).toBe(28);
      expect(f.ipTtl).toBe(3);
      expect(f.ipDst).toBe(ipNumber('10.0.0.2'));
      expect(f.ipLen).toBe(48);
      expect(f.ipChecksumOk).toBe(-1);
      expect(f.l4Off).toBe(-1);
    }
    expect(decodeCut(whole, 42).events).toEqual({ 'decoder.tcp.truncated': 1 });
  });
});
