/**
 * Reading a flow out of the table as a plain object: for the flow export and for detectors
 * that need the whole story of a flow they found interesting. Not for the per-packet path.
 * Endpoints are given from Zeek's originator, like conn.log.
 */
import { E, evDir, EvKind, evKind, evMac } from './evidence.js';
import { B, CtStatus, D, MAC_SET_SIZE, U } from './flow-table.js';
import { ctStateName, type FlowTracker } from './tracker.js';
import { VERDICT_NAMES } from './verdict.js';

export const EV_KIND_NAMES: Record<number, string> = {
  [EvKind.SYN]: 'SYN',
  [EvKind.SYNACK]: 'SYN+ACK',
  [EvKind.RST]: 'RST',
  [EvKind.FINAL_ACK]: 'ACK',
  [EvKind.ICMP_ERROR]: 'ICMP error',
};

/** One handshake event of a flow. */
export interface FlowEvent {
  kind: number;
  /** Sent by the Zeek originator (true) or the responder. */
  fromOrig: boolean;
  frame: number;
  tsSec: number;
  tsNs: number;
  mac: number;
  /** IP source address of the packet. */
  ipSrc: number;
  seq: number;
  ack: number;
  /** TCP flags (12 bits); for an ICMP error, its type. */
  flags: number;
  /** TCP window; for an ICMP error, its code. */
  window: number;
  ipId: number;
  ttl: number;
  /** TCP options present. */
  options: boolean;
}

export interface FlowRecord {
  proto: number;
  vlan: number[];
  origIp: number;
  origPort: number;
  respIp: number;
  respPort: number;
  firstFrame: number;
  lastFrame: number;
  firstSec: number;
  firstNs: number;
  lastSec: number;
  lastNs: number;
  origPkts: number;
  respPkts: number;
  origPayloadBytes: number;
  respPayloadBytes: number;
  origIpBytes: number;
  respIpBytes: number;
  origMacs: number[];
  respMacs: number[];
  /** More distinct MACs than the set holds were seen. */
  origMacsOverflow: boolean;
  respMacsOverflow: boolean;
  origTtls: number[];
  respTtls: number[];
  connState: string;
  history: string;
  ctState: string;
  ctAssured: boolean;
  ctSeenReply: boolean;
  ctEntries: number;
  /** Conntrack's originator is Zeek's originator (null when no entry was ever made). */
  ctOrigIsOrig: boolean | null;
  ctAliveAtEnd: boolean;
  verdicts: Record<string, number>;
  icmpErrors: number;
  events: FlowEvent[];
  eventsDropped: number;
}

/** The handshake events of a flow, oldest first, with roles from Zeek's originator. */
export function readEvents(tr: FlowTracker, s: number): FlowEvent[] {
  const u32 = tr.table.u32;
  const o = tr.table.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 0 : 1;
  const w = tr.evidence.w;
  const events: FlowEvent[] = [];
  for (let e = u32[s * U.STRIDE + U.EV_HEAD] - 1; e >= 0; e = w[e * E.STRIDE + E.NEXT] - 1) {
    const eb = e * E.STRIDE;
    const kind = evKind(w, eb);
    const icmp = kind === EvKind.ICMP_ERROR;
    events.push({
      kind,
      fromOrig: evDir(w, eb) === o,
      frame: w[eb + E.FRAME],
      tsSec: w[eb + E.TS_SEC],
      tsNs: w[eb + E.TS_NS],
      mac: tr.evidence.mac(e),
      ipSrc: w[eb + E.IP_SRC],
      seq: w[eb + E.SEQ],
      ack: w[eb + E.ACK],
      flags: icmp ? w[eb + E.FLAGS_WIN] & 0xff : w[eb + E.FLAGS_WIN] & 0xfff,
      window: icmp ? (w[eb + E.FLAGS_WIN] >>> 8) & 0xff : w[eb + E.FLAGS_WIN] >>> 16,
      ipId: w[eb + E.IPID_TTL] & 0xffff,
      ttl: (w[eb + E.IPID_TTL] >>> 16) & 0xff,
      options: w[eb + E.IPID_TTL] >>> 24 === 1,
    });
  }
  return events;
}

export function readFlow(tr: FlowTracker, s: number): FlowRecord {
  const t = tr.table;
  const u32 = t.u32;
  const f64 = t.f64;
  const u8 = t.u8;
  const b = s * U.STRIDE;
  const d = s * D.STRIDE;
  const c = s * B.STRIDE;
  const zOrigIsA = u8[c + B.Z_ORIG_IS_A] === 1;
  const o = zOrigIsA ? 0 : 1; // canonical direction of the originator's packets
  const portA = u32[b + U.PORTS] & 0xffff;
  const portB = u32[b + U.PORTS] >>> 16;
  const vlanWord = u32[b + U.VLAN];
  const vlan: number[] = [];
  if ((vlanWord & 0xffffff) !== 0) {
    vlan.push(vlanWord & 0xfff);
    if ((vlanWord >>> 12) & 0xfff) vlan.push((vlanWord >>> 12) & 0xfff);
  }
  const macs = (dir: number): number[] => {
    const out: number[] = [];
    for (let k = 0; k < u8[c + B.MAC_COUNT + dir]; k++) out.push(f64[d + D.MACS + dir * MAC_SET_SIZE + k]);
    return out;
  };
  const ttls = (dir: number): number[] => {
    const out: number[] = [];
    const packed = u32[b + U.TTLS + dir];
    for (let k = 0; k < Math.min(4, u8[c + B.TTL_COUNT + dir]); k++) out.push((packed >>> (k * 8)) & 0xff);
    return out;
  };
  const verdicts: Record<string, number> = {};
  VERDICT_NAMES.forEach((n, i) => {
    if (u32[b + U.VERDICTS + i] > 0) verdicts[n] = u32[b + U.VERDICTS + i];
  });
  const events = readEvents(tr, s);
  const entries = u32[b + U.CT_ENTRIES];
  const status = u8[c + B.CT_STATUS];
  return {
    proto: u8[c + B.PROTO],
    vlan,
    origIp: zOrigIsA ? u32[b + U.IP_A] : u32[b + U.IP_B],
    origPort: zOrigIsA ? portA : portB,
    respIp: zOrigIsA ? u32[b + U.IP_B] : u32[b + U.IP_A],
    respPort: zOrigIsA ? portB : portA,
    firstFrame: u32[b + U.FIRST_FRAME],
    lastFrame: u32[b + U.LAST_FRAME],
    firstSec: u32[b + U.FIRST_SEC],
    firstNs: u32[b + U.FIRST_NS],
    lastSec: u32[b + U.LAST_SEC],
    lastNs: u32[b + U.LAST_NS],
    origPkts: f64[d + D.PKTS + o],
    respPkts: f64[d + D.PKTS + 1 - o],
    origPayloadBytes: f64[d + D.PAYLOAD_BYTES + o],
    respPayloadBytes: f64[d + D.PAYLOAD_BYTES + 1 - o],
    origIpBytes: f64[d + D.IP_BYTES + o],
    respIpBytes: f64[d + D.IP_BYTES + 1 - o],
    origMacs: macs(o),
    respMacs: macs(1 - o),
    origMacsOverflow: u8[c + B.MAC_OVERFLOW + o] === 1,
    respMacsOverflow: u8[c + B.MAC_OVERFLOW + 1 - o] === 1,
    origTtls: ttls(o),
    respTtls: ttls(1 - o),
    connState: tr.connState(s),
    history: tr.zeek.history(s),
    ctState: entries > 0 ? ctStateName(tr, s) : 'NONE',
    ctAssured: (status & CtStatus.ASSURED) !== 0,
    ctSeenReply: (status & CtStatus.SEEN_REPLY) !== 0,
    ctEntries: entries,
    ctOrigIsOrig: entries > 0 ? (u8[c + B.CT_ORIG_IS_A] === 1) === zOrigIsA : null,
    ctAliveAtEnd: (status & CtStatus.ALIVE) !== 0 && tr.now < f64[d + D.CT_EXPIRES],
    verdicts,
    icmpErrors: u32[b + U.ICMP_ERRORS],
    events,
    eventsDropped: u32[b + U.EV_DROPPED],
  };
}

/**
 * A flow's handshake events copied into reusable typed arrays: for detectors that look at every
 * flow when it ends, without allocating an object per event.
 */
export class EventScratch {
  count = 0;
  kind = new Uint8Array(64);
  fromOrig = new Uint8Array(64);
  frame = new Uint32Array(64);
  tsSec = new Uint32Array(64);
  tsNs = new Uint32Array(64);
  seq = new Uint32Array(64);
  ack = new Uint32Array(64);
  /** TCP flags (or the ICMP type). */
  flags = new Uint16Array(64);
  ttl = new Uint8Array(64);
  mac = new Float64Array(64);

  /** Time of event i in seconds. */
  time(i: number): number {
    return this.tsSec[i] + this.tsNs[i] * 1e-9;
  }

  /** Loads the events of flow `s`; returns how many. */
  load(tr: FlowTracker, s: number): number {
    const u32 = tr.table.u32;
    const o = tr.table.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 0 : 1;
    const w = tr.evidence.w;
    let n = 0;
    for (let e = u32[s * U.STRIDE + U.EV_HEAD] - 1; e >= 0 && n < 64; e = w[e * E.STRIDE + E.NEXT] - 1) {
      const eb = e * E.STRIDE;
      const kind = evKind(w, eb);
      this.kind[n] = kind;
      this.fromOrig[n] = evDir(w, eb) === o ? 1 : 0;
      this.frame[n] = w[eb + E.FRAME];
      this.tsSec[n] = w[eb + E.TS_SEC];
      this.tsNs[n] = w[eb + E.TS_NS];
      this.seq[n] = w[eb + E.SEQ];
      this.ack[n] = w[eb + E.ACK];
      this.flags[n] = kind === EvKind.ICMP_ERROR ? w[eb + E.FLAGS_WIN] & 0xff : w[eb + E.FLAGS_WIN] & 0xfff;
      this.ttl[n] = (w[eb + E.IPID_TTL] >>> 16) & 0xff;
      this.mac[n] = evMac(w, eb);
      n++;
    }
    this.count = n;
    return n;
  }
}
