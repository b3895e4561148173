/**
 * Scenario builders shared by the tests of the flow-scope detectors of incidents 2 and 4
 * (tcp.syn_recv_buildup, ct.table_pressure, ct.invalid, flow.one_way):
 *
 * - `Timeline` places frames at capture times in any order and writes them sorted by time (ties
 *   keep the order of the calls), so a scenario can describe each connection from start to end
 *   and still produce a capture in time order. Each frame comes back as a `FrameRef` whose
 *   `frame` (1-based, as Wireshark numbers it) is known once `build()` ran.
 * - `synFlood` writes SYNs from spoofed sources (as seen on the server's interface: every frame
 *   from the router's MAC) and the server's SYN+ACKs with Linux's retransmission schedule.
 *
 * Captures are written with nanosecond timestamps; times on the grid of 1/512 s are then exact,
 * in the file and as floating-point seconds.
 */
import { analyzeFile } from '../../src/analysis/analyze.js';
import { formatTimestamp } from '../../src/report/format.js';
import type { CaptureReport, Finding } from '../../src/report/types.js';
import { CaptureBuilder, type Host, type TcpFrameSpec } from '../helpers/capture-builder.js';
import { TcpConversation, type TcpSink } from '../helpers/flows.js';

/** Where a frame will be: its time (seconds from the capture start) and, after `build()`, its number. */
export interface FrameRef {
  readonly t: number;
  frame: number;
}

export const START_SEC = 1_700_000_000;

/** ISO 8601 time of a capture-relative time, as the report prints it (nanoseconds rounded as the builder does). */
export function iso(t: number): string {
  const whole = Math.floor(t);
  return formatTimestamp(START_SEC + whole, Math.round((t - whole) * 1e9));
}

/** ISO 8601 time of the start of capture second `sec`. */
export function isoSecond(sec: number): string {
  return formatTimestamp(START_SEC + sec, 0);
}

export class Timeline {
  private readonly items: Array<{ ref: FrameRef; emit: (b: CaptureBuilder) => number }> = [];
  private built: CaptureBuilder | null = null;

  private push(t: number, emit: (b: CaptureBuilder) => number): FrameRef {
    if (this.built) throw new Error('Timeline already built');
    const ref: FrameRef = { t, frame: 0 };
    this.items.push({ ref, emit });
    return ref;
  }

  tcp(t: number, from: Host, to: Host, spec: TcpFrameSpec): FrameRef {
    return this.push(t, (b) => b.at(t).tcp(from, to, spec));
  }

  udp(t: number, from: Host, to: Host, spec: { sport: number; dport: number; len?: number; ttl?: number }): FrameRef {
    return this.push(t, (b) => b.at(t).udp(from, to, spec));
  }

  ping(t: number, from: Host, to: Host, spec: { type: 0 | 8; id: number; seq: number }): FrameRef {
    return this.push(t, (b) => b.at(t).ping(from, to, spec));
  }

  icmpError(t: number, from: Host, to: Host, spec: { type: number; code: number }, quoted: Uint8Array): FrameRef {
    return this.push(t, (b) => b.at(t).icmpError(from, to, spec, quoted));
  }

  /** A broadcast ARP request: a frame that is no IPv4 and takes no conntrack entry (to set the capture's end). */
  arp(t: number, from: Host, targetIp: string): FrameRef {
    return this.push(t, (b) => b.at(t).arp({ op: 1, from, target: { mac: '00:00:00:00:00:00', ip: targetIp } }));
  }

  /**
   * A TCP conversation (sequence numbers kept by TcpConversation) whose next segment is placed at
   * the time given to `at`: `s.at(0.5).c('S')`.
   */
  conversation(client: Host, server: Host, o: ConstructorParameters<typeof TcpConversation>[3]): { at(t: number): TcpConversation<FrameRef> } {
    let now = 0;
    const sink: TcpSink<FrameRef> = { tcp: (from, to, spec) => this.tcp(now, from, to, spec) };
    const conv = new TcpConversation(sink, client, server, o);
    return {
      at: (t: number) => {
        now = t;
        return conv;
      },
    };
  }

  /** Writes the frames in time order into a CaptureBuilder and fills in the frame numbers. */
  build(): CaptureBuilder {
    if (this.built) return this.built;
    const b = new CaptureBuilder({ startSec: START_SEC });
    const order = this.items.map((it, i) => ({ it, i })).sort((x, y) => x.it.ref.t - y.it.ref.t || x.i - y.i);
    for (const { it } of order) it.ref.frame = it.emit(b);
    this.built = b;
    return b;
  }
}

/** Runs the whole analysis on a timeline (threads 1 tracks on this thread; more use the compiled workers in dist/). */
export async function analyzeTimeline(tl: Timeline, options: Record<string, number> = {}, threads = 1): Promise<CaptureReport> {
  const file = tl.build().writeTemp('t.pcap', 'pcap', { nanos: true });
  return analyzeFile(file, { threads, options });
}

export async function findingsOfTimeline(tl: Timeline, id: string, options: Record<string, number> = {}, threads = 1): Promise<Finding[]> {
  return (await analyzeTimeline(tl, options, threads)).findings.filter((f) => f.id === id);
}

export const frameNumbers = (refs: readonly FrameRef[]): number[] => refs.map((r) => r.frame);

// ---- incident 2: a SYN flood seen on the server's interface --------------------------------------

export const ROUTER_MAC = '02:00:00:02:00:01';
export const SERVER: Host = { mac: '02:00:00:02:00:10', ip: '203.0.113.10' };
export const PORT = 80;

/** A remote host as the server's interface sees it: behind the router. */
export function remote(ip: string): Host {
  return { mac: ROUTER_MAC, ip };
}

/** The i-th spoofed source address (198.18.0.0/15, each used once). */
export function spoofedIp(i: number): string {
  return `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/** How long the server takes to answer a SYN it has room for. */
export const ANSWER_DELAY = 1 / 512;

/** SYN+ACK times after the first one with Linux's tcp_synack_retries=5: retransmissions after 1, 2, 4, 8, 16 s. */
export const LINUX_SYNACKS = [0, 1, 3, 7, 15, 31] as const;
/** A request with two retransmissions (tcp_synack_retries=2, or pruned by a full queue), dropped 4 s after the last: 7 s in all. */
export const TWO_RETRIES = [0, 1, 3] as const;

export interface FloodOptions {
  /** SYNs, one per source (unless `source` repeats addresses). */
  count: number;
  /** Time of the first SYN. */
  start: number;
  /** Seconds between SYNs. */
  spacing: number;
  /** The first `answered` SYNs get SYN+ACKs (the free slots of the SYN queue); the rest none. */
  answered: number;
  /** SYN+ACK times after the answer (LINUX_SYNACKS, TWO_RETRIES, [0] for SYN cookies). */
  synAcks: readonly number[];
  ttl?: (i: number) => number;
  source?: (i: number) => string;
  sport?: (i: number) => number;
  port?: number;
}

export interface FloodSyn {
  syn: FrameRef;
  synAcks: FrameRef[];
  /** When the first SYN+ACK was sent (the half-open interval starts). */
  answeredAt: number | null;
}

/**
 * A flood of bare SYNs as a packet generator sends them: window 1024, no options, one TTL; and
 * the server's SYN+ACKs (MSS option, window 64240) for the ones it has room for.
 */
export function synFlood(tl: Timeline, o: FloodOptions): FloodSyn[] {
  const out: FloodSyn[] = [];
  const dport = o.port ?? PORT;
  for (let i = 0; i < o.count; i++) {
    const t = o.start + i * o.spacing;
    const src = remote((o.source ?? spoofedIp)(i));
    const sport = o.sport ? o.sport(i) : 20000 + i;
    const seq = (0x10000000 + i * 7919) >>> 0;
    const syn = tl.tcp(t, src, SERVER, { sport, dport, flags: 'S', seq, window: 1024, ttl: o.ttl ? o.ttl(i) : 63, ipId: i & 0xffff, df: false });
    const synAcks: FrameRef[] = [];
    let answeredAt: number | null = null;
    if (i < o.answered) {
      answeredAt = t + ANSWER_DELAY;
      for (const dt of o.synAcks) {
        synAcks.push(tl.tcp(answeredAt + dt, SERVER, src, { sport: dport, dport: sport, flags: 'SA', seq: 0x50000000 + i, ack: (seq + 1) >>> 0, window: 64240 }));
      }
    }
    out.push({ syn, synAcks, answeredAt });
  }
  return out;
}

export interface ClientAttempt {
  syns: FrameRef[];
  synAck: FrameRef | null;
  finalAck: FrameRef | null;
}

/**
 * A real client's connection attempt: its SYN at each of `synTimes` (the first and its
 * retransmissions, one ISN), and, when `answer` is set, the server's SYN+ACK to the last one, the
 * final ACK, a request, the answer and a clean close.
 */
export function clientAttempt(
  tl: Timeline,
  o: { client: Host; sport: number; synTimes: readonly number[]; answer?: boolean; ttl?: number; port?: number; server?: Host },
): ClientAttempt {
  const server = o.server ?? SERVER;
  const s = tl.conversation(o.client, server, { sport: o.sport, dport: o.port ?? PORT, cIsn: 1000 + o.sport, sIsn: 900000 + o.sport, cTtl: o.ttl ?? 57, cWindow: 64240 });
  const syns = o.synTimes.map((t, i) => s.at(t).c('S', { synOpts: true, ...(i > 0 ? { seq: 1000 + o.sport } : {}) }));
  if (!o.answer) return { syns, synAck: null, finalAck: null };
  const t = o.synTimes[o.synTimes.length - 1]!;
  const synAck = s.at(t + ANSWER_DELAY).s('SA', { synOpts: true });
  const finalAck = s.at(t + 2 * ANSWER_DELAY).c('A');
  s.at(t + 3 * ANSWER_DELAY).c('PA', { len: 18 });
  s.at(t + 4 * ANSWER_DELAY).s('PA', { len: 41 });
  s.at(t + 5 * ANSWER_DELAY).s('FA');
  s.at(t + 6 * ANSWER_DELAY).c('FA');
  s.at(t + 7 * ANSWER_DELAY).s('A');
  return { syns, synAck, finalAck };
}

// ---- incident 4: a capture point that sees one direction only --------------------------------------

/** The client, on the capture point's LAN (router A's client side, as in captures/asymmetric-oneway.pcap). */
export const ONE_WAY_CLIENT: Host = { mac: '02:00:00:04:01:02', ip: '10.4.1.2' };
/** Router A, where the capture runs: the client sends everything to it; the answers come back via router B. */
export const ROUTER_A_MAC = '02:00:00:04:01:01';
export const ROUTER_B_MAC = '02:00:00:04:01:0b';
/** The server (or an LVS-DR VIP), behind router A. */
export const ONE_WAY_SERVER: Host = { mac: ROUTER_A_MAC, ip: '10.4.2.2' };

export interface OneWayConnection {
  syn: FrameRef | null;
  /** The ACK of the (unseen) SYN+ACK. */
  ack: FrameRef;
  /** The request (26 bytes). */
  data: FrameRef;
  /** The ACK of the server's 3000 unseen bytes. */
  ackData: FrameRef;
  /** FIN+ACK (acknowledging the server's unseen FIN) or RST+ACK. */
  close: FrameRef;
  all: FrameRef[];
  /** The server's ISN (never seen), for ICMP errors quoting its segments. */
  serverIsn: number;
}

/**
 * One connection as router A sees it: the client's packets only. The server's SYN+ACK, its 3000
 * bytes of answer and its FIN go back through router B; the client's ACKs prove they exist.
 * Without `syn` the capture picks the connection up mid-stream (an LVS-DR director after a restart).
 */
export function oneWayConnection(
  tl: Timeline,
  o: { t: number; sport: number; close: 'fin' | 'rst'; syn?: boolean; server?: Host; dport?: number; client?: Host; vlans?: number[] },
): OneWayConnection {
  const server = o.server ?? ONE_WAY_SERVER;
  const cIsn = 100000 * o.sport;
  const serverIsn = 7000000 + o.sport;
  const sink: TcpSink<FrameRef> = { tcp: (from, to, spec) => tl.tcp(now, from, to, { ...spec, ...(o.vlans ? { vlans: o.vlans } : {}) }) };
  let now = o.t;
  const conv = new TcpConversation(sink, o.client ?? ONE_WAY_CLIENT, server, { sport: o.sport, dport: o.dport ?? 8080, cIsn, sIsn: serverIsn });
  const at = (t: number) => {
    now = t;
    return conv;
  };
  let syn: FrameRef | null = null;
  if (o.syn !== false) syn = at(o.t).c('S', { synOpts: true });
  else conv.cNext = cIsn + 1;
  conv.sNext = serverIsn + 1; // the SYN+ACK the client got via router B
  const ack = at(o.t + 1 / 512).c('A');
  const data = at(o.t + 2 / 512).c('PA', { len: 26 });
  conv.sNext += 3000; // the answer
  const ackData = at(o.t + 6 / 512).c('A');
  let close: FrameRef;
  if (o.close === 'fin') {
    conv.sNext += 1; // the server's FIN
    close = at(o.t + 7 / 512).c('FA');
  } else {
    close = at(o.t + 7 / 512).c('RA');
  }
  return { syn, ack, data, ackData, close, all: [...(syn ? [syn] : []), ack, data, ackData, close], serverIsn };
}

/**
 * A complete two-way session at `t`: handshake, a request and an answer, an ACK, and a FIN from
 * each side (the client's first unless `serverClosesFirst`), each frame 1/512 s after the last.
 */
export function twoWaySession(
  tl: Timeline,
  client: Host,
  server: Host,
  o: { t: number; sport: number; dport: number; cIsn: number; sIsn: number; requestBytes: number; answerBytes: number; serverClosesFirst?: boolean },
): void {
  const s = tl.conversation(client, server, { sport: o.sport, dport: o.dport, cIsn: o.cIsn, sIsn: o.sIsn });
  const t = o.t;
  s.at(t).c('S', { synOpts: true });
  s.at(t + 1 / 512).s('SA', { synOpts: true });
  s.at(t + 2 / 512).c('A');
  s.at(t + 3 / 512).c('PA', { len: o.requestBytes });
  s.at(t + 4 / 512).s('PA', { len: o.answerBytes });
  s.at(t + 5 / 512).c('A');
  if (o.serverClosesFirst) {
    s.at(t + 6 / 512).s('FA');
    s.at(t + 7 / 512).c('FA');
    s.at(t + 8 / 512).s('A');
  } else {
    s.at(t + 6 / 512).c('FA');
    s.at(t + 7 / 512).s('FA');
    s.at(t + 8 / 512).c('A');
  }
}
