import { describe, expect, it } from 'vitest';
import { EndpointIndex, EndpointMap, endpointName, endpointOfKey } from '../../src/detectors/flow-endpoints.js';

describe('EndpointMap', () => {
  it('keeps (VLAN, address, port) apart, overwrites, grows, and survives parts()', () => {
    const m = new EndpointMap<number>();
    const ips = [0, 1, 0x0a000001, 0xc0a80105, 0xffffffff];
    const ports = [0, 22, 443, 65535];
    const vlans = [0, 10, 10 | (20 << 12), 0xffffff];
    let n = 0;
    for (const vlan of vlans) for (const ip of ips) for (const port of ports) m.set(vlan, ip, port, n++);
    // Enough distinct keys to force several rehashes.
    for (let i = 0; i < 5000; i++) m.set(7, 0x0a000000 + i, 80, 100000 + i);
    expect(m.size).toBe(n + 5000);
    n = 0;
    for (const vlan of vlans) for (const ip of ips) for (const port of ports) expect(m.get(vlan, ip, port)).toBe(n++);
    expect(m.get(1, 0x0a000001, 22)).toBeUndefined();
    expect(m.get(0, 0x0a000001, 23)).toBeUndefined();
    m.set(0, 0x0a000001, 22, -5);
    expect(m.get(0, 0x0a000001, 22)).toBe(-5);
    expect(m.size).toBe(n + 5000);

    // What crosses threads: the used part of each array, in insertion order.
    const parts = structuredClone(m.parts());
    expect(parts.vlans.length).toBe(m.size);
    expect(parts.keys.length).toBe(m.size);
    expect(parts.values.length).toBe(m.size);
    const copy = new EndpointMap<number>();
    for (let i = 0; i < parts.values.length; i++) copy.set(parts.vlans[i]!, Math.floor(parts.keys[i]! / 65536), parts.keys[i]! % 65536, parts.values[i]!);
    expect(copy.size).toBe(m.size);
    expect(copy.entries()).toEqual(m.entries());
  });

  it('EndpointIndex: entry i is the i-th endpoint added, found again by its packed key', () => {
    const ix = new EndpointIndex();
    expect(ix.add(0, 0x0a000001, 80)).toBe(0);
    expect(ix.addKey(10, 0xffffffff * 65536 + 65535)).toBe(1);
    expect(ix.add(0, 0x0a000001, 81)).toBe(2);
    const { vlans, keys } = ix.keyParts();
    expect([...vlans]).toEqual([0, 10, 0]);
    for (let i = 0; i < keys.length; i++) expect(ix.indexOfKey(vlans[i]!, keys[i]!)).toBe(i);
    expect(ix.indexOf(10, 0xffffffff, 65535)).toBe(1);
    expect(ix.indexOf(0, 0xffffffff, 65535)).toBe(-1);
    expect(endpointOfKey(vlans[1]!, keys[1]!)).toEqual({ vlan: 10, ip: 0xffffffff, port: 65535 });
  });

  it('lists entries sorted by VLAN, address and port, filtered before sorting', () => {
    const m = new EndpointMap<string>();
    m.set(10, 2, 80, 'c');
    m.set(0, 3, 80, 'b');
    m.set(0, 1, 443, 'a2');
    m.set(0, 1, 80, 'a1');
    expect(m.entries().map(([e, v]) => [endpointName(e), v])).toEqual([
      ['0.0.0.1:80', 'a1'],
      ['0.0.0.1:443', 'a2'],
      ['0.0.0.3:80', 'b'],
      ['vlan 10 0.0.0.2:80', 'c'],
    ]);
    expect(m.entries((v) => v.startsWith('a')).map(([, v]) => v)).toEqual(['a1', 'a2']);
  });
});
