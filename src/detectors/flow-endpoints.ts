/** The two ends of a flow as detectors name them: the client (Zeek originator) and the server. */
import { B, U } from '../flows/flow-table.js';
import type { FlowTracker } from '../flows/tracker.js';
import { formatIpv4 } from '../report/format.js';

export interface Endpoint {
  ip: number;
  port: number;
  /** VLAN word of the flow key (outer id | inner id << 12), 0 when untagged. */
  vlan: number;
}

/** The address on canonical side `side` of a flow: 0 is A (the lower ip, port of the key), 1 is B. */
export function sideIp(tr: FlowTracker, s: number, side: number): number {
  return tr.table.u32[s * U.STRIDE + (side === 0 ? U.IP_A : U.IP_B)];
}

/** The port on canonical side `side` of a flow. */
export function sidePort(tr: FlowTracker, s: number, side: number): number {
  const ports = tr.table.u32[s * U.STRIDE + U.PORTS];
  return side === 0 ? ports & 0xffff : ports >>> 16;
}

/** The VLAN word of a flow's key. */
export function flowVlan(tr: FlowTracker, s: number): number {
  return tr.table.u32[s * U.STRIDE + U.VLAN] & 0xffffff;
}

/** The canonical side of a flow's responder (server). */
export function serverSide(tr: FlowTracker, s: number): number {
  return tr.table.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 1 : 0;
}

/** The endpoint on canonical side `side` of a flow (an object: off the per-packet path). */
export function sideEndpoint(tr: FlowTracker, s: number, side: number): Endpoint {
  return { ip: sideIp(tr, s, side), port: sidePort(tr, s, side), vlan: flowVlan(tr, s) };
}

/** The responder (server) end of a flow. */
export function serverEnd(tr: FlowTracker, s: number): Endpoint {
  return sideEndpoint(tr, s, serverSide(tr, s));
}

/** A map key for an endpoint. */
export function endpointKey(e: Endpoint): string {
  return `${e.vlan}|${e.ip}|${e.port}`;
}

/** "10.0.0.5:22", or "vlan 10 10.0.0.5:22" when tagged. */
export function endpointName(e: Endpoint): string {
  const name = `${formatIpv4(e.ip)}:${e.port}`;
  if (e.vlan === 0) return name;
  const inner = (e.vlan >>> 12) & 0xfff;
  return `vlan ${e.vlan & 0xfff}${inner ? `.${inner}` : ''} ${name}`;
}

/** The endpoint of a VLAN word and a packed key (ip * 65536 + port), as EndpointIndex stores them. */
export function endpointOfKey(vlan: number, key: number): Endpoint {
  return { vlan, ip: Math.floor(key / 65536), port: key % 65536 };
}

/** An EndpointIndex's keys as plain arrays, in insertion order: what crosses threads. */
export interface EndpointKeys {
  vlans: Int32Array;
  /** ip * 65536 + port. */
  keys: Float64Array;
}

/** An EndpointMap's contents as plain arrays, in insertion order. */
export interface EndpointMapParts<T> extends EndpointKeys {
  values: T[];
}

/**
 * Numbers (VLAN, IPv4 address, port) to their order of arrival: entry i is the i-th endpoint
 * added. For detectors that keep one row per endpoint in a table of their own, the entry is the
 * row: no value to store. Open addressing over typed arrays (no boxed key, no string, no
 * allocation per lookup).
 */
export class EndpointIndex {
  size = 0;
  protected vlans = new Int32Array(64);
  protected keys = new Float64Array(64);
  /** Open-addressing table of entry index + 1 (0 = empty), at most half full. */
  private table = new Int32Array(128);
  private mask = 127;

  /** The entry of an endpoint, or -1. */
  indexOf(vlan: number, ip: number, port: number): number {
    return this.find(vlan, ip * 65536 + port);
  }

  /** The entry of an endpoint given as its packed key (ip * 65536 + port, as keyParts() holds it), or -1. */
  indexOfKey(vlan: number, key: number): number {
    return this.find(vlan, key);
  }

  /** Adds an endpoint that is not there yet; returns its entry. */
  add(vlan: number, ip: number, port: number): number {
    return this.addKey(vlan, ip * 65536 + port);
  }

  /** Adds an endpoint, given as its packed key, that is not there yet; returns its entry. */
  addKey(vlan: number, key: number): number {
    if ((this.size + 1) * 2 > this.table.length) this.rehash(this.table.length * 2);
    if (this.size === this.keys.length) {
      const vlans = new Int32Array(this.size * 2);
      vlans.set(this.vlans);
      this.vlans = vlans;
      const keys = new Float64Array(this.size * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    const n = this.size++;
    this.vlans[n] = vlan;
    this.keys[n] = key;
    this.place(n);
    return n;
  }

  /**
   * The keys as plain arrays, for a partial result: views of the index's own arrays, not copies
   * (a shard takes its partial once it is done, and hands the buffers over; the index must not
   * change afterwards).
   */
  keyParts(): EndpointKeys {
    return { vlans: this.vlans.subarray(0, this.size), keys: this.keys.subarray(0, this.size) };
  }

  private find(vlan: number, key: number): number {
    const table = this.table;
    for (let h = hashEndpoint(vlan, key) & this.mask; ; h = (h + 1) & this.mask) {
      const e = table[h]!;
      if (e === 0) return -1;
      if (this.keys[e - 1] === key && this.vlans[e - 1] === vlan) return e - 1;
    }
  }

  private place(i: number): void {
    let h = hashEndpoint(this.vlans[i]!, this.keys[i]!) & this.mask;
    while (this.table[h] !== 0) h = (h + 1) & this.mask;
    this.table[h] = i + 1;
  }

  private rehash(size: number): void {
    this.table = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < this.size; i++) this.place(i);
  }
}

/**
 * A map keyed by (VLAN, IPv4 address, port), for detectors that update it once per flow: an
 * EndpointIndex with the values in one array in insertion order. Sent between threads as `parts()`.
 */
export class EndpointMap<T> extends EndpointIndex {
  private values: T[] = [];

  get(vlan: number, ip: number, port: number): T | undefined {
    const i = this.indexOf(vlan, ip, port);
    return i < 0 ? undefined : this.values[i];
  }

  set(vlan: number, ip: number, port: number, value: T): void {
    const i = this.indexOf(vlan, ip, port);
    if (i >= 0) {
      this.values[i] = value;
      return;
    }
    this.add(vlan, ip, port);
    this.values.push(value);
  }

  /** Entries as [endpoint, value], sorted by VLAN, address and port (a stable report order); `keep` filters first. */
  entries(keep?: (value: T) => boolean): Array<[Endpoint, T]> {
    const order: number[] = [];
    for (let i = 0; i < this.size; i++) if (!keep || keep(this.values[i]!)) order.push(i);
    order.sort((a, b) => this.vlans[a]! - this.vlans[b]! || this.keys[a]! - this.keys[b]!);
    return order.map((i) => [endpointOfKey(this.vlans[i]!, this.keys[i]!), this.values[i]!]);
  }

  /** The contents as plain arrays, for a partial result: views, as keyParts(), and the values themselves. */
  parts(): EndpointMapParts<T> {
    return { ...this.keyParts(), values: this.values };
  }
}

function hashEndpoint(vlan: number, key: number): number {
  const hi = Math.floor(key / 0x100000000);
  let h = Math.imul((key >>> 0) ^ Math.imul(hi ^ (vlan << 16), 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2ae35) >>> 0;
}
