import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ethernet, tcp } from '../helpers/packets.js';

/** A fixed IPv6 header (RFC 8200) in front of `payload`. */
function ipv6(nextHeader: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h[4] = payload.length >> 8;
  h[5] = payload.length & 0xff;
  h[6] = nextHeader;
  h[7] = 64;
  h.set([0xfe, 0x80], 8);
  h[23] = 1;
  h.set([0xfe, 0x80], 24);
  h[39] = 2;
  return concat(h, payload);
}

const SEG = tcp({ sport: 1, dport: 2, flags: 'S' });

describe('IPv6', () => {
  it('is recognized over Ethernet: Layer.IPV6 and its offset, nothing decoded above it', () => {
    const { f, events } = decodeBytes(ethernet({ src: '02:00:00:00:00:01', dst: '33:33:00:00:00:01', type: 0x86dd }, ipv6(6, SEG)));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV6);
    expect(f.etherType).toBe(0x86dd);
    expect(f.ipOff).toBe(f.off + 14);
    expect(f.ipProto).toBe(-1);
    expect(f.l4Off).toBe(-1);
    expect(f.srcPort).toBe(0);
    expect(events).toEqual({});
  });

  it('counts decoder.ipv6.truncated for a header cut anywhere in its 40 bytes', () => {
    const whole = ethernet({ src: '02:00:00:00:00:01', dst: '33:33:00:00:00:01', type: 0x86dd, pad: false }, ipv6(6, SEG));
    for (let n = 14; n < 54; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.ipv6.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(Layer.ETHERNET);
      expect(f.ipOff).toBe(-1);
    }
    expect(decodeCut(whole, 54).events).toEqual({});
  });
});
