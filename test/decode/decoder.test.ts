import { describe, expect, it } from 'vitest';
import { CaptureRecord } from '../../src/capture/record.js';
import { decodeLink, decodeRecord } from '../../src/decode/decoder.js';
import { Frame, Layer } from '../../src/decode/frame.js';
import { Ev, eventCountsToObject, newEventCounters } from '../../src/events.js';
import { FrameDecoder, decodeBytes } from '../helpers/frame-fields.js';
import { arp, concat, ethernet, icmpEcho, icmpError, ieee8023, ipv4, sll, stpBpdu, tcp, udp } from '../helpers/packets.js';

const A = { mac: '02:00:00:00:00:01', ip: '10.0.0.1' };
const B = { mac: '02:00:00:00:00:02', ip: '10.0.0.2' };

function tcpFrame(vlans?: number[]): Uint8Array {
  const seg = tcp({ sport: 1111, dport: 2222, seq: 5, ack: 6, flags: 'PA', payload: new Uint8Array(20) });
  return ethernet({ src: A.mac, dst: B.mac, type: 0x0800, ...(vlans ? { vlans } : {}) }, ipv4({ src: A.ip, dst: B.ip, proto: 6 }, seg));
}

function ipPacket(proto: number, body: Uint8Array): Uint8Array {
  return ethernet({ src: A.mac, dst: B.mac, type: 0x0800 }, ipv4({ src: A.ip, dst: B.ip, proto }, body));
}

describe('decodeRecord', () => {
  it('copies the record scalars into the frame', () => {
    const bytes = tcpFrame();
    const buf = concat(new Uint8Array(33), bytes);
    const rec = new CaptureRecord();
    Object.assign(rec, { buf, off: 33, capLen: bytes.length, wireLen: 1514, linkType: 1, frameNo: 42, tsSec: 1_700_000_123, tsNs: 456_789_012, hasTimestamp: 0 });
    const f = new Frame(newEventCounters());
    decodeRecord(f, rec);
    expect(f.buf).toBe(buf);
    expect(f.off).toBe(33);
    expect(f.capLen).toBe(bytes.length);
    expect(f.wireLen).toBe(1514);
    expect(f.linkType).toBe(1);
    expect(f.frameNo).toBe(42);
    expect(f.tsSec).toBe(1_700_000_123);
    expect(f.tsNs).toBe(456_789_012);
    expect(f.hasTimestamp).toBe(0);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
  });
});

describe('link type dispatch', () => {
  it('sends each supported link type to its decoder', () => {
    const dgram = ipv4({ src: A.ip, dst: B.ip, proto: 17 }, udp({ sport: 1, dport: 2 }));
    const cases: Array<[number, Uint8Array, number]> = [
      [1, ethernet({ src: A.mac, dst: B.mac, type: 0x0800 }, dgram), Layer.ETHERNET | Layer.IPV4 | Layer.UDP],
      [113, sll({ srcMac: A.mac, protocol: 0x0800 }, dgram), Layer.SLL | Layer.IPV4 | Layer.UDP],
      [101, dgram, Layer.RAW_IP | Layer.IPV4 | Layer.UDP],
      [12, dgram, Layer.RAW_IP | Layer.IPV4 | Layer.UDP],
      [14, dgram, Layer.RAW_IP | Layer.IPV4 | Layer.UDP],
      [228, dgram, Layer.RAW_IP | Layer.IPV4 | Layer.UDP],
      [0, concat(Uint8Array.of(2, 0, 0, 0), dgram), Layer.RAW_IP | Layer.IPV4 | Layer.UDP],
      [108, concat(Uint8Array.of(0, 0, 0, 2), dgram), Layer.RAW_IP | Layer.IPV4 | Layer.UDP],
    ];
    for (const [linkType, bytes, layers] of cases) {
      const { f, events } = decodeBytes(bytes, { linkType });
      expect(f.layers, `link type ${linkType}`).toBe(layers);
      expect(f.dstPort, `link type ${linkType}`).toBe(2);
      expect(events).toEqual({});
    }
  });

  it('counts a link type it does not decode (decoder.link.unsupported_linktype), once per frame', () => {
    const d = new FrameDecoder();
    for (const linkType of [127, 105, 9]) {
      const { f } = d.decode(new Uint8Array(40), { linkType });
      expect(f.layers).toBe(Layer.UNSUPPORTED_LINK);
      expect(f.event).toBe(Ev.LINK_UNSUPPORTED);
      expect(f.truncated).toBe(0);
    }
    expect(eventCountsToObject(d.counts)).toEqual({ 'decoder.link.unsupported_linktype': 3 });
  });

  it('marks a non-packet record (negative pseudo link type) unsupported without counting it', () => {
    const { f, events } = decodeBytes(new Uint8Array(8), { linkType: -1 });
    expect(f.layers).toBe(Layer.UNSUPPORTED_LINK);
    expect(f.event).toBe(-1);
    expect(events).toEqual({});
  });

  it('decodeLink decodes from any offset up to any end', () => {
    const bytes = concat(new Uint8Array(5).fill(0xee), tcpFrame(), new Uint8Array(5).fill(0xee));
    const f = new Frame(newEventCounters());
    f.reset();
    f.buf = bytes;
    f.off = 5;
    f.capLen = bytes.length - 10;
    f.wireLen = f.capLen;
    decodeLink(f, bytes, 5, bytes.length - 5, 1);
    expect(f.layers).toBe(Layer.ETHERNET | Layer.IPV4 | Layer.TCP);
    expect(f.tcpPayloadLen).toBe(20);
  });
});

describe('events', () => {
  it('keeps the first event of a frame as its event and counts all of them', () => {
    const d = new FrameDecoder();
    // A later fragment with a bad header checksum: two events, the checksum first.
    const frag = ethernet({ src: A.mac, dst: B.mac, type: 0x0800 }, ipv4({ src: A.ip, dst: B.ip, proto: 6, fragOffset: 8, badChecksum: true }, new Uint8Array(16)));
    const { f, events } = d.decode(frag);
    expect(f.event).toBe(Ev.IPV4_BAD_CHECKSUM);
    expect(events).toEqual({ 'decoder.ipv4.bad_checksum': 1, 'decoder.ipv4.fragment': 1 });
    // The next frame starts without an event; the counters go on.
    const next = d.decode(tcpFrame());
    expect(next.f.event).toBe(-1);
    expect(next.events).toEqual({ 'decoder.ipv4.bad_checksum': 1, 'decoder.ipv4.fragment': 1 });
  });
});

describe('a reused Frame', () => {
  it('shows nothing of the previous frame', () => {
    const d = new FrameDecoder();
    d.decode(tcpFrame([10, 20]));
    expect(d.f.vlanDepth).toBe(2);
    const { f } = d.decode(ethernet({ src: B.mac, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 }, arp({ op: 1, senderMac: B.mac, senderIp: B.ip, targetMac: '00:00:00:00:00:00', targetIp: A.ip })));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.ARP);
    expect(f.vlanDepth).toBe(0);
    expect([f.vlan0, f.vlan1]).toEqual([0, 0]);
    expect(f.ipOff).toBe(-1);
    expect(f.ipProto).toBe(-1);
    expect(f.ipChecksumOk).toBe(-1);
    expect(f.l4Off).toBe(-1);
    expect(f.srcPort).toBe(0);
    expect(f.tcpFlags).toBe(0);
    expect(f.tcpPayloadLen).toBe(0);
    expect(f.icmpType).toBe(-1);
    expect(f.quoteProto).toBe(-1);

    d.decode(sll({ packetType: 4, srcMac: A.mac, protocol: 0x0800 }, ipv4({ src: A.ip, dst: B.ip, proto: 17 }, udp({ sport: 1, dport: 2 }))), { linkType: 113 });
    const cut = d.decode(tcpFrame().subarray(0, 10), { wireLen: 74 });
    expect(cut.f.layers).toBe(0);
    expect(cut.f.truncated).toBe(1);
    expect(cut.f.sllPacketType).toBe(-1);
    expect(cut.f.srcMac).toBe(0);
    expect(cut.f.outerEtherType).toBe(0);
    expect(cut.f.etherType).toBe(0);
    const whole = d.decode(tcpFrame());
    expect(whole.f.truncated).toBe(0);
    expect(whole.f.event).toBe(-1);
  });

  it('does not carry a config BPDU\'s flags, root or timers into a following TCN', () => {
    const d = new FrameDecoder();
    d.decode(ieee8023({ src: A.mac, dst: '01:80:c2:00:00:00' }, stpBpdu({ flags: 0x01, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02', maxAge: 20 })));
    expect(d.f.stpFlags).toBe(1);
    const { f } = d.decode(ieee8023({ src: A.mac, dst: '01:80:c2:00:00:00' }, stpBpdu({ type: 0x80, rootMac: '00:00:00:00:00:00', bridgeMac: '00:00:00:00:00:00' })));
    expect(f.stpType).toBe(0x80);
    expect(f.stpFlags).toBe(0);
    expect(f.stpRootMac).toBe(0);
    expect(f.stpBridgeMac).toBe(0);
    expect(f.stpMaxAge).toBe(0);
    // And not into a configuration BPDU cut short either.
    d.decode(ieee8023({ src: A.mac, dst: '01:80:c2:00:00:00' }, stpBpdu({ flags: 0x81, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' })));
    const whole = ieee8023({ src: A.mac, dst: '01:80:c2:00:00:00' }, stpBpdu({ rootMac: '00:00:00:00:00:09', bridgeMac: '00:00:00:00:00:09' }), false);
    const cut = d.decode(whole.subarray(0, 30), { wireLen: whole.length });
    expect(cut.f.layers & Layer.STP).toBe(Layer.STP);
    expect(cut.f.truncated).toBe(1);
    expect(cut.f.stpFlags).toBe(0);
    expect(cut.f.stpRootMac).toBe(0);
  });

  it('does not carry an echo\'s identifier and sequence into a cut echo or an error', () => {
    const d = new FrameDecoder();
    d.decode(ipPacket(1, icmpEcho({ type: 8, id: 77, seq: 5 })));
    expect(d.f.icmpId).toBe(77);
    const echo = ipPacket(1, icmpEcho({ type: 0, id: 99, seq: 6 }));
    const cut = d.decode(echo.subarray(0, 14 + 20 + 6), { wireLen: echo.length });
    expect(cut.f.icmpType).toBe(0);
    expect(cut.f.icmpId).toBe(0);
    expect(cut.f.icmpSeq).toBe(0);
    d.decode(ipPacket(1, icmpEcho({ type: 8, id: 78, seq: 7 })));
    const err = d.decode(ipPacket(1, icmpError({ type: 3, code: 3 }, ipv4({ src: B.ip, dst: A.ip, proto: 17 }, udp({ sport: 9, dport: 10 })))));
    expect(err.f.icmpType).toBe(3);
    expect(err.f.icmpId).toBe(0);
    expect(err.f.icmpSeq).toBe(0);
  });

  it('does not carry a quoted TCP sequence number or ports into the next quote', () => {
    const d = new FrameDecoder();
    const quotedTcp = ipv4({ src: B.ip, dst: A.ip, proto: 6 }, tcp({ sport: 443, dport: 5555, seq: 123456, flags: 'SA' }));
    d.decode(ipPacket(1, icmpError({ type: 3, code: 13 }, quotedTcp)));
    expect(d.f.quoteTcpSeq).toBe(123456);
    const quotedUdp = ipv4({ src: B.ip, dst: A.ip, proto: 17 }, udp({ sport: 53, dport: 5353 }));
    const udpQuote = d.decode(ipPacket(1, icmpError({ type: 3, code: 3 }, quotedUdp)));
    expect(udpQuote.f.quoteProto).toBe(17);
    expect(udpQuote.f.quoteTcpSeq).toBe(0);
    // A quote with only the IPv4 header: the ports are not there.
    const body = concat(Uint8Array.of(11, 0, 0, 0, 0, 0, 0, 0), quotedTcp.subarray(0, 20));
    const short = d.decode(ipPacket(1, body));
    expect(short.f.quoteProto).toBe(6);
    expect(short.f.layers & Layer.ICMP_QUOTE).toBe(0);
    expect([short.f.quoteSrcPort, short.f.quoteDstPort, short.f.quoteTcpSeq]).toEqual([0, 0, 0]);
  });
});
