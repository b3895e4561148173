import { describe, expect, it } from 'vitest';
import { ArpOp, isArpProbe, isGratuitousArp } from '../../src/decode/arp.js';
import { Layer } from '../../src/decode/frame.js';
import { decodeBytes, decodeCut } from '../helpers/frame-fields.js';
import { arp, ethernet, ipNumber, ipv4, macNumber, udp, type ArpSpec } from '../helpers/packets.js';

const A = { mac: '02:00:00:00:00:0a', ip: '192.168.1.10' };
const B = { mac: '02:00:00:00:00:0b', ip: '192.168.1.11' };
const ZERO_MAC = '00:00:00:00:00:00';

function arpFrame(spec: ArpSpec, type = 0x0806): Uint8Array {
  return ethernet({ src: spec.senderMac, dst: spec.op === 1 ? 'ff:ff:ff:ff:ff:ff' : spec.targetMac, type }, arp(spec));
}

describe('ARP for Ethernet/IPv4', () => {
  it('decodes a request: opcode, sender and target MAC and IPv4 address', () => {
    const { f, events } = decodeBytes(arpFrame({ op: 1, senderMac: A.mac, senderIp: A.ip, targetMac: ZERO_MAC, targetIp: B.ip }));
    expect(f.layers).toBe(Layer.ETHERNET | Layer.ARP);
    expect(f.etherType).toBe(0x0806);
    expect(f.arpOp).toBe(ArpOp.REQUEST);
    expect(f.arpSenderMac).toBe(macNumber(A.mac));
    expect(f.arpSenderIp).toBe(ipNumber(A.ip));
    expect(f.arpTargetMac).toBe(0);
    expect(f.arpTargetIp).toBe(ipNumber(B.ip));
    expect(events).toEqual({});
    expect(isGratuitousArp(f)).toBe(false);
    expect(isArpProbe(f)).toBe(false);
  });

  it('decodes a reply (and ignores the Ethernet padding after the 28 bytes)', () => {
    const bytes = arpFrame({ op: 2, senderMac: B.mac, senderIp: B.ip, targetMac: A.mac, targetIp: A.ip });
    expect(bytes.length).toBe(60);
    bytes.fill(0xff, 42);
    const { f, events } = decodeBytes(bytes);
    expect(f.arpOp).toBe(ArpOp.REPLY);
    expect(f.arpSenderMac).toBe(macNumber(B.mac));
    expect(f.arpTargetMac).toBe(macNumber(A.mac));
    expect(f.arpTargetIp).toBe(ipNumber(A.ip));
    expect(events).toEqual({});
  });

  it('decodes RARP (EtherType 0x8035) and hardware type 6 (IEEE 802)', () => {
    const rarp = decodeBytes(arpFrame({ op: 3, senderMac: A.mac, senderIp: '0.0.0.0', targetMac: A.mac, targetIp: '0.0.0.0' }, 0x8035));
    expect(rarp.f.etherType).toBe(0x8035);
    expect(rarp.f.layers & Layer.ARP).toBe(Layer.ARP);
    expect(rarp.f.arpOp).toBe(ArpOp.RARP_REQUEST);
    const body = arp({ op: 1, senderMac: A.mac, senderIp: A.ip, targetMac: ZERO_MAC, targetIp: B.ip });
    body[1] = 6;
    const ieee = decodeBytes(ethernet({ src: A.mac, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 }, body));
    expect(ieee.f.layers & Layer.ARP).toBe(Layer.ARP);
    expect(ieee.events).toEqual({});
  });
});

describe('gratuitous ARP and ARP probes (RFC 5227)', () => {
  it('recognizes a gratuitous request and a gratuitous reply: sender IP = target IP', () => {
    const req = decodeBytes(arpFrame({ op: 1, senderMac: A.mac, senderIp: A.ip, targetMac: ZERO_MAC, targetIp: A.ip })).f;
    expect(isGratuitousArp(req)).toBe(true);
    expect(isArpProbe(req)).toBe(false);
    const reply = decodeBytes(arpFrame({ op: 2, senderMac: A.mac, senderIp: A.ip, targetMac: 'ff:ff:ff:ff:ff:ff', targetIp: A.ip })).f;
    expect(isGratuitousArp(reply)).toBe(true);
    expect(isArpProbe(reply)).toBe(false);
  });

  it('recognizes a probe: a request from 0.0.0.0, which is not gratuitous', () => {
    const probe = decodeBytes(arpFrame({ op: 1, senderMac: A.mac, senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: B.ip })).f;
    expect(isArpProbe(probe)).toBe(true);
    expect(isGratuitousArp(probe)).toBe(false);
    // A probe for 0.0.0.0 itself: equal addresses, but 0.0.0.0 announces nothing.
    const zero = decodeBytes(arpFrame({ op: 1, senderMac: A.mac, senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: '0.0.0.0' })).f;
    expect(isArpProbe(zero)).toBe(true);
    expect(isGratuitousArp(zero)).toBe(false);
  });

  it('does not call a reply from 0.0.0.0 a probe', () => {
    const f = decodeBytes(arpFrame({ op: 2, senderMac: A.mac, senderIp: '0.0.0.0', targetMac: B.mac, targetIp: B.ip })).f;
    expect(isArpProbe(f)).toBe(false);
  });

  it('says no for a frame that is not ARP', () => {
    const f = decodeBytes(ethernet({ src: A.mac, dst: B.mac, type: 0x0800 }, ipv4({ src: A.ip, dst: A.ip, proto: 17 }, udp({ sport: 1, dport: 2 })))).f;
    expect(f.arpSenderIp).toBe(0);
    expect(isGratuitousArp(f)).toBe(false);
    expect(isArpProbe(f)).toBe(false);
  });
});

describe('malformed ARP', () => {
  it('counts ARP for other hardware or protocol types and decodes nothing', () => {
    const variants: Array<[string, (b: Uint8Array) => void]> = [
      ['hardware type 0xff00', (b) => (b[0] = 0xff)],
      ['protocol type IPv6', (b) => ((b[2] = 0x86), (b[3] = 0xdd))],
      ['hardware length 8', (b) => (b[4] = 8)],
      ['protocol length 16', (b) => (b[5] = 16)],
    ];
    for (const [what, patch] of variants) {
      const body = arp({ op: 1, senderMac: A.mac, senderIp: A.ip, targetMac: ZERO_MAC, targetIp: B.ip });
      patch(body);
      const { f, events } = decodeBytes(ethernet({ src: A.mac, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 }, body));
      expect(events, what).toEqual({ 'decoder.arp.not_ethernet_ipv4': 1 });
      expect(f.layers, what).toBe(Layer.ETHERNET);
      expect(f.arpOp, what).toBe(0);
    }
  });

  it('counts opcode 0 and opcodes above the assigned range (decoder.arp.bad_opcode), still decoding', () => {
    for (const op of [0, 26, 0xffff]) {
      const { f, events } = decodeBytes(arpFrame({ op, senderMac: A.mac, senderIp: A.ip, targetMac: B.mac, targetIp: B.ip }));
      expect(events, `op ${op}`).toEqual({ 'decoder.arp.bad_opcode': 1 });
      expect(f.arpOp).toBe(op);
      expect(f.layers & Layer.ARP).toBe(Layer.ARP);
      expect(f.arpSenderIp).toBe(ipNumber(A.ip));
    }
    expect(decodeBytes(arpFrame({ op: 25, senderMac: A.mac, senderIp: A.ip, targetMac: B.mac, targetIp: B.ip })).events).toEqual({});
  });

  it('counts decoder.arp.truncated at every cut, with the opcode once 8 bytes are there', () => {
    const whole = arpFrame({ op: 2, senderMac: A.mac, senderIp: A.ip, targetMac: B.mac, targetIp: B.ip }).subarray(0, 42);
    for (let n = 14; n < 42; n++) {
      const { f, events } = decodeCut(whole, n);
      expect(events, `cut at ${n}`).toEqual({ 'decoder.arp.truncated': 1 });
      expect(f.truncated).toBe(1);
      expect(f.layers).toBe(Layer.ETHERNET);
      expect(f.arpOp).toBe(n - 14 >= 8 ? 2 : 0);
      expect(f.arpSenderIp).toBe(0);
    }
    expect(decodeCut(whole, 42).events).toEqual({});
  });
});
