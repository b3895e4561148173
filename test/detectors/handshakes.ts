/**
 * Scenario builders for the incident-1 detectors (tcp.conflicting_responses,
 * l2.unknown_unicast_flood): normal TCP sessions, and "one SYN, two answers" handshakes where a
 * forged refusal (a RST shaped like a Linux REJECT, or an ICMP unreachable) races the real
 * server's SYN+ACK. Every builder returns the frame numbers it wrote, so tests can assert exact
 * evidence.
 */
import { analyzeFile } from '../../src/analysis/analyze.js';
import type { CaptureReport, Finding } from '../../src/report/types.js';
import type { CaptureBuilder, Host } from '../helpers/capture-builder.js';
import { ipv4, tcp } from '../helpers/packets.js';

export const client: Host = { mac: '02:00:00:01:00:10', ip: '192.0.2.10' };
export const server: Host = { mac: '02:00:00:01:00:20', ip: '192.0.2.20' };
/** A second server on the same segment. */
export const server2: Host = { mac: '02:00:00:01:00:21', ip: '192.0.2.21' };
/** A firewall appliance on another bridge port (routing firewall: its own MAC). */
export const firewall: Host = { mac: '02:00:00:01:00:30', ip: '192.0.2.30' };
/** The router of the segment. */
export const router: Host = { mac: '02:00:00:01:00:01', ip: '192.0.2.1' };

/** Options of one handshake. */
export interface HandshakeSpec {
  client?: Host;
  server?: Host;
  sport: number;
  dport?: number;
  /** Client ISN (the SYN's sequence number). */
  isn: number;
  /** Server ISN (the SYN+ACK's sequence number). */
  sIsn?: number;
}

/** Frames of a normal session: SYN, SYN+ACK, ACK, server data, ACK, FIN+ACK both ways, last ACK. */
export interface Session {
  syn: number;
  synAck: number;
  ack: number;
  all: number[];
}

/** A complete, normal TCP session starting at `t` (8 frames over 30 ms). */
export function normalSession(b: CaptureBuilder, t: number, h: HandshakeSpec): Session {
  const c = h.client ?? client;
  const s = h.server ?? server;
  const dport = h.dport ?? 22;
  const isn = h.isn >>> 0;
  const sIsn = (h.sIsn ?? 0x10000000 + h.sport) >>> 0;
  const cs = { sport: h.sport, dport };
  const sc = { sport: dport, dport: h.sport };
  const syn = b.at(t).tcp(c, s, { ...cs, flags: 'S', seq: isn, synOpts: true, ipId: 0x4000 + h.sport });
  const synAck = b.at(t + 0.0003).tcp(s, c, { ...sc, flags: 'SA', seq: sIsn, ack: isn + 1, synOpts: true, window: 65160 });
  const ack = b.at(t + 0.0006).tcp(c, s, { ...cs, flags: 'A', seq: isn + 1, ack: sIsn + 1 });
  const data = b.at(t + 0.01).tcp(s, c, { ...sc, flags: 'PA', seq: sIsn + 1, ack: isn + 1, len: 40 });
  const dataAck = b.at(t + 0.0101).tcp(c, s, { ...cs, flags: 'A', seq: isn + 1, ack: sIsn + 41 });
  const finS = b.at(t + 0.02).tcp(s, c, { ...sc, flags: 'FA', seq: sIsn + 41, ack: isn + 1 });
  const finC = b.at(t + 0.0201).tcp(c, s, { ...cs, flags: 'FA', seq: isn + 1, ack: sIsn + 42 });
  const last = b.at(t + 0.0204).tcp(s, c, { ...sc, flags: 'A', seq: sIsn + 42, ack: isn + 2 });
  return { syn, synAck, ack, all: [syn, synAck, ack, data, dataAck, finS, finC, last] };
}

/** How the refusal of a double-answered SYN looks. */
export interface RefusalSpec {
  /** 'rst': a RST+ACK (seq 0, ack = ISN + 1); 'icmp': an ICMP destination unreachable quoting the SYN. */
  kind?: 'rst' | 'icmp';
  /** Source of the refusal (default: the server's IP and MAC, as a Linux bridge REJECT forges it). */
  from?: Host;
  /** RST shape (default: the Linux REJECT fingerprint: window 0, IP id 0, no options). */
  window?: number;
  ipId?: number;
  options?: Uint8Array;
  ttl?: number;
  /** ICMP code (default 3, port unreachable). */
  code?: number;
}

/** Frames of a SYN answered by both a refusal and a SYN+ACK. */
export interface DoubleAnswer {
  syn: number;
  refusal: number;
  synAck: number;
  /** The server's retransmitted SYN+ACK (refused first) or the client's ACK (SYN+ACK first). */
  synAckRetrans: number | null;
  /** The client's RST to the retransmitted SYN+ACK (refused first only). */
  clientRst: number | null;
  clientAck: number | null;
}

/**
 * One SYN at `t`, two answers: with `first: 'refusal'` the refusal comes 40 µs after the SYN and the
 * SYN+ACK 100 µs after it (the client is refused, ignores the SYN+ACK, and answers the server's
 * retransmission 1 s later with a bare RST, seq = ISN + 1); with `first: 'synack'` the SYN+ACK comes
 * at 40 µs, the client ACKs it at 50 µs, and the refusal comes at 100 µs.
 */
export function doubleAnswer(b: CaptureBuilder, t: number, h: HandshakeSpec & { first: 'refusal' | 'synack'; refusal?: RefusalSpec }): DoubleAnswer {
  const c = h.client ?? client;
  const s = h.server ?? server;
  const dport = h.dport ?? 22;
  const isn = h.isn >>> 0;
  const sIsn = (h.sIsn ?? 0x20000000 + h.sport) >>> 0;
  const r = h.refusal ?? {};
  const cs = { sport: h.sport, dport };
  const sc = { sport: dport, dport: h.sport };
  const syn = b.at(t).tcp(c, s, { ...cs, flags: 'S', seq: isn, synOpts: true, ipId: 0x4000 + h.sport });
  const refuse = (at: number): number => {
    const from = r.from ?? s;
    if (r.kind === 'icmp') {
      const quoted = ipv4({ src: c.ip, dst: s.ip, proto: 6, ttl: 64, id: 0x4000 + h.sport, df: true }, tcp({ ...cs, flags: 'S', seq: isn }));
      return b.at(at).icmpError(from, c, { type: 3, code: r.code ?? 3 }, quoted);
    }
    return b.at(at).tcp({ mac: from.mac, ip: s.ip }, c, {
      ...sc,
      flags: 'RA',
      seq: 0,
      ack: isn + 1,
      window: r.window ?? 0,
      ipId: r.ipId ?? 0,
      ttl: r.ttl ?? 64,
      ...(r.options ? { options: r.options } : {}),
    });
  };
  const synAckAt = (at: number): number => b.at(at).tcp(s, c, { ...sc, flags: 'SA', seq: sIsn, ack: isn + 1, synOpts: true, window: 65160 });
  if (h.first === 'refusal') {
    const refusal = refuse(t + 0.00004);
    const synAck = synAckAt(t + 0.0001);
    const synAckRetrans = synAckAt(t + 1.0001);
    const clientRst = b.at(t + 1.0002).tcp(c, s, { ...cs, flags: 'R', seq: isn + 1, ack: 0, window: 0 });
    return { syn, refusal, synAck, synAckRetrans, clientRst, clientAck: null };
  }
  const synAck = synAckAt(t + 0.00004);
  const clientAck = b.at(t + 0.00005).tcp(c, s, { ...cs, flags: 'A', seq: isn + 1, ack: sIsn + 1 });
  const refusal = refuse(t + 0.0001);
  return { syn, refusal, synAck, synAckRetrans: null, clientRst: null, clientAck };
}

/** Analyzes a capture built in a test (any options, MACs as text; any thread count). */
export async function analyzeBuilt(b: CaptureBuilder, opts: { options?: Record<string, number>; threads?: number; linkType?: number } = {}): Promise<CaptureReport> {
  const file = b.writeTemp('t.pcap', 'pcap', opts.linkType !== undefined ? { linkType: opts.linkType } : {});
  return analyzeFile(file, { threads: opts.threads ?? 1, options: opts.options ?? {} });
}

export function byId(r: CaptureReport, id: string): Finding[] {
  return r.findings.filter((f) => f.id === id);
}

/** ISO time of a capture-relative time in a CaptureBuilder with the default start (1 700 000 000). */
export function iso(seconds: number): string {
  const whole = Math.floor(seconds);
  const ns = Math.round((seconds - whole) * 1e9);
  const d = new Date((1_700_000_000 + whole) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${d}.${String(ns).padStart(9, '0')}Z`;
}
