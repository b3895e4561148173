import { describe, expect, it } from 'vitest';
import { Layer, TcpFlag } from '../../src/decode/frame.js';
import { readTcpOptions } from '../../src/decode/tcp.js';
import { Ev, eventCountsToObject } from '../../src/events.js';
import { FrameDecoder, decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { concat, ethernet, ipv4, synOptions, tcp, tcpFlags, udp, type TcpSpec } from '../helpers/packets.js';

function frame(spec: Partial<TcpSpec>, pad = true): Uint8Array {
  const seg = tcp({ sport: 51000, dport: 443, flags: 'S', ...spec });
  return ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: 0x0800, pad }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6 }, seg));
}

/** Replaces the data offset (header length in 32-bit words) of the TCP header in an Ethernet/IPv4 frame. */
function setDataOffset(bytes: Uint8Array, words: number): Uint8Array {
  bytes[34 + 12] = (words << 4) | (bytes[34 + 12]! & 0x0f);
  return bytes;
}

describe('TCP header', () => {
  it('decodes ports, sequence and acknowledgment numbers, flags, window, urgent pointer and header length', () => {
    const { f, events } = decodeBytes(frame({ seq: 0xfffffff0, ack: 0x80000001, flags: 'SA', window: 29200, urgent: 0, options: synOptions() }));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
    expect(f.srcPort).toBe(51000);
    expect(f.dstPort).toBe(443);
    expect(f.tcpSeq).toBe(0xfffffff0);
    expect(f.tcpAck).toBe(0x80000001);
    expect(f.tcpFlags).toBe(TcpFlag.SYN | TcpFlag.ACK);
    expect(f.tcpWindow).toBe(29200);
    expect(f.tcpUrgent).toBe(0);
    expect(f.tcpHeaderLen).toBe(40);
    expect(f.tcpPayloadLen).toBe(0);
    expect(f.l4Off).toBe(f.off + 34);
    expect(events).toEqual({});
  });

  it('keeps all 12 flag bits: the nine flags and the three reserved bits', () => {
    expect(decodeBytes(frame({ flags: 'FSRPAUECN' })).f.tcpFlags).toBe(0x1ff);
    expect(decodeBytes(frame({ flags: 0xe00 })).f.tcpFlags).toBe(0xe00);
    expect(decodeBytes(frame({ flags: 0xfff })).f.tcpFlags).toBe(0xfff);
    expect(decodeBytes(frame({ flags: 'R', urgent: 7 })).f.tcpUrgent).toBe(7);
    expect(tcpFlags('FA')).toBe(TcpFlag.FIN | TcpFlag.ACK);
  });

  it('takes the payload length from the IP datagram, not from the bytes captured', () => {
    expect(decodeBytes(frame({ flags: 'PA', payload: new Uint8Array(3) })).f.tcpPayloadLen).toBe(3);
    const big = frame({ flags: 'PA', payload: new Uint8Array(1448) });
    const { f, events } = decodeCut(big, 70);
    expect(f.tcpPayloadLen).toBe(1448);
    expect(events).toEqual({});
  });
});

describe('impossible data offsets', () => {
  it('counts a header length below 20 bytes (decoder.tcp.bad_header_length) and gives no payload length', () => {
    for (const words of [0, 4]) {
      const { f, events } = decodeBytes(setDataOffset(frame({ flags: 'PA', payload: new Uint8Array(10) }), words));
      expect(events, `offset ${words}`).toEqual({ 'decoder.tcp.bad_header_length': 1 });
      expect(f.layers & Layer.TCP).toBe(Layer.TCP);
      expect(f.tcpHeaderLen).toBe(words * 4);
      expect(f.tcpPayloadLen).toBe(0);
      expect(f.srcPort).toBe(51000);
      expect(f.tcpFlags).toBe(TcpFlag.PSH | TcpFlag.ACK);
    }
  });

  it('counts a header longer than the IP payload', () => {
    const { f, events } = decodeBytes(setDataOffset(frame({ flags: 'A', payload: new Uint8Array(8) }), 15));
    expect(events).toEqual({ 'decoder.tcp.bad_header_length': 1 });
    expect(f.tcpHeaderLen).toBe(60);
    expect(f.tcpPayloadLen).toBe(0);
  });
});

describe('a frame cut inside the TCP header', () => {
  it('counts decoder.tcp.truncated without the layer, keeping the ports once 4 bytes are there', () => {
    const whole = frame({ flags: 'S', seq: 99 }, false);
    for (let n = 34; n < 54; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.tcp.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4);
      expect(f.srcPort).toBe(n - 34 >= 4 ? 51000 : 0);
      expect(f.dstPort).toBe(n - 34 >= 4 ? 443 : 0);
      expect(f.tcpFlags).toBe(0);
    }
  });

  it('decodes the fixed header when only options are cut, counting the cut', () => {
    const whole = frame({ flags: 'S', options: synOptions() }, false);
    for (let n = 54; n < 74; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.tcp.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers & Layer.TCP).toBe(Layer.TCP);
      expect(f.tcpFlags).toBe(TcpFlag.SYN);
      expect(f.tcpHeaderLen).toBe(40);
      expect(f.tcpPayloadLen).toBe(0);
    }
    expect(decodeCut(whole, 74).events).toEqual({});
  });
});

describe('readTcpOptions', () => {
  it('reads MSS, window scale, SACK permitted and timestamps', () => {
    const { f } = decodeBytes(frame({ flags: 'S', options: synOptions(1380, 9, 123456789, 42) }));
    const o = readTcpOptions(f);
    expect(o).toMatchObject({ present: true, mss: 1380, windowScale: 9, sackPermitted: true, timestamps: true, tsVal: 123456789, tsEcr: 42, malformed: false });
  });

  it('reports no options for a 20-byte header, and for a frame that is not TCP', () => {
    const d = new FrameDecoder();
    d.decode(frame({ flags: 'S', options: synOptions() }));
    expect(readTcpOptions(d.f).mss).toBe(1460);
    const plain = d.decode(frame({ flags: 'A' })).f;
    expect(readTcpOptions(plain)).toMatchObject({ present: false, mss: -1, windowScale: -1, sackPermitted: false, timestamps: false, tsVal: 0, tsEcr: 0, malformed: false });
    const notTcp = d.decode(ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: 0x0800 }, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17 }, udp({ sport: 1, dport: 2 })))).f;
    expect(readTcpOptions(notTcp).present).toBe(false);
  });

  it('skips unknown options and SACK blocks, and stops at end-of-options', () => {
    const options = concat(
      Uint8Array.of(30, 4, 0xab, 0xcd), // unknown kind 30 (MPTCP-like), length 4
      Uint8Array.of(5, 10, 0, 0, 0, 1, 0, 0, 0, 2), // SACK, one block
      Uint8Array.of(2, 4, 0x05, 0xb4), // MSS 1460
      Uint8Array.of(0), // end of options
      Uint8Array.of(3, 3, 14), // after the end: ignored
    );
    const { f } = decodeBytes(frame({ flags: 'A', options }));
    expect(readTcpOptions(f)).toMatchObject({ present: true, mss: 1460, windowScale: -1, malformed: false });
  });

  it('ignores an option of the wrong length for its kind', () => {
    const { f, events } = decodeBytes(frame({ flags: 'S', options: Uint8Array.of(2, 3, 0x05, 1, 3, 4, 7, 0) }));
    expect(readTcpOptions(f)).toMatchObject({ mss: -1, windowScale: -1, malformed: false });
    expect(events).toEqual({});
  });

  it('counts an option length below 2 (decoder.tcp.bad_option) and stops there', () => {
    const { f } = decodeBytes(frame({ flags: 'S', options: Uint8Array.of(2, 0, 3, 3, 7, 0, 0, 0) }));
    const o = readTcpOptions(f);
    expect(o.malformed).toBe(true);
    expect(o.windowScale).toBe(-1);
    expect(eventCountsToObject(f.eventCounts)).toEqual({ 'decoder.tcp.bad_option': 1 });
    expect(f.event).toBe(Ev.TCP_BAD_OPTION);
  });

  it('counts an option that runs past the header', () => {
    const d = new FrameDecoder();
    const { f } = d.decode(frame({ flags: 'S', options: Uint8Array.of(1, 1, 8, 10) }));
    const o = readTcpOptions(f);
    expect(o.malformed).toBe(true);
    expect(o.timestamps).toBe(false);
    expect(d.decode(frame({ flags: 'A' })).events).toEqual({ 'decoder.tcp.bad_option': 1 });
  });

  it('reads no options from a data offset beyond the IP payload (the bytes there are not TCP)', () => {
    // A SYN with a 4-byte MSS option whose data offset says 60 bytes; the Ethernet padding after
    // the 24-byte segment holds what would read as a window-scale option.
    const bytes = frame({ flags: 'S', options: Uint8Array.of(2, 4, 0x05, 0xb4) }, false);
    const padded = concat(setDataOffset(bytes, 15), Uint8Array.of(3, 3, 14, 0), new Uint8Array(36));
    const { f, events } = decodeBytes(padded);
    expect(events).toEqual({ 'decoder.tcp.bad_header_length': 1 });
    expect(readTcpOptions(f)).toMatchObject({ present: false, mss: -1, windowScale: -1, malformed: false });
  });

  it('reads only the options that were captured when a snaplen cut the header', () => {
    const whole = frame({ flags: 'S', options: synOptions(1400, 5) });
    // 34 + 20 fixed + 4 (MSS) + 2 (SACK permitted) + 3 bytes of the timestamps option.
    const { f } = decodeCut(whole, 63);
    const o = readTcpOptions(f);
    expect(o).toMatchObject({ present: true, mss: 1400, sackPermitted: true, timestamps: false, windowScale: -1, malformed: false });
  });
});
