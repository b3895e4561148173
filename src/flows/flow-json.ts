/**
 * One finished flow as a conn.log-style JSON line (`--flows FILE`). Endpoints are given from
 * Zeek's originator, like conn.log; `conntrack.orig` says which side conntrack saw first.
 */
import { formatIpv4, formatMac, formatTimestamp } from '../report/format.js';
import { flowProtoName } from '../decode/ipproto.js';
import { EvKind } from './evidence.js';
import { EV_KIND_NAMES, readFlow } from './flow-view.js';
import { END_REASON_NAMES, type FlowTracker } from './tracker.js';

export interface FlowJson {
  ts: string;
  end: string;
  duration: number;
  proto: string;
  vlan: number[];
  orig_h: string;
  orig_p: number;
  resp_h: string;
  resp_p: number;
  orig_pkts: number;
  resp_pkts: number;
  orig_bytes: number;
  resp_bytes: number;
  orig_ip_bytes: number;
  resp_ip_bytes: number;
  orig_macs: string[];
  resp_macs: string[];
  orig_ttls: number[];
  resp_ttls: number[];
  conn_state: string;
  history: string;
  conntrack: { state: string; assured: boolean; seen_reply: boolean; entries: number; orig: 'orig' | 'resp' | null; alive_at_end: boolean };
  verdicts: Record<string, number>;
  icmp_errors: number;
  first_frame: number;
  last_frame: number;
  end_reason: string;
  handshake: Array<{ kind: string; frame: number; time: string; from: 'orig' | 'resp'; mac: string; src: string; seq: number; ack: number; window: number; ip_id: number; ttl: number; options: boolean }>;
  handshake_dropped?: number;
}

export function flowToJson(tr: FlowTracker, s: number, reason: number): FlowJson {
  const f = readFlow(tr, s);
  const json: FlowJson = {
    ts: formatTimestamp(f.firstSec, f.firstNs),
    end: formatTimestamp(f.lastSec, f.lastNs),
    duration: Math.max(0, Math.round((f.lastSec - f.firstSec) * 1e6 + (f.lastNs - f.firstNs) / 1e3) / 1e6),
    proto: flowProtoName(f.proto),
    vlan: f.vlan,
    orig_h: formatIpv4(f.origIp),
    orig_p: f.origPort,
    resp_h: formatIpv4(f.respIp),
    resp_p: f.respPort,
    orig_pkts: f.origPkts,
    resp_pkts: f.respPkts,
    orig_bytes: f.origPayloadBytes,
    resp_bytes: f.respPayloadBytes,
    orig_ip_bytes: f.origIpBytes,
    resp_ip_bytes: f.respIpBytes,
    orig_macs: f.origMacs.map(formatMac),
    resp_macs: f.respMacs.map(formatMac),
    orig_ttls: f.origTtls,
    resp_ttls: f.respTtls,
    conn_state: f.connState,
    history: f.history,
    conntrack: {
      state: f.ctState,
      assured: f.ctAssured,
      seen_reply: f.ctSeenReply,
      entries: f.ctEntries,
      orig: f.ctOrigIsOrig === null ? null : f.ctOrigIsOrig ? 'orig' : 'resp',
      alive_at_end: f.ctAliveAtEnd,
    },
    verdicts: f.verdicts,
    icmp_errors: f.icmpErrors,
    first_frame: f.firstFrame,
    last_frame: f.lastFrame,
    end_reason: END_REASON_NAMES[reason] ?? 'unknown',
    handshake: f.events.map((e) => ({
      kind: EV_KIND_NAMES[e.kind] ?? String(e.kind),
      frame: e.frame,
      time: formatTimestamp(e.tsSec, e.tsNs),
      from: e.fromOrig ? 'orig' : 'resp',
      mac: formatMac(e.mac),
      src: formatIpv4(e.ipSrc),
      seq: e.seq,
      ack: e.ack,
      window: e.kind === EvKind.ICMP_ERROR ? 0 : e.window,
      ip_id: e.ipId,
      ttl: e.ttl,
      options: e.options,
    })),
  };
  if (f.eventsDropped > 0) json.handshake_dropped = f.eventsDropped;
  return json;
}

/** The JSON line for the export. */
export function flowToJsonLine(tr: FlowTracker, s: number, reason: number): string {
  return JSON.stringify(flowToJson(tr, s, reason));
}
