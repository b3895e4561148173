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

/** The responder (server) end of a flow. */
export function serverEnd(tr: FlowTracker, s: number): Endpoint {
  const t = tr.table;
  const b = s * U.STRIDE;
  const origIsA = t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1;
  return {
    ip: origIsA ? t.u32[b + U.IP_B] : t.u32[b + U.IP_A],
    port: origIsA ? t.u32[b + U.PORTS] >>> 16 : t.u32[b + U.PORTS] & 0xffff,
    vlan: t.u32[b + U.VLAN] & 0xffffff,
  };
}

/** The originator (client) end of a flow. */
export function clientEnd(tr: FlowTracker, s: number): Endpoint {
  const t = tr.table;
  const b = s * U.STRIDE;
  const origIsA = t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1;
  return {
    ip: origIsA ? t.u32[b + U.IP_A] : t.u32[b + U.IP_B],
    port: origIsA ? t.u32[b + U.PORTS] & 0xffff : t.u32[b + U.PORTS] >>> 16,
    vlan: t.u32[b + U.VLAN] & 0xffffff,
  };
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

/**
 * A map keyed by (VLAN, IPv4 address, port) without building a string per lookup: one numeric key
 * per VLAN (ip * 65536 + port < 2^48), VLANs in an outer map. Clonable (Maps of plain data).
 */
export class EndpointMap<T> {
  /** Structured clone keeps the Maps but not this class: send `byVlan`, wrap it again on arrival. */
  constructor(readonly byVlan: Map<number, Map<number, T>> = new Map()) {}

  get(vlan: number, ip: number, port: number): T | undefined {
    return this.byVlan.get(vlan)?.get(ip * 65536 + port);
  }

  set(vlan: number, ip: number, port: number, value: T): void {
    let m = this.byVlan.get(vlan);
    if (!m) {
      m = new Map();
      this.byVlan.set(vlan, m);
    }
    m.set(ip * 65536 + port, value);
  }

  /** Entries as [endpoint, value], sorted by VLAN, address and port (a stable report order). */
  entries(): Array<[Endpoint, T]> {
    const out: Array<[Endpoint, T]> = [];
    for (const vlan of [...this.byVlan.keys()].sort((a, b) => a - b)) {
      const m = this.byVlan.get(vlan)!;
      for (const k of [...m.keys()].sort((a, b) => a - b)) out.push([{ vlan, ip: Math.floor(k / 65536), port: k % 65536 }, m.get(k)!]);
    }
    return out;
  }
}
