import { describe, expect, it } from 'vitest';
import { EtherType, MAX_8023_LENGTH, MIN_ETHERTYPE, etherTypeName, isKnownEtherType, isVlanTpid, knownEtherTypes } from '../../src/decode/ethertypes.js';

describe('EtherType registry', () => {
  it('names the common types and knows nothing of an unassigned one', () => {
    expect(etherTypeName(0x0800)).toBe('IPv4');
    expect(etherTypeName(0x0806)).toBe('ARP');
    expect(etherTypeName(0x86dd)).toBe('IPv6');
    expect(etherTypeName(0x88cc)).toBe('LLDP');
    expect(etherTypeName(0x8100)).toBe('802.1Q VLAN');
    expect(isKnownEtherType(0x88a8)).toBe(true);
    expect(isKnownEtherType(0xfe68)).toBe(false);
    expect(etherTypeName(0xfe68)).toBeNull();
    expect(isKnownEtherType(0x0000)).toBe(false);
  });

  it('lists every type once, each with a name, all of them EtherTypes (>= 0x0600)', () => {
    const types = knownEtherTypes().map(([t]) => t);
    expect(new Set(types).size).toBe(types.length);
    for (const [type, name] of knownEtherTypes()) {
      expect(type).toBeGreaterThanOrEqual(MIN_ETHERTYPE);
      expect(type).toBeLessThanOrEqual(0xffff);
      expect(name.length).toBeGreaterThan(0);
      expect(isKnownEtherType(type)).toBe(true);
    }
  });

  it('registers every named constant', () => {
    for (const [key, type] of Object.entries(EtherType)) expect(isKnownEtherType(type), key).toBe(true);
  });
});

describe('isVlanTpid', () => {
  it('is true for 802.1Q, 802.1ad and the old 0x9100/0x9200/0x9300 double-tag types only', () => {
    for (const t of [0x8100, 0x88a8, 0x9100, 0x9200, 0x9300]) expect(isVlanTpid(t), t.toString(16)).toBe(true);
    for (const t of [0x0800, 0x86dd, 0x88e7, 0x8926, 0x9000, 0x0000, 1500]) expect(isVlanTpid(t), t.toString(16)).toBe(false);
  });
});

describe('type/length boundaries', () => {
  it('are 1500 (largest 802.3 length) and 0x0600 (smallest EtherType)', () => {
    expect(MAX_8023_LENGTH).toBe(1500);
    expect(MIN_ETHERTYPE).toBe(1536);
  });
});
