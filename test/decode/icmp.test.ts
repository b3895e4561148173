import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { IcmpType, IcmpUnreachCode, isIcmpError } from '../../src/decode/icmp.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ethernet, icmpEcho, icmpError, inetChecksum, ipNumber, ipv4, tcp, udp } from '../helpers/packets.js';

const ROUTER = '192.0.2.254';
const CLIENT = '10.0.0.1';
const SERVER = '198.51.100.7';

function icmpFrame(body: Uint8Array, pad = true): Uint8Array {
  return ethernet({ src: '02:00:00:00:00:fe', dst: '02:00:00:00:00:01', type: 0x0800, pad }, ipv4({ src: ROUTER, dst: CLIENT, proto: 1 }, body));
}

/** The datagram the client sent, which the error quotes. */
function quotedTcp(): Uint8Array {
  return ipv4({ src: CLIENT, dst: SERVER, proto: 6, id: 0x4242, ttl: 1 }, tcp({ sport: 40001, dport: 443, seq: 0xdeadbeef, flags: 'S' }));
}

function quotedUdp(): Uint8Array {
  return ipv4({ src: CLIENT, dst: SERVER, proto: 17, id: 7 }, udp({ sport: 33434, dport: 33435, payload: new Uint8Array(12) }));
}

describe('ICMP echo and other queries', () => {
  it('decodes type, code, identifier and sequence of an echo request and reply', () => {
    for (const type of [8, 0] as const) {
      const { f, events } = decodeBytes(icmpFrame(icmpEcho({ type, id: 0x1234, seq: 9 })));
      expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.ICMP);
      expect(f.icmpType).toBe(type);
      expect(f.icmpCode).toBe(0);
      expect(f.icmpId).toBe(0x1234);
      expect(f.icmpSeq).toBe(9);
      expect(f.quoteProto).toBe(-1);
      expect(events).toEqual({});
    }
  });

  it('reads identifier and sequence of a timestamp request', () => {
    const body = concat(Uint8Array.of(IcmpType.TIMESTAMP, 0, 0, 0, 0, 5, 0, 6), new Uint8Array(12));
    const { f } = decodeBytes(icmpFrame(body));
    expect(f.icmpType).toBe(13);
    expect(f.icmpId).toBe(5);
    expect(f.icmpSeq).toBe(6);
  });

  it('decodes type and code only of a message that is neither query nor error', () => {
    const { f, events } = decodeBytes(icmpFrame(concat(Uint8Array.of(9, 0, 0, 0), new Uint8Array(12))));
    expect(f.layers & Layer.ICMP).toBe(Layer.ICMP);
    expect(f.icmpType).toBe(9);
    expect(f.icmpId).toBe(0);
    expect(f.quoteProto).toBe(-1);
    expect(events).toEqual({});
  });
});

describe('ICMP errors and the datagram they quote', () => {
  it('ties a port unreachable to the UDP flow it is about: quoted addresses, protocol, ports, IP id', () => {
    const { f, events } = decodeBytes(icmpFrame(icmpError({ type: 3, code: IcmpUnreachCode.PORT }, quotedUdp())));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.ICMP | Layer.ICMP_QUOTE);
    expect(f.icmpType).toBe(IcmpType.DEST_UNREACHABLE);
    expect(f.icmpCode).toBe(3);
    expect(f.quoteProto).toBe(17);
    expect(f.quoteSrc).toBe(ipNumber(CLIENT));
    expect(f.quoteDst).toBe(ipNumber(SERVER));
    expect(f.quoteSrcPort).toBe(33434);
    expect(f.quoteDstPort).toBe(33435);
    expect(f.quoteIpId).toBe(7);
    // The frame's own addresses are the router's message to the client.
    expect(f.ipSrc).toBe(ipNumber(ROUTER));
    expect(events).toEqual({});
  });

  it('reads the quoted TCP sequence number', () => {
    const { f } = decodeBytes(icmpFrame(icmpError({ type: 3, code: IcmpUnreachCode.ADMIN_PROHIBITED }, quotedTcp())));
    expect(f.quoteProto).toBe(6);
    expect(f.quoteSrcPort).toBe(40001);
    expect(f.quoteDstPort).toBe(443);
    expect(f.quoteTcpSeq).toBe(0xdeadbeef);
    expect(f.quoteIpId).toBe(0x4242);
  });

  it('decodes the quote of every error type: time exceeded, redirect, parameter problem, source quench', () => {
    for (const type of [IcmpType.TIME_EXCEEDED, IcmpType.REDIRECT, IcmpType.PARAMETER_PROBLEM, IcmpType.SOURCE_QUENCH]) {
      const { f } = decodeBytes(icmpFrame(icmpError({ type, code: 0 }, quotedTcp())));
      expect(f.layers & Layer.ICMP_QUOTE, `type ${type}`).toBe(Layer.ICMP_QUOTE);
      expect(f.quoteSrcPort).toBe(40001);
    }
  });

  it('takes the identifier of a quoted echo as its source "port"', () => {
    const echo = ipv4({ src: CLIENT, dst: SERVER, proto: 1, ttl: 1 }, icmpEcho({ type: 8, id: 0x0bad, seq: 3 }));
    const { f } = decodeBytes(icmpFrame(icmpError({ type: 11, code: 0 }, echo)));
    expect(f.quoteProto).toBe(1);
    expect(f.quoteSrcPort).toBe(0x0bad);
    expect(f.quoteDstPort).toBe(0);
    expect(f.layers & Layer.ICMP_QUOTE).toBe(Layer.ICMP_QUOTE);
  });

  it('finds the quoted ports after quoted IP options', () => {
    const withOptions = ipv4({ src: CLIENT, dst: SERVER, proto: 17, options: Uint8Array.of(0x94, 4, 0, 0) }, udp({ sport: 5000, dport: 6000 }));
    const { f } = decodeBytes(icmpFrame(icmpError({ type: 3, code: 3 }, withOptions)));
    expect(f.quoteSrcPort).toBe(5000);
    expect(f.quoteDstPort).toBe(6000);
  });

  it('keeps the quoted addresses but no ports when fewer than 8 bytes of L4 are quoted (decoder.icmp.quote_truncated)', () => {
    const quote = quotedTcp().subarray(0, 20 + 4);
    const body = concat(Uint8Array.of(3, 1, 0, 0, 0, 0, 0, 0), quote);
    body.set([inetChecksum(body) >> 8, inetChecksum(body) & 0xff], 2);
    const { f, events } = decodeBytes(icmpFrame(body, false));
    expect(events).toEqual({ 'decoder.icmp.quote_truncated': 1 });
    expect(f.truncated).toBe(1);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.ICMP);
    expect(f.quoteProto).toBe(6);
    expect(f.quoteSrc).toBe(ipNumber(CLIENT));
    expect(f.quoteDst).toBe(ipNumber(SERVER));
    expect(f.quoteSrcPort).toBe(0);
  });

  it('counts a quote cut anywhere before its 28th byte, with the addresses once the quoted header is whole', () => {
    const whole = icmpFrame(icmpError({ type: 3, code: 3 }, quotedUdp()), false);
    const quoteStart = 14 + 20 + 8;
    for (let n = quoteStart; n < quoteStart + 28; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.icmp.quote_truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers & Layer.ICMP_QUOTE).toBe(0);
      expect(f.quoteProto).toBe(n - quoteStart >= 20 ? 17 : -1);
    }
    expect(decodeCut(whole, quoteStart + 28).events).toEqual({});
  });

  it('stops at a quoted header that is not IPv4 or shorter than 20 bytes (decoder.icmp.quote_bad_header)', () => {
    for (const first of [0x65, 0x44, 0x40]) {
      const body = icmpError({ type: 3, code: 3 }, quotedUdp());
      body[8] = first;
      const { f, events } = decodeBytes(icmpFrame(body));
      expect(events, first.toString(16)).toEqual({ 'decoder.icmp.quote_bad_header': 1 });
      expect(f.layers & Layer.ICMP_QUOTE).toBe(0);
      expect(f.quoteProto).toBe(-1);
      expect(f.truncated).toBe(0);
    }
  });
});

describe('a frame cut inside the ICMP header', () => {
  it('counts decoder.icmp.truncated, with type and code once 4 bytes are there', () => {
    const echo = icmpFrame(icmpEcho({ type: 8, id: 1, seq: 1 }), false);
    for (let n = 34; n < 42; n++) {
      const { f, events } = decodeCut(echo, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.icmp.truncated': 1 });
      expect(f.truncated).toBe(1);
      const four = n - 34 >= 4;
      expect((f.layers & Layer.ICMP) !== 0).toBe(four);
      expect(f.icmpType).toBe(four ? 8 : -1);
      expect(f.icmpId).toBe(0);
    }
    const err = icmpFrame(icmpError({ type: 11, code: 0 }, quotedTcp()), false);
    for (let n = 38; n < 42; n++) {
      const { f, events } = decodeCut(err, n);
      expect(events, `error cut at ${n}`).toEqual({ 'decoder.icmp.truncated': 1 });
      expect(f.icmpType).toBe(11);
      expect(f.quoteProto).toBe(-1);
    }
  });
});

describe('isIcmpError', () => {
  it('is true for the five error types only', () => {
    const errors = [3, 4, 5, 11, 12];
    for (let t = 0; t < 256; t++) expect(isIcmpError(t), `type ${t}`).toBe(errors.includes(t));
  });
});
