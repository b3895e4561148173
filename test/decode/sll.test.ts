import { describe, expect, it } from 'vitest';
import { Layer } from '../../src/decode/frame.js';
import { SLL2_HEADER_BYTES, SLL_HEADER_BYTES } from '../../src/decode/sll.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { arp, concat, ipNumber, ipv4, macNumber, sll, sll2, stpBpdu, tcp } from '../helpers/packets.js';

const LINUX_SLL = 113;
const LINUX_SLL2 = 276;
const MAC = '52:54:00:12:34:56';

function dgram(): Uint8Array {
  return ipv4({ src: '10.0.2.15', dst: '10.0.2.2', proto: 6, ttl: 63 }, tcp({ sport: 22, dport: 50000, flags: 'PA', payload: new Uint8Array(5) }));
}

/** Sets the ARPHRD type and address length of an SLL (v1) header. */
function sllAddress(bytes: Uint8Array, hatype: number, halen: number): Uint8Array {
  bytes[2] = hatype >> 8;
  bytes[3] = hatype & 0xff;
  bytes[4] = halen >> 8;
  bytes[5] = halen & 0xff;
  return bytes;
}

/** Sets the ARPHRD type and address length of an SLL2 header. */
function sll2Address(bytes: Uint8Array, hatype: number, halen: number): Uint8Array {
  bytes[8] = hatype >> 8;
  bytes[9] = hatype & 0xff;
  bytes[11] = halen;
  return bytes;
}

describe('Linux cooked capture v1 (SLL)', () => {
  it('decodes packet type, the source MAC and the protocol, then IPv4 and TCP', () => {
    const { f, events } = decodeBytes(sll({ packetType: 4, srcMac: MAC, protocol: 0x0800 }, dgram()), { linkType: LINUX_SLL });
    expect(f.layers).toBe(Layer.SLL | Layer.IPV4 | Layer.TCP);
    expect(f.sllPacketType).toBe(4);
    expect(f.srcMac).toBe(macNumber(MAC));
    expect(f.dstMac).toBe(0);
    expect(f.outerEtherType).toBe(0x0800);
    expect(f.etherType).toBe(0x0800);
    expect(f.ipOff).toBe(f.off + SLL_HEADER_BYTES);
    expect(f.ipTtl).toBe(63);
    expect(f.tcpPayloadLen).toBe(5);
    expect(events).toEqual({});
  });

  it('reads each packet type (to us, broadcast, multicast, other host, outgoing)', () => {
    for (const packetType of [0, 1, 2, 3, 4]) {
      expect(decodeBytes(sll({ packetType, srcMac: MAC, protocol: 0x0800 }, dgram()), { linkType: LINUX_SLL }).f.sllPacketType).toBe(packetType);
    }
  });

  it('takes any 6-byte address for the source MAC (802.11, loopback...), and no address of another length', () => {
    for (const hatype of [1, 6, 772, 801]) {
      const { f } = decodeBytes(sllAddress(sll({ srcMac: MAC, protocol: 0x0800 }, dgram()), hatype, 6), { linkType: LINUX_SLL });
      expect(f.srcMac, `ARPHRD ${hatype}`).toBe(macNumber(MAC));
    }
    for (const [hatype, halen] of [
      [778, 4], // IP-over-GRE: an IPv4 address
      [65534, 0], // ARPHRD_NONE (tun)
      [1, 8],
    ]) {
      const { f, events } = decodeBytes(sllAddress(sll({ srcMac: MAC, protocol: 0x0800 }, dgram()), hatype!, halen!), { linkType: LINUX_SLL });
      expect(f.srcMac, `ARPHRD ${hatype} length ${halen}`).toBe(0);
      expect(f.layers & Layer.TCP).toBe(Layer.TCP);
      expect(events).toEqual({});
    }
  });

  it('decodes VLAN tags and ARP after the cooked header', () => {
    const tagged = concat(Uint8Array.of(0x00, 0x64, 0x08, 0x06), arp({ op: 1, senderMac: MAC, senderIp: '10.0.2.15', targetMac: '00:00:00:00:00:00', targetIp: '10.0.2.2' }));
    const { f, events } = decodeBytes(sll({ srcMac: MAC, protocol: 0x8100 }, tagged), { linkType: LINUX_SLL });
    expect(f.layers).toBe(Layer.SLL | Layer.VLAN | Layer.ARP);
    expect(f.outerEtherType).toBe(0x8100);
    expect(f.vlan0).toBe(100);
    expect(f.etherType).toBe(0x0806);
    expect(f.arpTargetIp).toBe(ipNumber('10.0.2.2'));
    expect(events).toEqual({});
  });

  it('decodes 802.2 LLC for protocol 0x0004 and stops at Novell 802.3 (0x0001) and other Linux pseudo-protocols', () => {
    const llc = decodeBytes(sll({ srcMac: MAC, protocol: 0x0004 }, stpBpdu({ rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' })), { linkType: LINUX_SLL });
    expect(llc.f.layers).toBe(Layer.SLL | Layer.LLC | Layer.STP);
    expect(llc.f.etherType).toBe(0);
    expect(llc.f.outerEtherType).toBe(4);
    expect(llc.events).toEqual({});
    const novell = decodeBytes(sll({ srcMac: MAC, protocol: 0x0001 }, new Uint8Array(30).fill(0xff)), { linkType: LINUX_SLL });
    expect(novell.f.layers).toBe(Layer.SLL);
    expect(novell.f.etherType).toBe(0);
    const can = decodeBytes(sll({ srcMac: MAC, protocol: 0x000c }, new Uint8Array(16)), { linkType: LINUX_SLL });
    expect(can.f.layers).toBe(Layer.SLL);
    expect(can.f.etherType).toBe(0x000c);
    expect(can.events).toEqual({});
  });

  it('counts decoder.sll.truncated for a header cut short', () => {
    const whole = sll({ srcMac: MAC, protocol: 0x0800 }, dgram());
    for (let n = 0; n < SLL_HEADER_BYTES; n++) {
      const { f, events } = decodeCut(whole, n, { linkType: LINUX_SLL });
      expect(events, `cut at ${n}`).toEqual({ 'decoder.sll.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(0);
      expect(f.sllPacketType).toBe(-1);
    }
    expect(decodeCut(whole, SLL_HEADER_BYTES, { linkType: LINUX_SLL }).events).toEqual({ 'decoder.ipv4.truncated': 1 });
  });
});

describe('Linux cooked capture v2 (SLL2)', () => {
  it('decodes protocol, packet type and source MAC, then IPv4 and TCP', () => {
    const { f, events } = decodeBytes(sll2({ packetType: 3, srcMac: MAC, protocol: 0x0800, ifIndex: 7 }, dgram()), { linkType: LINUX_SLL2 });
    expect(f.layers).toBe(Layer.SLL | Layer.IPV4 | Layer.TCP);
    expect(f.sllPacketType).toBe(3);
    expect(f.srcMac).toBe(macNumber(MAC));
    expect(f.outerEtherType).toBe(0x0800);
    expect(f.ipOff).toBe(f.off + SLL2_HEADER_BYTES);
    expect(f.dstPort).toBe(50000);
    expect(events).toEqual({});
  });

  it('takes any 6-byte address for the source MAC, and no address of another length', () => {
    const loopback = decodeBytes(sll2Address(sll2({ srcMac: MAC, protocol: 0x0800 }, dgram()), 772, 6), { linkType: LINUX_SLL2 });
    expect(loopback.f.srcMac).toBe(macNumber(MAC));
    const none = decodeBytes(sll2Address(sll2({ srcMac: MAC, protocol: 0x0800 }, dgram()), 65534, 0), { linkType: LINUX_SLL2 });
    expect(none.f.srcMac).toBe(0);
  });

  it('decodes LLC for protocol 0x0004', () => {
    const { f } = decodeBytes(sll2({ srcMac: MAC, protocol: 0x0004 }, stpBpdu({ version: 2, rootMac: '00:00:00:00:00:01', bridgeMac: '00:00:00:00:00:02' })), { linkType: LINUX_SLL2 });
    expect(f.layers).toBe(Layer.SLL | Layer.LLC | Layer.STP);
    expect(f.stpVersion).toBe(2);
  });

  it('counts decoder.sll.truncated for a header cut short', () => {
    const whole = sll2({ srcMac: MAC, protocol: 0x0800 }, dgram());
    for (let n = 0; n < SLL2_HEADER_BYTES; n++) {
      const { f, events } = decodeCut(whole, n, { linkType: LINUX_SLL2 });
      expect(events, `cut at ${n}`).toEqual({ 'decoder.sll.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(0);
    }
  });
});
