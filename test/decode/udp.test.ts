import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { ethernet, ipv4, udp } from '../helpers/packets.js';

function frame(u: { sport: number; dport: number; payload?: Uint8Array; length?: number }, pad = true): Uint8Array {
  return ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: 0x0800, pad }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp(u)));
}

describe('UDP', () => {
  it('decodes ports and length', () => {
    const { f, events } = decodeBytes(frame({ sport: 5353, dport: 53, payload: new Uint8Array(30) }));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.UDP);
    expect(f.srcPort).toBe(5353);
    expect(f.dstPort).toBe(53);
    expect(f.udpLen).toBe(38);
    expect(f.l4Len).toBe(38);
    expect(f.l4Off).toBe(f.off + 34);
    expect(events).toEqual({});
  });

  it('accepts a UDP length shorter than the IP payload (trailing bytes) without an event', () => {
    const { f, events } = decodeBytes(frame({ sport: 1, dport: 2, payload: new Uint8Array(10), length: 12 }));
    expect(f.udpLen).toBe(12);
    expect(events).toEqual({});
  });

  it('counts a length below 8 or beyond the IP payload (decoder.udp.bad_length), keeping the ports', () => {
    for (const length of [0, 7, 19, 0xffff]) {
      const { f, events } = decodeBytes(frame({ sport: 1000, dport: 2000, payload: new Uint8Array(10), length }));
      expect(events, `length ${length}`).toEqual({ 'decoder.udp.bad_length': 1 });
      expect(f.layers & Layer.UDP).toBe(Layer.UDP);
      expect(f.udpLen).toBe(length);
      expect(f.srcPort).toBe(1000);
    }
  });

  it('counts decoder.udp.truncated for a header cut short, keeping the ports once 4 bytes are there', () => {
    const whole = frame({ sport: 67, dport: 68, payload: new Uint8Array(300) }, false);
    for (let n = 34; n < 42; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.udp.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4);
      expect(f.srcPort).toBe(n - 34 >= 4 ? 67 : 0);
      expect(f.dstPort).toBe(n - 34 >= 4 ? 68 : 0);
    }
    // The header whole, the payload cut by the snaplen: the length still verifies.
    const { f, events } = decodeCut(whole, 42);
    expect(events).toEqual({});
    expect(f.udpLen).toBe(308);
  });
});
