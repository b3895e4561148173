/**
 * tcp.syn_recv_buildup — half-open connections piling up on a server (incident 2: a SYN flood,
 * SYN_RECV sockets filling the SYN queue, legitimate clients timing out).
 *
 * For each server ip:port, every handshake the server answered is half-open from its first
 * SYN+ACK until the final ACK or a RST — or, when neither comes, until Linux gives up on the
 * request: it retransmits the SYN+ACK after 1, 2, 4, 8, 16 s (`tcp_synack_retries`, default 5)
 * and drops the request one more doubling after the last one (63 s in all). The shards send
 * these intervals and per-second SYN counts; the merge is exact.
 */
import { IpProto } from '../decode/ipproto.js';
import { EvKind } from '../flows/evidence.js';
import { B, D } from '../flows/flow-table.js';
import { EventScratch } from '../flows/flow-view.js';
import type { ShardObserver } from '../flows/shard.js';
import type { FlowTracker } from '../flows/tracker.js';
import { formatDuration, formatIpv4, formatTimestamp } from '../report/format.js';
import type { Finding } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { EndpointIndex, endpointName, endpointOfKey, flowVlan, serverSide, sideIp, sidePort, type Endpoint, type EndpointKeys } from './flow-endpoints.js';
import { F64Rows, groupRows, U32Rows } from './rows.js';
import { bucketRows, BucketedRows, closeSpill, forEachRowChunk, spillChunkBytes, SpillRows, type BucketedRowsPart, type SpilledRowsPart } from './spill-rows.js';
import type { Detector, OptionSpec, OptionValues, ReduceContext } from './types.js';

const ID = 'tcp.syn_recv_buildup';

const OPTIONS: readonly OptionSpec[] = [
  { key: 'syn-recv-threshold', default: 6, min: 1, max: 1e9, integer: true, unit: 'connections', description: 'half-open connections per server above which the count is abnormal (the seed: more than 5 or 6 sustained)' },
  { key: 'syn-recv-sustain', default: 1, min: 0, max: 1e6, unit: 's', description: 'how long the half-open count must stay above the threshold to be reported' },
  { key: 'synack-retries', default: 5, min: 0, max: 255, integer: true, unit: 'retries', description: "the server's net.ipv4.tcp_synack_retries (how long Linux keeps a half-open request)" },
  { key: 'synflood-rate', default: 200, min: 1, max: 1e9, unit: 'SYN/s', description: "Proxmox firewall's protection_synflood_rate (per source address)" },
  { key: 'synflood-burst', default: 1000, min: 1, max: 1e9, integer: true, unit: 'SYNs', description: "Proxmox firewall's protection_synflood_burst" },
];

/** Rows reserved per table (address space; memory is committed as rows are written). */
const ROWS_RESERVED = 1 << 20;

/** Evidence kept per category, lowest frames first. */
const SAMPLE = 4;

type Sample = { items: EvidenceItem[]; total: number };

/**
 * Per server, per shard: the counts every server has in one uint32 row of `counters` (columns
 * C.*), the rarer ones (retransmissions, delays, lost clients, evidence) in a row of `extra`
 * (X.*) added at the first of them, and every fact that must be merged exactly across shards
 * (half-open intervals with a SYN each, other SYNs with their source, evidence candidates) in
 * append-only numeric rows. No object or Map per server or per flow: a server whose handshakes
 * all went well costs about 45 bytes (its index entry and 16 bytes of counts). An answered
 * handshake's 32 bytes, and a SYN row, go to a temporary file a chunk at a time (see
 * spill-rows.ts): they grow with the capture's length, not with its live flows.
 */
const enum C {
  HALF_OPEN = 0,
  SYNACKS = 1,
  COMPLETED = 2,
  /** The server's row of `extra` + 1, 0 while it has none. */
  EXTRA = 3,
  WIDTH = 4,
}

/** Columns of the extra rows (uint32). */
const enum X {
  SYNACK_RETRANS = 0,
  DELAYED = 1,
  GAVE_UP = 2,
  /** Items logged per evidence category, one byte each (counting stops at 255: only "SAMPLE or more" matters). */
  KEPT = 3,
  /** Per evidence category (3 each): the highest frame among the first SAMPLE logged, items seen. */
  KEPT_MAX = 4,
  SEEN = 7,
  /** The server's row of `delays` + 1, 0 while no client of it was delayed. */
  DELAYS = 10,
  WIDTH = 11,
}

/** Columns of the delay rows (float64, seconds), for the servers that delayed a client. */
const enum L {
  SUM = 0,
  MAX = 1,
  WIDTH = 2,
}

/** Evidence categories. */
const enum Cat {
  HALF_OPEN = 0,
  UNANSWERED = 1,
  LATE = 2,
}

/**
 * Columns of the half-open interval rows (uint32): the first SYN+ACK (exact time, frame) and the
 * end, at END_SEC + END_NS ns + the give-up delay (Linux's, after the last SYN+ACK; 4 bits of code,
 * see giveUpCode, in the top two bits of START_NS and of END_NS), and one of the flow's SYNs (most
 * flows have exactly one): 32 bytes per answered handshake, where a row here and one in `syns`
 * took 44.
 */
const enum I {
  SERVER = 0,
  START_SEC = 1,
  /** Nanoseconds (30 bits) | the give-up code's low two bits << 30. */
  START_NS = 2,
  END_SEC = 3,
  /** Nanoseconds (30 bits) | the give-up code's high two bits << 30. */
  END_NS = 4,
  FRAME = 5,
  /** A SYN of the flow (see carriedSyn), 0 for none. */
  SYN = 6,
  /** The client's address (the SYN's source). */
  CLIENT_IP = 7,
  WIDTH = 8,
}

/** I.SYN: the SYN's TTL and Y_* flags (10 bits), this bit, then its second - START_SEC + I_SYN_BIAS (21 bits). */
const I_HAS_SYN = 0x400;
const I_SYN_TTL_FLAGS = 0x3ff;
const I_SYN_SHIFT = 11;
/** I.SYN: the SYN's second is an offset from START_SEC plus this (about 12 days either way). */
const I_SYN_BIAS = 1 << 20;
const NS_MASK = 0x3fffffff;

/** I.SYN for a SYN of `ttlFlags` sent `offset` seconds after the first SYN+ACK; 0 when it does not fit. */
function carriedSyn(ttlFlags: number, offset: number): number {
  const biased = offset + I_SYN_BIAS;
  return biased >= 0 && biased < 2 * I_SYN_BIAS ? (ttlFlags | I_HAS_SYN | (biased << I_SYN_SHIFT)) >>> 0 : 0;
}

/**
 * The delay after the last SYN+ACK at which Linux drops a request nothing answered: each timeout
 * doubles from 1 s, capped at TCP_RTO_MAX (120 s; reqsk_timer_handler), and the request is dropped
 * at the first timeout past tcp_synack_retries retransmissions. Coded in 4 bits: 0 none, 1-7 for
 * 1, 2, 4 ... 64 s, 8 for 120 s.
 */
function giveUpCode(synAcks: number, synackRetries: number): number {
  const doublings = Math.min(synAcks, synackRetries + 1) - 1;
  return doublings >= 7 ? 8 : doublings + 1;
}

function giveUpSeconds(code: number): number {
  return code === 0 ? 0 : code === 8 ? 120 : 2 ** (code - 1);
}

/** Columns of the SYN rows (uint32): one row per SYN. */
const enum Y {
  SERVER = 0,
  SEC = 1,
  /** The TTL, | Y_UNANSWERED, | Y_SYNS_ONLY. */
  TTL_FLAGS = 2,
  CLIENT_IP = 3,
  WIDTH = 4,
}

/** TTL_FLAGS: no answer came before the client's next SYN. */
const Y_UNANSWERED = 0x100;
/** TTL_FLAGS: the flow's client sent nothing but SYNs. */
const Y_SYNS_ONLY = 0x200;

/** A SYN's TTL and flags, as Y.TTL_FLAGS and the low bits of I.SYN hold them. */
function synTtlFlags(ttl: number, unanswered: boolean, synsOnly: boolean): number {
  return ttl | (unanswered ? Y_UNANSWERED : 0) | (synsOnly ? Y_SYNS_ONLY : 0);
}

/** Columns of the evidence rows: the flow's frame, its client, and two numbers per category. */
const enum S {
  SERVER = 0,
  CAT = 1,
  FRAME = 2,
  TS_SEC = 3,
  TS_NS = 4,
  MAC = 5,
  CLIENT_IP = 6,
  CLIENT_PORT = 7,
  /** Half-open: the RST's frame (0 = none); late: the client's SYNs. */
  A = 8,
  /** Half-open: SYN+ACKs sent; late: the delay in seconds. */
  B = 9,
  WIDTH = 10,
}

interface Partial {
  /** The servers, in the order of their rows of `counters`. */
  servers: EndpointKeys;
  counters: Uint32Array;
  /** The rarer counts (X.* columns), at the row C.EXTRA names. */
  extra: Uint32Array;
  /** Client delays (L.* columns), at the row X.DELAYS names. */
  delays: Float64Array;
  /** Half-open periods (I.* columns): one per answered handshake, so most of them on disk in a long capture. */
  intervals: SpilledRowsPart;
  /** [server, second, TTL | Y_UNANSWERED | Y_SYNS_ONLY, client address] per SYN not carried by an interval row. */
  syns: SpilledRowsPart;
  /** Evidence candidates (S.* columns). */
  samples: Float64Array;
}

class Observer implements ShardObserver {
  readonly packets = 'none' as const;
  private readonly servers = new EndpointIndex();
  private readonly counters = new U32Rows(C.WIDTH, ROWS_RESERVED);
  private readonly extra = new U32Rows(X.WIDTH, ROWS_RESERVED);
  private readonly delays = new F64Rows(L.WIDTH, ROWS_RESERVED);
  // About one row of each per handshake: they grow with the capture's length, not with its live
  // flows, so they go to a temporary file a chunk at a time.
  private readonly intervals = new SpillRows(I.WIDTH);
  private readonly syns = new SpillRows(Y.WIDTH);
  private readonly samples = new F64Rows(S.WIDTH);
  private readonly ev = new EventScratch();
  /** The SYNs of the flow at hand: event index, and whether it went unanswered. */
  private readonly flowSyns = new Int32Array(64);
  private readonly flowSynUnanswered = new Uint8Array(64);

  constructor(private readonly synackRetries: number) {}

  onPacket(): void {}

  onFlowEnd(tr: FlowTracker, s: number): void {
    const t = tr.table;
    if (t.u8[s * B.STRIDE + B.PROTO] !== IpProto.TCP) return;
    const ev = this.ev;
    const n = ev.load(tr, s);
    let syns = 0;
    let firstSyn = -1;
    let synAcks = 0;
    let firstSynAck = -1;
    let lastSynAck = -1;
    let finalAck = -1;
    let answered = false;
    for (let i = 0; i < n; i++) {
      const k = ev.kind[i];
      if (ev.fromOrig[i]) {
        if (k === EvKind.SYN) {
          syns++;
          if (firstSyn < 0) firstSyn = i;
        } else if (k === EvKind.FINAL_ACK && finalAck < 0) finalAck = i;
      } else {
        answered = true;
        if (k === EvKind.SYNACK) {
          synAcks++;
          if (firstSynAck < 0) firstSynAck = i;
          lastSynAck = i;
        }
      }
    }
    if (syns === 0) return;
    const server = this.serverRow(tr, s);
    const cnt = this.counters.data;
    const row = server * C.WIDTH;
    // Numbers, not an Endpoint object: this runs for every TCP flow that sent a SYN.
    const clientSide = 1 - serverSide(tr, s);
    const clientIp = sideIp(tr, s, clientSide);
    const clientPort = sidePort(tr, s, clientSide);
    // A source that only ever sent SYNs never saw a SYN+ACK: spoofed, or unreachable.
    const origPkts = t.f64[s * D.STRIDE + D.PKTS + (t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1 ? 0 : 1)];
    const synsOnly = origPkts <= syns;
    // A SYN is unanswered when no answer (SYN+ACK, RST) came before the client's next SYN: the
    // first SYNs of a client that got through on a retransmission were dropped too (Linux counts
    // them in TcpExtTCPReqQFullDrop).
    let pending = -1;
    let flowSyns = 0;
    for (let i = 0; i <= n; i++) {
      const isSyn = i < n && ev.kind[i] === EvKind.SYN && ev.fromOrig[i] === 1;
      const isAnswer = i < n && ev.fromOrig[i] === 0 && (ev.kind[i] === EvKind.SYNACK || ev.kind[i] === EvKind.RST || ev.kind[i] === EvKind.ICMP_ERROR);
      if (pending >= 0 && (isSyn || isAnswer || i === n)) {
        this.flowSyns[flowSyns] = pending;
        this.flowSynUnanswered[flowSyns++] = isAnswer ? 0 : 1;
        pending = -1;
      }
      if (isSyn) pending = i;
    }
    // With a half-open period to log, its row carries the first SYN whose second fits; the others
    // take a row of their own.
    let carried = -1;
    let carriedWord = 0;
    if (synAcks > 0) {
      for (let k = 0; k < flowSyns && carried < 0; k++) {
        const i = this.flowSyns[k]!;
        carriedWord = carriedSyn(synTtlFlags(ev.ttl[i]!, this.flowSynUnanswered[k] === 1, synsOnly), ev.tsSec[i]! - ev.tsSec[firstSynAck]!);
        if (carriedWord !== 0) carried = k;
      }
    }
    for (let k = 0; k < flowSyns; k++) if (k !== carried) this.logSyn(server, this.flowSyns[k]!, clientIp, this.flowSynUnanswered[k] === 1, synsOnly);

    if (synAcks === 0) {
      if (!answered) {
        // A real client retransmits its SYN before giving up; a spoofed source sends one.
        if (syns > 1) this.bumpExtra(server, X.GAVE_UP, 1);
        this.sample(server, Cat.UNANSWERED, firstSyn, clientIp, clientPort, 0, 0);
      }
      return;
    }
    cnt[row + C.SYNACKS] += synAcks;
    // SYN+ACKs repeating a sequence number are retransmissions of one answer.
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      if (ev.kind[i] !== EvKind.SYNACK || ev.fromOrig[i]) continue;
      let seen = false;
      for (let j = 0; j < i; j++) if (ev.kind[j] === EvKind.SYNACK && !ev.fromOrig[j] && ev.seq[j] === ev.seq[i]) seen = true;
      if (!seen) distinct++;
    }
    if (synAcks > distinct) this.bumpExtra(server, X.SYNACK_RETRANS, synAcks - distinct);
    const start = ev.time(firstSynAck);
    let rst = -1;
    for (let i = 0; i < n && rst < 0; i++) if (ev.kind[i] === EvKind.RST && ev.time(i) >= start) rst = i;
    let endAt = lastSynAck;
    let giveUp = 0;
    if (finalAck >= 0) {
      endAt = finalAck;
      cnt[row + C.COMPLETED]++;
    } else if (rst >= 0) {
      endAt = rst;
    } else {
      // Linux drops the request one timeout after its last SYN+ACK retransmission.
      giveUp = giveUpCode(synAcks, this.synackRetries);
    }
    const iv = this.intervals.append();
    const id = this.intervals.data;
    id[iv + I.SERVER] = server;
    id[iv + I.START_SEC] = ev.tsSec[firstSynAck]!;
    id[iv + I.START_NS] = (ev.tsNs[firstSynAck]! | ((giveUp & 3) << 30)) >>> 0;
    id[iv + I.END_SEC] = ev.tsSec[endAt]!;
    id[iv + I.END_NS] = (ev.tsNs[endAt]! | ((giveUp >>> 2) << 30)) >>> 0;
    id[iv + I.FRAME] = ev.frame[firstSynAck]!;
    if (carried >= 0) {
      id[iv + I.SYN] = carriedWord;
      id[iv + I.CLIENT_IP] = clientIp;
    }
    cnt[row + C.HALF_OPEN]++;
    if (finalAck < 0) this.sample(server, Cat.HALF_OPEN, firstSynAck, clientIp, clientPort, rst >= 0 ? ev.frame[rst]! : 0, synAcks);
    if (syns > 1 && finalAck >= 0) {
      const delay = start - ev.time(firstSyn);
      const x = this.extraAt(server);
      const xd = this.extra.data;
      xd[x + X.DELAYED]++;
      let delayRow = xd[x + X.DELAYS]!;
      if (delayRow === 0) xd[x + X.DELAYS] = delayRow = this.delays.append() / L.WIDTH + 1;
      const dl = this.delays.data;
      const at = (delayRow - 1) * L.WIDTH;
      dl[at + L.SUM] += delay;
      dl[at + L.MAX] = Math.max(dl[at + L.MAX]!, delay);
      this.sample(server, Cat.LATE, firstSyn, clientIp, clientPort, syns, delay);
    }
  }

  /** Logs SYN i of the loaded events. */
  private logSyn(server: number, i: number, clientIp: number, unanswered: boolean, synsOnly: boolean): void {
    const at = this.syns.append();
    const d = this.syns.data;
    d[at + Y.SERVER] = server;
    d[at + Y.SEC] = this.ev.tsSec[i]!;
    d[at + Y.TTL_FLAGS] = synTtlFlags(this.ev.ttl[i]!, unanswered, synsOnly);
    d[at + Y.CLIENT_IP] = clientIp;
  }

  /** Adds `by` to column `col` of the server's extra row. */
  private bumpExtra(server: number, col: X, by: number): void {
    // extraAt first: adding the row may replace extra.data (`this.extra.data[this.extraAt(...)]++`
    // reads the old array before the call, and the count was lost in it).
    const at = this.extraAt(server);
    this.extra.data[at + col]! += by;
  }

  /** The offset in `extra`'s data of the server's extra row, added at its first use. */
  private extraAt(server: number): number {
    const cnt = this.counters.data;
    let x = cnt[server * C.WIDTH + C.EXTRA]!;
    if (x === 0) cnt[server * C.WIDTH + C.EXTRA] = x = this.extra.append() / X.WIDTH + 1;
    return (x - 1) * X.WIDTH;
  }

  /** The server's counter row, added when new. */
  private serverRow(tr: FlowTracker, s: number): number {
    const side = serverSide(tr, s);
    const vlan = flowVlan(tr, s);
    const ip = sideIp(tr, s, side);
    const port = sidePort(tr, s, side);
    let r = this.servers.indexOf(vlan, ip, port);
    if (r < 0) {
      // The index's entries and the counter rows are added together: entry r is row r.
      r = this.servers.add(vlan, ip, port);
      this.counters.append();
    }
    return r;
  }

  /**
   * Logs event i as an evidence candidate unless SAMPLE lower frames are already logged (rows
   * with higher frames may stay behind: the reduce keeps the lowest; the log stays a few rows per
   * server and category, since flows end roughly in frame order).
   */
  private sample(server: number, cat: Cat, i: number, clientIp: number, clientPort: number, a: number, b: number): void {
    const row = this.extraAt(server);
    const cnt = this.extra.data;
    const ev = this.ev;
    const frame = ev.frame[i]!;
    cnt[row + X.SEEN + cat]++;
    const shift = cat * 8;
    const kept = (cnt[row + X.KEPT]! >>> shift) & 0xff;
    if (kept >= SAMPLE && frame >= cnt[row + X.KEPT_MAX + cat]!) return;
    if (kept < SAMPLE) cnt[row + X.KEPT_MAX + cat] = Math.max(cnt[row + X.KEPT_MAX + cat]!, frame);
    if (kept < 0xff) cnt[row + X.KEPT] = (cnt[row + X.KEPT]! + (1 << shift)) >>> 0;
    const at = this.samples.append();
    const d = this.samples.data;
    d[at + S.SERVER] = server;
    d[at + S.CAT] = cat;
    d[at + S.FRAME] = frame;
    d[at + S.TS_SEC] = ev.tsSec[i]!;
    d[at + S.TS_NS] = ev.tsNs[i]!;
    d[at + S.MAC] = ev.mac[i]!;
    d[at + S.CLIENT_IP] = clientIp;
    d[at + S.CLIENT_PORT] = clientPort;
    d[at + S.A] = a;
    d[at + S.B] = b;
  }

  partial(): Partial {
    return {
      servers: this.servers.keyParts(),
      counters: this.counters.used(),
      extra: this.extra.used(),
      delays: this.delays.used(),
      intervals: this.intervals.part(),
      syns: this.syns.part(),
      samples: this.samples.used(),
    };
  }
}

/** One server's shard results merged: only for servers that may be reported. */
interface ServerAgg {
  n: number;
  synPerSec: Map<number, number>;
  /** Source address → SYNs per second (Proxmox's limit is a token bucket per source). */
  synPerSecBySource: Map<number, Map<number, number>>;
  unansweredPerSec: Map<number, number>;
  synAcks: number;
  synAckRetransmissions: number;
  completed: number;
  /** Source address → 1 if it never sent anything but SYNs, else 0. */
  sources: Map<number, number>;
  synTtls: Map<number, number>;
  /** TTL → SYNs, of the sources that sent nothing but SYNs (the suspected spoofers). */
  spoofTtls: Map<number, number>;
  delayed: number;
  delaySum: number;
  delayMax: number;
  gaveUp: number;
  halfOpen: Sample | null;
  unanswered: Sample | null;
  late: Sample | null;
}

/** The first SYN+ACK of the request whose start made a server's peak. */
interface PeakStart {
  sec: number;
  ns: number;
  /** Seconds since the epoch. */
  start: number;
  frame: number;
}

/**
 * One server's half-open periods, every shard's, in typed arrays reused from server to server:
 * the reduce looks at every candidate server, and a flood's server has hundreds of thousands of
 * periods, so no object per period (their garbage grew the main thread's young generation to its
 * maximum, 24 MB more resident memory at the end of a large capture).
 */
class Periods {
  n = 0;
  /** The first SYN+ACK's time (seconds, nanoseconds) and frame. */
  sec: Uint32Array = new Uint32Array(256);
  ns: Uint32Array = new Uint32Array(256);
  frame: Uint32Array = new Uint32Array(256);
  /** Start and end in seconds since the epoch (the end not yet clipped to the capture's). */
  start: Float64Array = new Float64Array(256);
  end: Float64Array = new Float64Array(256);
  /** Sweep scratch: period numbers by start, and the clipped ends sorted. */
  byStart: Uint32Array = new Uint32Array(256);
  ends: Float64Array = new Float64Array(256);

  clear(): void {
    this.n = 0;
  }

  push(sec: number, ns: number, end: number, frame: number): void {
    if (this.n === this.sec.length) this.grow();
    const i = this.n++;
    this.sec[i] = sec;
    this.ns[i] = ns;
    this.frame[i] = frame;
    this.start[i] = sec + ns * 1e-9;
    this.end[i] = end;
  }

  peakStart(i: number): PeakStart {
    return { sec: this.sec[i]!, ns: this.ns[i]!, start: this.start[i]!, frame: this.frame[i]! };
  }

  private grow(): void {
    const size = this.sec.length * 2;
    const u32 = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(size);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.sec = u32(this.sec);
    this.ns = u32(this.ns);
    this.frame = u32(this.frame);
    this.start = f64(this.start);
    this.end = f64(this.end);
    this.byStart = new Uint32Array(size);
    this.ends = new Float64Array(size);
  }
}

/** How the half-open count of one server went: its peak, and how long it stayed above the threshold. */
interface HalfOpenProfile {
  peak: number;
  /** The period whose start made the peak (the first time it was reached), or -1. */
  peakAt: number;
  /** Seconds above the threshold in all. */
  above: number;
  /** The longest stretch above the threshold, in seconds. */
  longestAbove: number;
}

/**
 * Sweeps the half-open periods in time order (starts before ends at the same instant, so the
 * exact time of a peak is a period's start; ends clipped at `clipAt`) without building the list
 * of steps, into `out`: a capture can have a million servers to look at.
 */
function halfOpenProfile(p: Periods, clipAt: number, threshold: number, out: HalfOpenProfile): void {
  const n = p.n;
  const start = p.start;
  const byStart = p.byStart;
  const ends = p.ends;
  for (let i = 0; i < n; i++) {
    byStart[i] = i;
    ends[i] = Math.min(p.end[i]!, clipAt);
  }
  sortByStart(byStart, start, n);
  sortNumbers(ends, n);
  out.peak = 0;
  out.peakAt = -1;
  out.above = 0;
  out.longestAbove = 0;
  let aboveSince = -1;
  let count = 0;
  // Each step is applied when the next one's time is known (the time above the threshold runs to
  // it): step k - 1 at k, the last one at its own time.
  let stepTime = 0;
  let stepCount = 0;
  let stepStarted = -1;
  for (let i = 0, j = 0, k = 0; k <= 2 * n; k++) {
    let t = stepTime;
    let started = -1;
    if (k < 2 * n) {
      if (i < n && (j >= n || start[byStart[i]!]! <= ends[j]!)) {
        started = byStart[i++]!;
        t = start[started]!;
        count++;
      } else {
        t = ends[j++]!;
        count--;
      }
    }
    if (k > 0) {
      if (stepCount > out.peak) {
        out.peak = stepCount;
        out.peakAt = stepStarted;
      }
      if (stepCount > threshold) {
        out.above += t - stepTime;
        if (aboveSince < 0) aboveSince = stepTime;
      } else if (aboveSince >= 0) {
        out.longestAbove = Math.max(out.longestAbove, stepTime - aboveSince);
        aboveSince = -1;
      }
    }
    stepTime = t;
    stepCount = count;
    stepStarted = started;
  }
  if (n > 0 && aboveSince >= 0) out.longestAbove = Math.max(out.longestAbove, stepTime - aboveSince);
}

/** Below this many, sorts run in place by insertion: most servers have a handful of periods. */
const SMALL_SORT = 24;

/** Sorts period numbers order[0..n) by start, ties by period number (what a stable sort keeps). */
function sortByStart(order: Uint32Array, start: Float64Array, n: number): void {
  if (n > SMALL_SORT) {
    order.subarray(0, n).sort((a, b) => start[a]! - start[b]! || a - b);
    return;
  }
  for (let i = 1; i < n; i++) {
    const x = order[i]!;
    const t = start[x]!;
    let j = i - 1;
    while (j >= 0 && (start[order[j]!]! > t || (start[order[j]!]! === t && order[j]! > x))) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = x;
  }
}

/** Sorts a[0..n) in ascending order. */
function sortNumbers(a: Float64Array, n: number): void {
  if (n > SMALL_SORT) {
    a.subarray(0, n).sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
}

function bump(m: Map<number, number>, k: number, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

/**
 * A shard's partial, with the rows of the candidates at hand (a batch: see ServerJoin.split)
 * grouped by server. Groupings are built only when a candidate needs them, and over the batch's
 * servers only, so that looking at a capture's candidates batch by batch costs what the batches
 * hold, not the shard's servers once per batch.
 */
class PartView {
  /** Row of each joined server (see ServerJoin) in this shard's tables, -1 when it has none. */
  readonly rowOf: Int32Array;
  /** The candidates' rows by batch, when rows went to disk and this shard holds a candidate. */
  split: { intervals: BucketedRowsPart; syns: BucketedRowsPart } | null = null;
  /** The half-open periods and SYN rows of the batch at hand. */
  intervalRows: Uint32Array = new Uint32Array(0);
  synRows: Uint32Array = new Uint32Array(0);
  /** Per server row of this shard, its index among the batch's servers, -1 outside the batch. */
  private readonly local: Int32Array;
  private batchServers: number[] = [];
  private intervalsGrouped: Grouped | null = null;
  private synsGrouped: Grouped | null = null;
  private samplesGrouped: Grouped | null = null;

  constructor(
    readonly p: Partial,
    servers: number,
  ) {
    this.rowOf = new Int32Array(servers).fill(-1);
    this.local = new Int32Array(this.keys()).fill(-1);
  }

  /** The rows of a batch, and its servers (their rows here; -1, for none, is skipped). */
  setBatch(intervals: Uint32Array, syns: Uint32Array, servers: Iterable<number>): void {
    for (const r of this.batchServers) this.local[r] = -1;
    this.batchServers = [];
    for (const r of servers) {
      if (r < 0) continue;
      this.local[r] = this.batchServers.length;
      this.batchServers.push(r);
    }
    this.intervalRows = intervals;
    this.synRows = syns;
    this.intervalsGrouped = null;
    this.synsGrouped = null;
  }

  /** The index, in the groupings of `intervals()` and `syns()`, of server row r (of the batch). */
  slot(r: number): number {
    return this.local[r]!;
  }

  /** The batch's half-open periods grouped by server slot: needed for every candidate. */
  intervals(): Grouped {
    this.intervalsGrouped ??= groupRows(this.intervalRows, I.WIDTH, I.SERVER, this.batchServers.length, this.local);
    return this.intervalsGrouped;
  }

  /** The batch's SYN rows grouped by server slot: needed only when a server is reported. */
  syns(): Grouped {
    this.synsGrouped ??= groupRows(this.synRows, Y.WIDTH, Y.SERVER, this.batchServers.length, this.local);
    return this.synsGrouped;
  }

  /** The evidence candidates (all in memory) grouped by server row, once. */
  samples(): Grouped {
    this.samplesGrouped ??= groupRows(this.p.samples, S.WIDTH, S.SERVER, this.keys());
    return this.samplesGrouped;
  }

  private keys(): number {
    return this.p.counters.length / C.WIDTH;
  }
}

/**
 * Every shard's servers joined once: server g's key, its half-open count over all shards, and
 * (in each PartView) its row in that shard. Numbers only: a large capture has hundreds of
 * thousands of server endpoints, and the reduce should not leave an object or a map per shard
 * for each of them.
 */
class ServerJoin {
  readonly views: PartView[];
  readonly vlans: Int32Array;
  /** ip * 65536 + port. */
  readonly keys: Float64Array;
  readonly halfOpen: Float64Array;
  size = 0;
  /** Whether `split` sorted the candidates' rows by batch (some shard wrote rows to disk). */
  private bucketed = false;

  constructor(partials: readonly Partial[]) {
    let most = 0;
    for (const p of partials) most += p.servers.keys.length;
    this.views = partials.map((p) => new PartView(p, most));
    this.halfOpen = new Float64Array(most);
    if (partials.length === 1) {
      // One shard (the default on two cores): its servers are already distinct, nothing to join.
      const v = this.views[0]!;
      ({ vlans: this.vlans, keys: this.keys } = v.p.servers);
      for (let g = 0; g < most; g++) {
        v.rowOf[g] = g;
        this.halfOpen[g] = v.p.counters[g * C.WIDTH + C.HALF_OPEN]!;
      }
      this.size = most;
      return;
    }
    this.vlans = new Int32Array(most);
    this.keys = new Float64Array(most);
    // Entry g of the index is joined server g.
    const index = new EndpointIndex();
    for (const v of this.views) {
      const { vlans, keys } = v.p.servers;
      for (let r = 0; r < keys.length; r++) {
        let g = index.indexOfKey(vlans[r]!, keys[r]!);
        if (g < 0) {
          g = index.addKey(vlans[r]!, keys[r]!);
          this.vlans[g] = vlans[r]!;
          this.keys[g] = keys[r]!;
        }
        v.rowOf[g] = r;
        this.halfOpen[g]! += v.p.counters[r * C.WIDTH + C.HALF_OPEN]!;
      }
    }
    this.size = index.size;
  }

  /** The servers with more than `threshold` half-open connections, by VLAN, address and port. */
  candidates(threshold: number): Int32Array {
    let n = 0;
    for (let g = 0; g < this.size; g++) if (this.halfOpen[g]! > threshold) n++;
    const out = new Int32Array(n);
    n = 0;
    for (let g = 0; g < this.size; g++) if (this.halfOpen[g]! > threshold) out[n++] = g;
    return out.sort((a, b) => this.vlans[a]! - this.vlans[b]! || this.keys[a]! - this.keys[b]!);
  }

  endpoint(g: number): Endpoint {
    return endpointOfKey(this.vlans[g]!, this.keys[g]!);
  }

  /**
   * Ranges [from, to) of `candidates` whose rows are looked at together (batches). When no shard
   * wrote rows to disk they are all in memory already: one batch, the rows as they are. Otherwise
   * batches of about BATCH_BYTES of rows each: each shard's files are read once (twice for the
   * SYN rows: once to count them per server) and its candidates' rows sorted by batch into one
   * more file, whose batches `load` reads back one at a time.
   */
  split(candidates: Int32Array): Array<[number, number]> {
    if (this.views.every((v) => v.p.intervals.spilledRows === 0 && v.p.syns.spilledRows === 0)) return [[0, candidates.length]];
    this.bucketed = true;
    // Nothing to look at: the files are not read at all.
    if (candidates.length === 0) return [];
    const synRows = this.synRowsPerCandidate(candidates);
    const ranges: Array<[number, number]> = [];
    let from = 0;
    let bytes = 0;
    for (let c = 0; c < candidates.length; c++) {
      const add = this.halfOpen[candidates[c]!]! * I.WIDTH * 4 + synRows[c]! * Y.WIDTH * 4;
      if (c > from && bytes + add > BATCH_BYTES) {
        ranges.push([from, c]);
        from = c;
        bytes = 0;
      }
      bytes += add;
    }
    ranges.push([from, candidates.length]);
    for (const v of this.views) {
      const batchOf = new Int32Array(v.p.counters.length / C.WIDTH).fill(-1);
      let any = false;
      ranges.forEach(([first, end], b) => {
        for (let c = first; c < end; c++) {
          const r = v.rowOf[candidates[c]!]!;
          if (r >= 0) {
            batchOf[r] = b;
            any = true;
          }
        }
      });
      if (any) {
        const intervals = byBatch(v.p.intervals, I.SERVER, batchOf, ranges.length);
        try {
          v.split = { intervals, syns: byBatch(v.p.syns, Y.SERVER, batchOf, ranges.length) };
        } catch (err) {
          closeSpill(intervals);
          throw err;
        }
      }
      closeSpill(v.p.intervals);
      closeSpill(v.p.syns);
    }
    return ranges;
  }

  /** SYN rows per candidate, all shards together (a pass over each shard's SYN rows). */
  private synRowsPerCandidate(candidates: Int32Array): Float64Array {
    const out = new Float64Array(candidates.length);
    for (const v of this.views) {
      const perRow = new Int32Array(v.p.counters.length / C.WIDTH);
      forEachRowChunk(v.p.syns, (d, rows) => {
        for (let r = 0; r < rows; r++) perRow[d[r * Y.WIDTH + Y.SERVER]!]!++;
      });
      for (let c = 0; c < candidates.length; c++) {
        const r = v.rowOf[candidates[c]!]!;
        if (r >= 0) out[c]! += perRow[r]!;
      }
    }
    return out;
  }

  /**
   * Gives every view the rows of batch b, candidates[from, to), of `split`: the shard's rows as
   * they are when nothing went to disk, else the batch's own (none for a shard without candidates).
   */
  load(b: number, candidates: Int32Array, from: number, to: number): void {
    const none = new Uint32Array(0);
    for (const v of this.views) {
      const servers = Array.from(candidates.subarray(from, to), (g) => v.rowOf[g]!);
      if (!this.bucketed) v.setBatch(v.p.intervals.tail, v.p.syns.tail, servers);
      else if (v.split) {
        const { intervals, syns } = v.split;
        v.setBatch(bucketRows(intervals, b), bucketRows(syns, b), servers);
        // The view holds them now: the batch's chunks in memory need not outlive it.
        intervals.tails[b] = none;
        syns.tails[b] = none;
      } else v.setBatch(none, none, servers);
    }
  }

  /** Closes every file of the shards' rows (the reduce is done, or failed), each even if another fails to close. */
  close(): void {
    let failure: unknown = null;
    const attempt = (close: () => void): void => {
      try {
        close();
      } catch (err) {
        failure ??= err;
      }
    };
    for (const v of this.views) {
      attempt(() => closeSpill(v.p.intervals));
      attempt(() => closeSpill(v.p.syns));
      const split = v.split;
      if (split) {
        attempt(() => closeSpill(split.intervals));
        attempt(() => closeSpill(split.syns));
      }
    }
    if (failure !== null) throw failure;
  }

  /** Why rows stayed in memory, when a file could not be written; null when none failed. */
  spillError(): string | null {
    for (const v of this.views) {
      const e = v.p.intervals.spillError ?? v.p.syns.spillError ?? v.split?.intervals.spillError ?? v.split?.syns.spillError ?? null;
      if (e !== null) return e;
    }
    return null;
  }
}

/**
 * Rows (half-open periods and SYNs of candidate servers) per batch, at most, unless one server has
 * more: a chunk's worth. More batches cost little (each is one grouping of its own rows).
 */
const BATCH_BYTES = spillChunkBytes();

/** Memory the chunks of the by-batch file share while a shard's rows are sorted into it. */
const SPLIT_BUFFER_BYTES = 1 << 20;

/**
 * The rows of `part` sorted by batch (`batchOf` their server's, -1 for none) into one file: one
 * batch needs no file (its rows stay in memory); several share SPLIT_BUFFER_BYTES of chunks, at
 * least 4 KiB each (or the spill chunk, when smaller).
 */
function byBatch(part: SpilledRowsPart, serverCol: number, batchOf: Int32Array, batches: number): BucketedRowsPart {
  const chunkBytes = batches === 1 ? Infinity : Math.min(spillChunkBytes(), Math.max(4096, Math.floor(SPLIT_BUFFER_BYTES / batches)));
  const out = new BucketedRows(part.width, batches, chunkBytes);
  try {
    forEachRowChunk(part, (d, rows) => {
      for (let r = 0; r < rows; r++) {
        const b = batchOf[d[r * part.width + serverCol]!]!;
        if (b >= 0) out.add(b, d, r * part.width);
      }
    });
  } catch (err) {
    out.discard();
    throw err;
  }
  return out.part();
}

type Grouped = ReturnType<typeof groupRows>;

/** Every shard's half-open periods of one server, into `out`. */
function halfOpenPeriods(g: number, views: readonly PartView[], out: Periods): void {
  out.clear();
  for (const v of views) {
    const r = v.rowOf[g]!;
    if (r < 0) continue;
    const grouped = v.intervals();
    const d = v.intervalRows;
    const k = v.slot(r);
    for (let j = grouped.start[k]!; j < grouped.start[k + 1]!; j++) {
      const at = grouped.order[j]! * I.WIDTH;
      const startNs = d[at + I.START_NS]!;
      const endNs = d[at + I.END_NS]!;
      const giveUp = giveUpSeconds((startNs >>> 30) | ((endNs >>> 30) << 2));
      // The same sum as EventScratch.time, plus the give-up delay: equal times compare equal.
      const end = d[at + I.END_SEC]! + (endNs & NS_MASK) * 1e-9 + giveUp;
      out.push(d[at + I.START_SEC]!, startNs & NS_MASK, end, d[at + I.FRAME]!);
    }
  }
}

/** Merges every shard's rows of one server but its half-open periods. */
function mergeServer(g: number, server: Endpoint, views: readonly PartView[]): ServerAgg {
  const agg: ServerAgg = {
    n: 0,
    synPerSec: new Map(),
    synPerSecBySource: new Map(),
    unansweredPerSec: new Map(),
    synAcks: 0,
    synAckRetransmissions: 0,
    completed: 0,
    sources: new Map(),
    synTtls: new Map(),
    spoofTtls: new Map(),
    delayed: 0,
    delaySum: 0,
    delayMax: 0,
    gaveUp: 0,
    halfOpen: null,
    unanswered: null,
    late: null,
  };
  const samples = [new EvidenceSample(SAMPLE), new EvidenceSample(SAMPLE), new EvidenceSample(SAMPLE)];
  /** [source, TTL] of every SYN, flattened: the spoofers' TTLs are known once all sources are merged. */
  const synIpTtl: number[] = [];
  const seen = [0, 0, 0];
  for (const v of views) {
    const r = v.rowOf[g]!;
    if (r < 0) continue;
    const c = v.p.counters;
    const row = r * C.WIDTH;
    agg.n += c[row + C.HALF_OPEN]!;
    agg.synAcks += c[row + C.SYNACKS]!;
    agg.completed += c[row + C.COMPLETED]!;
    const extra = c[row + C.EXTRA]!;
    if (extra > 0) {
      const x = v.p.extra;
      const xr = (extra - 1) * X.WIDTH;
      agg.synAckRetransmissions += x[xr + X.SYNACK_RETRANS]!;
      agg.delayed += x[xr + X.DELAYED]!;
      const delayRow = x[xr + X.DELAYS]!;
      if (delayRow > 0) {
        agg.delaySum += v.p.delays[(delayRow - 1) * L.WIDTH + L.SUM]!;
        agg.delayMax = Math.max(agg.delayMax, v.p.delays[(delayRow - 1) * L.WIDTH + L.MAX]!);
      }
      agg.gaveUp += x[xr + X.GAVE_UP]!;
      for (let cat = 0; cat < 3; cat++) seen[cat]! += x[xr + X.SEEN + cat]!;
    }
    const k = v.slot(r);
    forRows(v.syns(), k, (i) => {
      const d = v.synRows;
      const at = i * Y.WIDTH;
      addSyn(agg, synIpTtl, d[at + Y.SEC]!, d[at + Y.TTL_FLAGS]!, d[at + Y.CLIENT_IP]!);
    });
    // The SYNs the half-open periods' rows carry.
    forRows(v.intervals(), k, (i) => {
      const d = v.intervalRows;
      const at = i * I.WIDTH;
      const syn = d[at + I.SYN]!;
      if ((syn & I_HAS_SYN) !== 0) addSyn(agg, synIpTtl, d[at + I.START_SEC]! + (syn >>> I_SYN_SHIFT) - I_SYN_BIAS, syn & I_SYN_TTL_FLAGS, d[at + I.CLIENT_IP]!);
    });
    forRows(v.samples(), r, (i) => {
      const d = v.p.samples;
      const at = i * S.WIDTH;
      samples[d[at + S.CAT]!]!.add(sampleItem(d, at, server));
    });
  }
  for (let i = 0; i < synIpTtl.length; i += 2) if (agg.sources.get(synIpTtl[i]!) === 1) bump(agg.spoofTtls, synIpTtl[i + 1]!);
  const done = (cat: Cat): Sample | null => (seen[cat]! > 0 ? { items: samples[cat]!.items, total: seen[cat]! } : null);
  agg.halfOpen = done(Cat.HALF_OPEN);
  agg.unanswered = done(Cat.UNANSWERED);
  agg.late = done(Cat.LATE);
  return agg;
}

/** Counts one SYN of the server (its second, TTL | Y_* flags, and source) into `agg`. */
function addSyn(agg: ServerAgg, synIpTtl: number[], sec: number, ttlFlags: number, ip: number): void {
  bump(agg.synPerSec, sec);
  bump(agg.synTtls, ttlFlags & 0xff);
  synIpTtl.push(ip, ttlFlags & 0xff);
  if ((ttlFlags & Y_UNANSWERED) !== 0) bump(agg.unansweredPerSec, sec);
  // A source sent only SYNs if every flow of it did.
  const only = (ttlFlags & Y_SYNS_ONLY) !== 0 ? 1 : 0;
  agg.sources.set(ip, (agg.sources.get(ip) ?? 1) & only);
  let bySec = agg.synPerSecBySource.get(ip);
  if (!bySec) agg.synPerSecBySource.set(ip, (bySec = new Map()));
  bump(bySec, sec);
}

function forRows(g: Grouped, key: number, fn: (row: number) => void): void {
  for (let j = g.start[key]!; j < g.start[key + 1]!; j++) fn(g.order[j]!);
}

/** The evidence item of a logged candidate row. */
function sampleItem(d: Float64Array, at: number, server: Endpoint): EvidenceItem {
  const client = { ip: d[at + S.CLIENT_IP]!, port: d[at + S.CLIENT_PORT]! };
  const base = { frame: d[at + S.FRAME]!, tsSec: d[at + S.TS_SEC]!, tsNs: d[at + S.TS_NS]!, srcMac: d[at + S.MAC]! };
  const toServer = { srcIp: client.ip, srcPort: client.port, dstIp: server.ip, dstPort: server.port };
  switch (d[at + S.CAT] as Cat) {
    case Cat.HALF_OPEN: {
      const rstFrame = d[at + S.A]!;
      return {
        ...base,
        what: `SYN+ACK to ${formatIpv4(client.ip)}:${client.port}: half-open${rstFrame > 0 ? ` until the RST in frame ${rstFrame}` : `, sent ${d[at + S.B]} time(s), never answered`}`,
        srcIp: server.ip,
        srcPort: server.port,
        dstIp: client.ip,
        dstPort: client.port,
      };
    }
    case Cat.UNANSWERED:
      return { ...base, what: 'SYN never answered', ...toServer };
    case Cat.LATE:
      return { ...base, what: `first of ${d[at + S.A]} SYNs of a client that got through ${formatDuration(d[at + S.B]!)} late`, ...toServer };
  }
}

function reduce(partials: readonly unknown[], ctx: ReduceContext): Finding[] {
  const o = ctx.options;
  const threshold = o['syn-recv-threshold']!;
  const sustain = o['syn-recv-sustain']!;
  const parts = partials as Partial[];
  const join = new ServerJoin(parts);
  try {
    // A server with no more half-open connections than the threshold in the whole capture cannot
    // exceed it: count first, merge only the candidates.
    const candidates = join.candidates(threshold);
    const captureEnd = ctx.endSec === null ? Infinity : ctx.endSec + ctx.endNs * 1e-9;
    const findings: Finding[] = [];
    const periods = new Periods();
    const profile: HalfOpenProfile = { peak: 0, peakAt: -1, above: 0, longestAbove: 0 };
    const batches = join.split(candidates);
    // Nothing was lost (the rows stayed in memory), but memory grew with the capture: say why.
    const spillError = join.spillError();
    if (spillError) process.emitWarning(`${ID}: ${spillError}; its rows stayed in memory`, { code: 'PCAPSCAN_SPILL' });
    for (const [b, [from, to]] of batches.entries()) {
      join.load(b, candidates, from, to);
      for (let c = from; c < to; c++) {
        const g = candidates[c]!;
        // The half-open periods alone decide whether the server is reported; the rest is merged
        // only for the servers that are.
        halfOpenPeriods(g, join.views, periods);
        // Requests still pending when the capture stopped count until its end, not beyond.
        halfOpenProfile(periods, captureEnd, threshold, profile);
        const { peak, peakAt, above, longestAbove } = profile;
        if (peak <= threshold || longestAbove < sustain || peakAt < 0) continue;
        const server = join.endpoint(g);
        const agg = mergeServer(g, server, join.views);
        findings.push(toFinding(server, agg, periods, { peak, peakAt: periods.peakStart(peakAt), above, longestAbove, threshold }, o, captureEnd));
      }
    }
    return findings;
  } finally {
    join.close();
  }
}

function toFinding(
  server: Endpoint,
  agg: ServerAgg,
  periods: Periods,
  st: { peak: number; peakAt: PeakStart; above: number; longestAbove: number; threshold: number },
  o: OptionValues,
  captureEnd: number,
): Finding {
  const subject = endpointName(server);
  const synSecs = [...agg.synPerSec.keys()].sort((a, b) => a - b);
  const totalSyns = synSecs.reduce((n, s) => n + agg.synPerSec.get(s)!, 0);
  const peakRate = Math.max(...synSecs.map((s) => agg.synPerSec.get(s)!));
  const unanswered = [...agg.unansweredPerSec.values()].reduce((a, b) => a + b, 0);
  const sources = agg.sources.size;
  const synOnlySources = [...agg.sources.values()].filter((v) => v === 1).length;
  const ttls = [...agg.synTtls.keys()].sort((a, b) => a - b);
  const spoofTtls = [...agg.spoofTtls.keys()].sort((a, b) => a - b);
  // Proxmox's protection_synflood is an iptables hashlimit per source address.
  const rate = o['synflood-rate']!;
  const burst = o['synflood-burst']!;
  let limitedPerSource = 0;
  for (const bySec of agg.synPerSecBySource.values()) limitedPerSource += tokenBucket([...bySec].sort((a, b) => a[0] - b[0]), rate, burst);
  const limitedAggregate = tokenBucket(synSecs.map((s) => [s, agg.synPerSec.get(s)!] as [number, number]), rate, burst);
  const cookies = agg.synAckRetransmissions === 0 && unanswered === 0 && agg.synAcks > st.threshold;
  const summary =
    `half-open connections to ${subject} peaked at ${st.peak} (threshold ${st.threshold}) and stayed above it ${formatDuration(st.above)}; ` +
    `${totalSyns} SYNs (peak ${peakRate}/s) from ${sources} source(s), ${unanswered} SYN(s) never answered, ${agg.synAckRetransmissions} SYN+ACK retransmission(s)`;
  const spoof =
    synOnlySources > 0
      ? `${synOnlySources} of ${sources} sources never sent anything but SYNs (they never received the SYN+ACKs: spoofed addresses, or routed to nowhere)` +
        (spoofTtls.length <= 2 && synOnlySources > 1
          ? `, and their SYNs carry ${spoofTtls.length === 1 ? 'a single TTL' : 'only two TTLs'} (${spoofTtls.join(', ')}): one sender behind the many addresses.`
          : `; their SYNs carry ${spoofTtls.length} different TTL(s) (${spoofTtls.slice(0, 8).join(', ')}${spoofTtls.length > 8 ? ', ...' : ''}).`)
      : 'Every source also sent more than SYNs: the clients are real.';
  const delayed = agg.delayed > 0 ? ` ${agg.delayed} client(s) got through only after retransmitting their SYN (up to ${formatDuration(agg.delayMax)} late).` : '';
  const gaveUp = agg.gaveUp > 0 ? ` ${agg.gaveUp} client(s) retransmitted their SYN and never got an answer.` : '';
  const explanation =
    `A server keeps each half-open connection (SYN received, SYN+ACK sent, final ACK awaited) in its SYN queue, in state SYN_RECV, and retransmits the SYN+ACK after 1, 2, 4, 8 and 16 s (tcp_synack_retries=${o['synack-retries']}), so an unanswered request occupies a slot for about a minute. ` +
    'A handful in SYN_RECV is normal; more than 5 or 6 sustained means SYNs arrive that never complete — a SYN flood from spoofed addresses, or clients whose final ACK is lost. ' +
    `When the queue is full the kernel drops new SYNs: ${unanswered > 0 ? `here ${unanswered} SYN(s) got no answer at all` : 'no SYN was left unanswered here'}.${delayed}${gaveUp} ` +
    `${spoof} ` +
    (agg.synAckRetransmissions > 0
      ? 'The server retransmits its SYN+ACKs, so it keeps per-request state: SYN cookies are off or not triggered. '
      : cookies
        ? 'No SYN+ACK was retransmitted and no SYN dropped although many were half-open: the kernel may be answering with SYN cookies (stateless). '
        : '') +
    `Proxmox's per-source SYN limit (${rate}/s, burst ${burst}) would have stopped ${limitedPerSource} SYN(s)${limitedPerSource === 0 && synOnlySources > 0 ? ' — none, because each spoofed address sends few SYNs' : ''}; a limit on the total rate would have stopped ${limitedAggregate}. ` +
    'If the firewall tracks connections, each of these SYNs also takes a conntrack entry (SYN_SENT, 120 s): see ct.table_pressure.';
  const remediation =
    '`sysctl -w net.ipv4.tcp_syncookies=1` (answer with stateless SYN cookies once the queue is full; the default on most distributions); ' +
    "`sysctl -w net.ipv4.tcp_max_syn_backlog=4096` and a larger listen backlog (`net.core.somaxconn`, the application's listen() backlog); " +
    '`sysctl -w net.ipv4.tcp_synack_retries=2` (a half-open request then lasts 7 s instead of 63); ' +
    'Proxmox: enable `protection_synflood` (per-source `protection_synflood_rate`/`protection_synflood_burst`) in the firewall options; ' +
    'upstream: rate-limit or scrub SYNs (`iptables -A INPUT -p tcp --syn -m hashlimit --hashlimit-above 200/sec --hashlimit-burst 1000 --hashlimit-mode dstip,dstport --hashlimit-name synflood -j DROP`), and ask the provider to filter spoofed sources (BCP 38).';
  // Requests that never completed show the buildup best; when all completed (late), the SYN+ACKs
  // of the requests half-open at the peak do.
  const atPeak = agg.halfOpen === null ? peakEvidence(periods, st.peakAt, captureEnd, st.peak, server) : null;
  const samples = [agg.halfOpen ?? atPeak, agg.unanswered, agg.late].filter((x): x is Sample => x !== null);
  const first = synSecs[0]!;
  const last = synSecs[synSecs.length - 1]!;
  return makeFinding({
    id: ID,
    severity: unanswered > 0 || agg.gaveUp > 0 ? 'high' : 'medium',
    subject,
    summary,
    count: agg.n,
    first: { sec: first, ns: 0 },
    last: { sec: last, ns: 0 },
    evidence: samples.flatMap((x) => x.items),
    evidenceTotal: samples.reduce((n, x) => n + x.total, 0),
    explanation,
    remediation,
    details: {
      server: subject,
      peakHalfOpen: st.peak,
      peakAt: formatTimestamp(st.peakAt.sec, st.peakAt.ns),
      threshold: st.threshold,
      secondsAboveThreshold: round3(st.above),
      longestAboveSeconds: round3(st.longestAbove),
      halfOpenConnections: agg.n,
      completedHandshakes: agg.completed,
      syns: totalSyns,
      peakSynsPerSecond: peakRate,
      unansweredSyns: unanswered,
      synAcks: agg.synAcks,
      synAckRetransmissions: agg.synAckRetransmissions,
      sources,
      synOnlySources,
      synTtls: Object.fromEntries(ttls.map((t) => [String(t), agg.synTtls.get(t)!])),
      synOnlySourceTtls: Object.fromEntries(spoofTtls.map((t) => [String(t), agg.spoofTtls.get(t)!])),
      delayedClients: agg.delayed,
      maxClientDelaySeconds: round3(agg.delayMax),
      clientsGaveUp: agg.gaveUp,
      synCookiesLikely: cookies,
      proxmoxLimitedPerSource: limitedPerSource,
      aggregateLimited: limitedAggregate,
    },
  });
}

/** The SYN+ACKs of the requests half-open at the peak, lowest frames first. */
function peakEvidence(periods: Periods, peak: PeakStart, captureEnd: number, count: number, server: Endpoint): Sample {
  const s = new EvidenceSample(SAMPLE);
  for (let i = 0; i < periods.n; i++) {
    if (periods.start[i]! > peak.start || Math.min(periods.end[i]!, captureEnd) < peak.start) continue;
    s.add({ frame: periods.frame[i]!, tsSec: periods.sec[i]!, tsNs: periods.ns[i]!, what: `SYN+ACK of a request still half-open at the peak (${count} at once)`, srcIp: server.ip, srcPort: server.port });
  }
  return s.toJSON();
}

/** SYNs a token bucket of `rate`/s and `burst` would have dropped, at one-second resolution. */
function tokenBucket(perSecond: Array<[number, number]>, rate: number, burst: number): number {
  let tokens = burst;
  let lastSec = perSecond.length > 0 ? perSecond[0]![0] : 0;
  let dropped = 0;
  for (const [sec, n] of perSecond) {
    tokens = Math.min(burst, tokens + (sec - lastSec) * rate);
    lastSec = sec;
    const pass = Math.min(n, Math.floor(tokens));
    tokens -= pass;
    dropped += n - pass;
  }
  return dropped;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export const tcpSynRecvBuildup: Detector = {
  name: ID,
  ids: [ID],
  scope: 'flow',
  options: OPTIONS,
  createFlow: (o) => new Observer(o['synack-retries']!),
  reduce,
  release(partials) {
    for (const p of partials as Partial[]) {
      closeSpill(p.intervals);
      closeSpill(p.syns);
    }
  },
};
