import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ipNumber, ipv4, tcp, udp } from '../helpers/packets.js';

const LinkType = { NULL: 0, RAW_BSD12: 12, RAW_OPENBSD14: 14, RAW: 101, LOOP: 108, IPV4: 228, IPV6: 229 } as const;

function v4(): Uint8Array {
  return ipv4({ src: '127.0.0.1', dst: '127.0.0.2', proto: 6 }, tcp({ sport: 8080, dport: 40000, flags: 'SA' }));
}

function v6(): Uint8Array {
  const h = new Uint8Array(48);
  h[0] = 0x60;
  h[5] = 8;
  h[6] = 17;
  h[7] = 64;
  h[23] = 1;
  h[39] = 1;
  return h;
}

function family(value: number, littleEndian: boolean): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value, littleEndian);
  return b;
}

describe('NULL (BSD loopback, host byte order)', () => {
  it('decodes AF_INET in either byte order', () => {
    for (const le of [true, false]) {
      const { f, events } = decodeBytes(concat(family(2, le), v4()), { linkType: LinkType.NULL });
      expect(f.layers, le ? 'LE' : 'BE').toBe(Layer.RAW_IP | Layer.IPV4 | Layer.TCP);
      expect(f.etherType).toBe(0x0800);
      expect(f.ipOff).toBe(f.off + 4);
      expect(f.ipSrc).toBe(ipNumber('127.0.0.1'));
      expect(f.srcPort).toBe(8080);
      expect(events).toEqual({});
    }
  });

  it('decodes the AF_INET6 values of Linux, Windows, BSD, FreeBSD and Darwin in either byte order', () => {
    for (const af of [10, 23, 24, 28, 30]) {
      for (const le of [true, false]) {
        const { f, events } = decodeBytes(concat(family(af, le), v6()), { linkType: LinkType.NULL });
        expect(f.layers, `AF ${af} ${le ? 'LE' : 'BE'}`).toBe(Layer.RAW_IP | Layer.IPV6);
        expect(f.etherType).toBe(0x86dd);
        expect(f.ipOff).toBe(f.off + 4);
        expect(events).toEqual({});
      }
    }
  });

  it('counts an unknown address family (decoder.null.unknown_family)', () => {
    for (const af of [7, 0, 0x12345678]) {
      const { f, events } = decodeBytes(concat(family(af, true), v4()), { linkType: LinkType.NULL });
      expect(events, `AF ${af}`).toEqual({ 'decoder.null.unknown_family': 1 });
      expect(f.layers).toBe(Layer.RAW_IP);
      expect(f.etherType).toBe(0);
    }
  });

  it('counts decoder.null.truncated for fewer than 4 bytes', () => {
    const whole = concat(family(2, true), v4());
    for (let n = 0; n < 4; n++) {
      const { f, events } = decodeCut(whole, n, { linkType: LinkType.NULL });
      expect(events, `cut at ${n}`).toEqual({ 'decoder.null.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(0);
    }
    expect(decodeCut(whole, 4, { linkType: LinkType.NULL }).events).toEqual({ 'decoder.ipv4.truncated': 1 });
  });
});

describe('LOOP (OpenBSD loopback, network byte order)', () => {
  it('decodes AF_INET and AF_INET6 in network byte order', () => {
    const a = decodeBytes(concat(family(2, false), v4()), { linkType: LinkType.LOOP });
    expect(a.f.layers).toBe(Layer.RAW_IP | Layer.IPV4 | Layer.TCP);
    expect(a.events).toEqual({});
    const b = decodeBytes(concat(family(24, false), v6()), { linkType: LinkType.LOOP });
    expect(b.f.layers).toBe(Layer.RAW_IP | Layer.IPV6);
  });

  it('does not guess the byte order: a little-endian family is unknown', () => {
    const { f, events } = decodeBytes(concat(family(2, true), v4()), { linkType: LinkType.LOOP });
    expect(events).toEqual({ 'decoder.null.unknown_family': 1 });
    expect(f.layers).toBe(Layer.RAW_IP);
  });

  it('counts decoder.null.truncated for fewer than 4 bytes', () => {
    expect(decodeBytes(Uint8Array.of(0, 0, 0), { linkType: LinkType.LOOP }).events).toEqual({ 'decoder.null.truncated': 1 });
  });
});

describe('RAW (IPv4 or IPv6 by the version nibble)', () => {
  it('decodes IPv4 and IPv6 under RAW 101 and the BSD values 12 and 14', () => {
    for (const linkType of [LinkType.RAW, LinkType.RAW_BSD12, LinkType.RAW_OPENBSD14]) {
      const a = decodeBytes(v4(), { linkType });
      expect(a.f.layers, `link ${linkType}`).toBe(Layer.RAW_IP | Layer.IPV4 | Layer.TCP);
      expect(a.f.etherType).toBe(0x0800);
      expect(a.f.ipOff).toBe(a.f.off);
      expect(a.f.dstPort).toBe(40000);
      expect(a.events).toEqual({});
      const b = decodeBytes(v6(), { linkType });
      expect(b.f.layers).toBe(Layer.RAW_IP | Layer.IPV6);
      expect(b.f.etherType).toBe(0x86dd);
    }
  });

  it('counts a version nibble that is neither 4 nor 6 (decoder.raw.unknown_version)', () => {
    const bytes = v4();
    bytes[0] = 0x55;
    const { f, events } = decodeBytes(bytes, { linkType: LinkType.RAW });
    expect(events).toEqual({ 'decoder.raw.unknown_version': 1 });
    expect(f.layers).toBe(Layer.RAW_IP);
  });

  it('counts an empty frame as a cut IPv4 header', () => {
    const { f, events } = decodeCut(v4(), 0, { linkType: LinkType.RAW });
    expect(events).toEqual({ 'decoder.ipv4.truncated': 1 });
    expect(f.truncated).toBe(1);
    expect(f.layers).toBe(Layer.RAW_IP);
  });

  it('takes the length of a UDP datagram from the IPv4 header', () => {
    const dgram = ipv4({ src: '10.1.1.1', dst: '10.1.1.2', proto: 17 }, udp({ sport: 123, dport: 123, payload: new Uint8Array(48) }));
    const { f, events } = decodeBytes(dgram, { linkType: LinkType.RAW });
    expect(f.l4Len).toBe(56);
    expect(f.udpLen).toBe(56);
    expect(events).toEqual({});
  });
});

describe('IPV4 and IPV6 link types', () => {
  it('decodes IPv4 under LINKTYPE_IPV4 (228)', () => {
    const { f, events } = decodeBytes(v4(), { linkType: LinkType.IPV4 });
    expect(f.layers).toBe(Layer.RAW_IP | Layer.IPV4 | Layer.TCP);
    expect(f.etherType).toBe(0x0800);
    expect(events).toEqual({});
  });

  it('counts an IPv6 packet under LINKTYPE_IPV4 as a bad IPv4 version', () => {
    const { f, events } = decodeBytes(v6(), { linkType: LinkType.IPV4 });
    expect(events).toEqual({ 'decoder.ipv4.bad_version': 1 });
    expect(f.layers).toBe(Layer.RAW_IP);
  });

  it('recognizes IPv6 under LINKTYPE_IPV6 (229)', () => {
    const { f, events } = decodeBytes(v6(), { linkType: LinkType.IPV6 });
    expect(f.layers).toBe(Layer.RAW_IP | Layer.IPV6);
    expect(f.etherType).toBe(0x86dd);
    expect(events).toEqual({});
  });
});
