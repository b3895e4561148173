/**
 * The flow tracker of one shard: takes packet records (record.ts) in capture order, keeps one
 * flow per key in a FlowTable, runs the conntrack emulation and Zeek's endpoint logic on each
 * packet, records handshake evidence, expires flows by capture time, and at the end of a flow
 * hands it to the observers (flow-scope detectors) and to the flow export.
 *
 * A flow follows its conntrack entry: it starts with the first packet, and ends when the entry
 * and a short linger time have passed without traffic, when a SYN reopens a closed connection,
 * when evicted, or at the end of the capture. When conntrack deletes an entry early (a RST
 * before any reply) the flow lingers, so late answers to the same SYN stay in it.
 */
import { E, EvidencePool, EvFlag, evDir, evHead, EvKind, evKind, MAX_EVENTS_PER_FLOW } from './evidence.js';
import { CT_STATE_NAMES, CtResult, TcpConntrack, TcpSegment, tcpFlagsValid } from './conntrack-tcp.js';
import { B, CtStatus, D, FlowTable, MAC_SET_SIZE, RESERVE_SLOTS, U } from './flow-table.js';
import type { TrackerOptions } from './options.js';
import { Info, Kind, OptBit, R, RECORD_WORDS, recordSrcMac } from './record.js';
import { InvalidReason, Verdict, VERDICT_NAMES } from './verdict.js';
import { CONN_STATES, ZeekTracker, zeekFlipsAtStart } from './zeek.js';
import { Ev } from '../events.js';
import { IpProto } from '../decode/ipproto.js';

/** Why a flow ended. */
export const EndReason = {
  EXPIRED: 0,
  EVICTED: 1,
  REOPENED: 2,
  END_OF_CAPTURE: 3,
} as const;
export const END_REASON_NAMES = ['expired', 'evicted', 'reopened', 'end_of_capture'] as const;

/** What flow-scope detectors implement to watch the tracker. */
export interface FlowObserver {
  /**
   * Which packets `onPacket` wants: every one, only those conntrack calls INVALID, or none (flow
   * ends only). Most watch flow ends; calling them for every packet would cost on the hot path.
   */
  readonly packets: 'all' | 'invalid' | 'none';
  /** After the tracker processed a record. `slot` is -1 for packets that belong to no flow. */
  onPacket(tr: FlowTracker, slot: number, r: Uint32Array, base: number, canonDir: number, verdict: number): void;
  /** Just before a flow is removed. */
  onFlowEnd(tr: FlowTracker, slot: number, reason: number): void;
}

/** Per-shard totals, merged by addition. */
export interface FlowTotals {
  flows: number;
  connStates: Record<string, number>;
  /** Packets per conntrack verdict (ctstate). */
  verdicts: Record<string, number>;
  /** Flows per protocol ("tcp", "udp", "icmp", "other"). */
  protocols: Record<string, number>;
  /** Flows evicted because --max-flows was reached. */
  evictions: number;
  /** Conntrack entries created (a flow may have had several). */
  conntrackEntries: number;
  /** ICMP errors quoting a connection we never saw. */
  orphanIcmpErrors: number;
}

/** A shard's result: totals and the conntrack live-entry deltas per second, mergeable exactly. */
export interface TrackerPartial {
  totals: FlowTotals;
  /** [second, +created -ended] pairs for all conntrack entries. */
  entryDeltas: Array<[number, number]>;
  /** The same for entries that are not (yet) ASSURED: the ones early_drop could evict. */
  unassuredDeltas: Array<[number, number]>;
  /** [second, frame, ns]: the first packet that created an entry in each second (evidence of a full table). */
  firstCreates: Array<[number, number, number]>;
}

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;
/** Signal from the TCP path: the packet reopened the connection; start a new flow. */
const REOPEN = -1;

export class FlowTracker {
  readonly table: FlowTable;
  readonly evidence: EvidencePool;
  readonly zeek: ZeekTracker;
  private readonly tcp: TcpConntrack;
  private readonly seg = new TcpSegment();
  private readonly likelyServerPorts = new Uint8Array(65536);
  private readonly observers: FlowObserver[] = [];
  /** Observers by the packets they want (see FlowObserver.packets). */
  private readonly everyPacket: FlowObserver[] = [];
  private readonly invalidPackets: FlowObserver[] = [];

  private readonly verdictCounts = new Float64Array(4);
  private readonly connStateCounts = new Map<string, number>();
  private readonly protoCounts = new Map<string, number>();
  private flowsEnded = 0;
  private evictions = 0;
  private entriesCreated = 0;
  private orphanIcmpErrors = 0;
  private readonly entryDelta = new Map<number, number>();
  private readonly unassuredDelta = new Map<number, number>();
  private readonly firstCreate = new Map<number, [number, number]>();
  /** The packet being processed: its frame number and nanoseconds, for evidence. */
  private curFrame = 0;
  private curNs = 0;
  /**
   * The packet being processed: its time in seconds and its flow key. Fields, not arguments: V8
   * boxes a number that is not a small integer (a time, an address above 2^31) into a fresh heap
   * object for each call it is passed to unless the call is inlined, and the hot path allocates
   * nothing per packet.
   */
  private pktTime = 0;
  private kHash = 0;
  private kVlan = 0;
  private kProto = 0;
  private kIpA = 0;
  private kIpB = 0;
  private kPorts = 0;

  /** Latest capture time seen (seconds). */
  now = -Infinity;
  /** Why the current packet is INVALID (an InvalidReason), for observers. */
  invalidReason: number = InvalidReason.NONE;
  /**
   * 1 when conntrack accepted the current TCP packet without acting on it (IGNORE: its table's
   * ignore cases, or a window check that lets the packet pass), which its verdict does not show;
   * what nf_conntrack_log_invalid logs as "ignored". For tests against the kernel's log.
   */
  conntrackIgnored = 0;
  private nextSweepTime = -Infinity;
  private packetsSinceSweep = 0;
  private evictHand = 0;
  /** Flows found due by a sweep (reused). */
  private dueScratch = new Int32Array(1024);

  private exportChunk = '';

  constructor(
    readonly opts: TrackerOptions,
    /** Most flows this shard may hold. */
    maxFlows: number,
    /** Receives JSON lines of finished flows, in chunks, when exporting. */
    private readonly exportSink: ((chunk: string) => void) | null = null,
    private readonly formatFlow: ((tr: FlowTracker, slot: number, reason: number) => string) | null = null,
  ) {
    this.table = new FlowTable(4096, maxFlows);
    // A handshake leaves 3 or 4 events; most flows in a busy capture have one. Room for the
    // events of about as many flows as the table's initial 4096 before reserving.
    this.evidence = new EvidencePool(16384, Math.min(RESERVE_SLOTS, maxFlows) * 2);
    this.tcp = new TcpConntrack(this.table, opts.conntrack);
    this.zeek = new ZeekTracker(this.table);
    for (const p of opts.zeekLikelyServerPorts) if (p >= 0 && p < 65536) this.likelyServerPorts[p] = 1;
  }

  addObserver(o: FlowObserver): void {
    this.observers.push(o);
    if (o.packets === 'all') this.everyPacket.push(o);
    else if (o.packets === 'invalid') this.invalidPackets.push(o);
  }

  /** Processes `count` records of a batch. */
  processBatch(batch: Uint32Array, count: number): void {
    for (let i = 0; i < count; i++) this.process(batch, i * RECORD_WORDS);
  }

  /** Processes one packet record. */
  process(r: Uint32Array, base: number): void {
    const info = r[base + R.INFO];
    const kind = info & 0xf;
    const now = r[base + R.TS_SEC] + r[base + R.TS_NS] * 1e-9;
    this.pktTime = now;
    this.seg.now = now;
    this.curFrame = r[base + R.FRAME];
    this.curNs = r[base + R.TS_NS];
    if (now > this.now) this.now = now;
    if (++this.packetsSinceSweep >= 65536 && this.now >= this.nextSweepTime) this.maybeSweep();

    this.invalidReason = InvalidReason.NONE;
    this.conntrackIgnored = 0;
    if (kind === Kind.ICMP_OTHER) {
      // Types conntrack cannot track (and errors whose quote we could not read): INVALID, no flow.
      this.invalidReason = InvalidReason.ICMP_UNTRACKABLE;
      this.count(-1, r, base, 0, Verdict.INVALID);
      return;
    }
    const proto = (info >>> 8) & 0xff;
    const srcIp = r[base + R.KEY_SRC_IP];
    const dstIp = r[base + R.KEY_DST_IP];
    const ports = r[base + R.KEY_PORTS];
    const sport = ports & 0xffff;
    const dport = ports >>> 16;
    const srcIsA = srcIp < dstIp || (srcIp === dstIp && sport <= dport);
    const ipA = srcIsA ? srcIp : dstIp;
    const ipB = srcIsA ? dstIp : srcIp;
    const kPorts = (srcIsA ? sport | (dport << 16) : dport | (sport << 16)) >>> 0;
    const vlan = r[base + R.VLAN] & 0xffffff;
    const hash = r[base + R.HASH];
    this.kHash = hash;
    this.kVlan = vlan;
    this.kProto = proto;
    this.kIpA = ipA;
    this.kIpB = ipB;
    this.kPorts = kPorts;
    const t = this.table;
    let s = t.find(hash, vlan, proto, ipA, ipB, kPorts);
    if (s >= 0 && this.isDue(s, false)) {
      this.finalize(s, EndReason.EXPIRED);
      s = -1;
    }

    if (kind === Kind.ICMP_ERROR) {
      // The error travels toward the quoted packet's sender.
      this.icmpError(s, r, base, r[base + R.IP_DST] === ipA ? 1 : 0);
      return;
    }
    // An ICMP reply goes the other way from its key, which is oriented from the requester.
    const canonDir = (srcIsA ? 0 : 1) ^ ((info & Info.REPLY) !== 0 ? 1 : 0);
    let verdict: number;
    if (kind === Kind.TCP && (info & Info.BAD_TCP_HEADER) !== 0) {
      this.badTcpHeader(s, r, base, canonDir, info);
      return;
    }
    if (kind === Kind.TCP) {
      const flags = r[base + R.FLAGS_WIN] & 0xfff;
      // A new connection attempt after conntrack deleted the old entry starts a new flow.
      if (s >= 0 && (flags & (SYN | ACK | RST | FIN)) === SYN && !this.ctAliveNow(s) && t.u32[s * U.STRIDE + U.CT_ENTRIES] > 0) {
        this.finalize(s, EndReason.REOPENED);
        s = -1;
      }
      if (s < 0) s = this.newFlow(canonDir, flags, sport, dport, r, base);
      this.fillSegment(r, base, flags);
      verdict = this.tcpConntrack(s, canonDir);
      if (verdict === REOPEN) {
        this.finalize(s, EndReason.REOPENED);
        s = this.newFlow(canonDir, flags, sport, dport, r, base);
        verdict = this.tcpConntrack(s, canonDir);
      }
      this.touch(s, r, base, canonDir);
      this.zeek.tcp(s, this.zeekRole(s, canonDir), this.seg);
      this.tcpEvidence(s, r, base, canonDir, flags);
    } else {
      if (s < 0) s = this.newFlow(canonDir, 0, sport, dport, r, base);
      this.touch(s, r, base, canonDir);
      if (kind === Kind.UDP) {
        verdict = this.udpConntrack(s, canonDir, r[base + R.EVENT] - 1 === Ev.UDP_BAD_LENGTH);
        this.zeek.udp(s, this.zeekRole(s, canonDir), r[base + R.PAYLOAD]);
      } else if (kind === Kind.ICMP_QUERY) {
        verdict = this.icmpQueryConntrack(s, canonDir, r[base + R.ICMP] & 0xff);
      } else {
        verdict = this.genericConntrack(s, canonDir);
      }
    }
    t.u32[s * U.STRIDE + U.VERDICTS + verdict]++;
    this.count(s, r, base, canonDir, verdict);
  }

  /**
   * A TCP segment conntrack's tcp_error rejects (data offset below 5 or beyond the segment): INVALID.
   * Zeek ignores it too but keeps the connection it opened (so a flow is made), unless the IP
   * datagram cannot even hold a TCP header (then only an existing flow counts it).
   */
  private badTcpHeader(found: number, r: Uint32Array, base: number, canonDir: number, info: number): void {
    let s = found;
    this.invalidReason = InvalidReason.BAD_TCP_HEADER;
    if (s < 0 && (info & Info.SHORT_TCP) === 0) {
      const ports = r[base + R.KEY_PORTS];
      s = this.newFlow(canonDir, 0, ports & 0xffff, ports >>> 16, r, base);
    }
    if (s >= 0) {
      this.touch(s, r, base, canonDir);
      this.table.u32[s * U.STRIDE + U.VERDICTS + Verdict.INVALID]++;
    }
    this.count(s, r, base, canonDir, Verdict.INVALID);
  }

  private count(s: number, r: Uint32Array, base: number, canonDir: number, verdict: number): void {
    this.verdictCounts[verdict]++;
    const all = this.everyPacket;
    for (let i = 0; i < all.length; i++) all[i]!.onPacket(this, s, r, base, canonDir, verdict);
    if (verdict === Verdict.INVALID) {
      const inv = this.invalidPackets;
      for (let i = 0; i < inv.length; i++) inv[i]!.onPacket(this, s, r, base, canonDir, verdict);
    }
  }

  /**
   * Ends every flow at the end of the capture and flushes the export. `captureEnd` is the latest
   * time of the whole capture (not only this shard's), so that what is alive or expired at the end
   * does not depend on how flows were spread over shards.
   */
  finish(captureEnd: number): void {
    if (captureEnd > this.now) this.now = captureEnd;
    // Flows still live are reported as they stand; their slots need no clearing, the table is done.
    // Their slots go in a typed array: a list of a million numbers, and its sorted copy, would
    // land in the old generation just when the observers' results need the room.
    const live = this.table.liveSlots();
    live.sort((a, b) => this.firstFrame(a) - this.firstFrame(b));
    for (let i = 0; i < live.length; i++) {
      const s = live[i]!;
      this.finalize(s, this.isDue(s, true) ? EndReason.EXPIRED : EndReason.END_OF_CAPTURE, false);
    }
    this.flushExport();
  }

  /** Zeek role (0 originator, 1 responder) of a packet in canonical direction `canonDir`. */
  zeekRole(s: number, canonDir: number): number {
    return canonDir === 0 === (this.table.u8[s * B.STRIDE + B.Z_ORIG_IS_A] === 1) ? 0 : 1;
  }

  /** Conntrack direction (0 original, 1 reply) of a packet in canonical direction `canonDir`. */
  ctDir(s: number, canonDir: number): number {
    return canonDir === 0 === (this.table.u8[s * B.STRIDE + B.CT_ORIG_IS_A] === 1) ? 0 : 1;
  }

  firstFrame(s: number): number {
    return this.table.u32[s * U.STRIDE + U.FIRST_FRAME];
  }

  partial(): TrackerPartial {
    const verdicts: Record<string, number> = {};
    VERDICT_NAMES.forEach((name, i) => (verdicts[name] = this.verdictCounts[i]!));
    const connStates: Record<string, number> = {};
    for (const cs of CONN_STATES) if (this.connStateCounts.has(cs)) connStates[cs] = this.connStateCounts.get(cs)!;
    return {
      totals: {
        flows: this.flowsEnded,
        connStates,
        verdicts,
        protocols: Object.fromEntries([...this.protoCounts].sort()),
        evictions: this.evictions,
        conntrackEntries: this.entriesCreated,
        orphanIcmpErrors: this.orphanIcmpErrors,
      },
      entryDeltas: [...this.entryDelta].filter(([, d]) => d !== 0),
      unassuredDeltas: [...this.unassuredDelta].filter(([, d]) => d !== 0),
      firstCreates: [...this.firstCreate].map(([sec, [frame, ns]]) => [sec, frame, ns]),
    };
  }

  // ---- conntrack -------------------------------------------------------------------------------

  /** True when the flow's conntrack entry exists and has not timed out at `now`. */
  ctAlive(s: number, now: number): boolean {
    return (this.table.u8[s * B.STRIDE + B.CT_STATUS] & CtStatus.ALIVE) !== 0 && now < this.table.f64[s * D.STRIDE + D.CT_EXPIRES];
  }

  /** ctAlive at the current packet's time, read from its field: the hot path passes no time (see pktTime). */
  private ctAliveNow(s: number): boolean {
    return (this.table.u8[s * B.STRIDE + B.CT_STATUS] & CtStatus.ALIVE) !== 0 && this.pktTime < this.table.f64[s * D.STRIDE + D.CT_EXPIRES];
  }

  /** True when the flow's last conntrack entry was deleted by a RST before any reply (REJ) and none replaced it. */
  hadRejectedEntry(s: number): boolean {
    const c = s * B.STRIDE;
    const u8 = this.table.u8;
    return (u8[c + B.CT_STATUS] & (CtStatus.ALIVE | CtStatus.SEEN_REPLY)) === 0 && this.table.u32[s * U.STRIDE + U.CT_ENTRIES] > 0 && u8[c + B.CT_STATE] === 8;
  }

  /** Ends an entry that timed out before the current packet (in the second of its expiry). */
  private expireEntry(s: number): void {
    const expires = this.table.f64[s * D.STRIDE + D.CT_EXPIRES];
    if ((this.table.u8[s * B.STRIDE + B.CT_STATUS] & CtStatus.ALIVE) !== 0 && this.pktTime >= expires) this.endEntry(s, Math.floor(expires));
  }

  private startEntry(s: number, origIsA: boolean): void {
    const now = this.pktTime;
    const t = this.table;
    const c = s * B.STRIDE;
    t.u8[c + B.CT_STATUS] = CtStatus.ALIVE;
    t.u8[c + B.CT_ORIG_IS_A] = origIsA ? 1 : 0;
    t.f64[s * D.STRIDE + D.CT_CREATED] = now;
    t.u32[s * U.STRIDE + U.CT_ENTRIES]++;
    this.entriesCreated++;
    const sec = Math.floor(now);
    bump(this.entryDelta, sec, 1);
    bump(this.unassuredDelta, sec, 1);
    if (!this.firstCreate.has(sec)) this.firstCreate.set(sec, [this.curFrame, this.curNs]);
  }

  /** Ends an entry in second `sec` (a whole second: a small integer, passed without boxing). */
  private endEntry(s: number, sec: number): void {
    const u8 = this.table.u8;
    const c = s * B.STRIDE;
    bump(this.entryDelta, sec, -1);
    if ((u8[c + B.CT_STATUS] & CtStatus.ASSURED) === 0) bump(this.unassuredDelta, sec, -1);
    // Keep SEEN_REPLY/ASSURED: they describe the entry the flow last had.
    u8[c + B.CT_STATUS] &= ~CtStatus.ALIVE;
  }

  /** An entry the kernel never confirmed (its first packet was INVALID): it never counted. */
  private discardEntry(s: number): void {
    const t = this.table;
    const sec = Math.floor(t.f64[s * D.STRIDE + D.CT_CREATED]);
    bump(this.entryDelta, sec, -1);
    bump(this.unassuredDelta, sec, -1);
    t.u32[s * U.STRIDE + U.CT_ENTRIES]--;
    this.entriesCreated--;
    t.u8[s * B.STRIDE + B.CT_STATUS] = 0;
  }

  /** An entry became ASSURED with the current packet: early_drop can no longer evict it. */
  private noteAssured(): void {
    bump(this.unassuredDelta, Math.floor(this.pktTime), -1);
  }

  private fillSegment(r: Uint32Array, base: number, flags: number): void {
    const seg = this.seg;
    seg.seq = r[base + R.SEQ];
    seg.ack = r[base + R.ACK];
    seg.flags = flags;
    seg.win = r[base + R.FLAGS_WIN] >>> 16;
    seg.payload = r[base + R.PAYLOAD];
    seg.optBits = r[base + R.IPID_OPTS] >>> 16;
    seg.sackEdge = r[base + R.SACK_EDGE];
  }

  /** A TCP packet through conntrack (docs/research/conntrack-tcp.md §7, "compact algorithm"). */
  private tcpConntrack(s: number, canonDir: number): number {
    const u8 = this.table.u8;
    const c = s * B.STRIDE;
    const seg = this.seg;
    this.expireEntry(s);
    if (!tcpFlagsValid(seg.flags)) return this.invalid(InvalidReason.BAD_TCP_FLAGS);
    if ((u8[c + B.CT_STATUS] & CtStatus.ALIVE) === 0) {
      if (!this.tcp.tcpNew(s, seg)) return this.invalid(this.tcp.invalidCause);
      this.startEntry(s, canonDir === 0);
      const res = this.tcp.tcpPacket(s, 0, seg);
      if (res === CtResult.INVALID) {
        this.discardEntry(s);
        return this.invalid(this.tcp.invalidCause);
      }
      if (res === CtResult.ACCEPT_KILLED) this.endEntry(s, Math.floor(this.pktTime));
      return Verdict.NEW;
    }
    const dir = this.ctDir(s, canonDir);
    const status = u8[c + B.CT_STATUS];
    const ctinfo = dir === 1 || (status & CtStatus.SEEN_REPLY) !== 0 ? Verdict.ESTABLISHED : Verdict.NEW;
    const res = this.tcp.tcpPacket(s, dir, seg);
    switch (res) {
      case CtResult.REPEAT:
        this.endEntry(s, Math.floor(this.pktTime));
        return REOPEN;
      case CtResult.INVALID:
        return this.invalid(this.tcp.invalidCause);
      case CtResult.ACCEPT_KILLED:
        this.endEntry(s, Math.floor(this.pktTime));
        return ctinfo;
      default:
        // ACCEPT or IGNORE: either way the core marks a reply seen (nf_conntrack_in).
        if (res === CtResult.IGNORE) this.conntrackIgnored = 1;
        if (dir === 1) u8[c + B.CT_STATUS] |= CtStatus.SEEN_REPLY;
        if ((status & CtStatus.ASSURED) === 0 && (u8[c + B.CT_STATUS] & CtStatus.ASSURED) !== 0) this.noteAssured();
        return ctinfo;
    }
  }

  /** Notes why the packet is INVALID and returns the verdict. */
  private invalid(reason: number): number {
    this.invalidReason = reason;
    return Verdict.INVALID;
  }

  /** UDP (§5): 30 s until a reply; after a reply and 2 s of life, a "stream": 120 s and ASSURED. */
  private udpConntrack(s: number, canonDir: number, badLength: boolean): number {
    const now = this.pktTime;
    const u8 = this.table.u8;
    const f64 = this.table.f64;
    const c = s * B.STRIDE;
    const d = s * D.STRIDE;
    const o = this.opts.conntrack;
    this.expireEntry(s);
    if (badLength) return this.invalid(InvalidReason.UDP_BAD_LENGTH);
    let verdict: number;
    let dir = 0;
    if ((u8[c + B.CT_STATUS] & CtStatus.ALIVE) === 0) {
      this.startEntry(s, canonDir === 0);
      verdict = Verdict.NEW;
    } else {
      dir = this.ctDir(s, canonDir);
      verdict = dir === 1 || (u8[c + B.CT_STATUS] & CtStatus.SEEN_REPLY) !== 0 ? Verdict.ESTABLISHED : Verdict.NEW;
    }
    const status = u8[c + B.CT_STATUS];
    let timeout = o.udpTimeout;
    if ((status & CtStatus.SEEN_REPLY) !== 0 && now > f64[d + D.CT_CREATED] + 2) {
      timeout = o.udpTimeoutStream;
      if ((status & CtStatus.ASSURED) === 0) {
        u8[c + B.CT_STATUS] = status | CtStatus.ASSURED;
        this.noteAssured();
      }
    }
    f64[d + D.CT_EXPIRES] = now + timeout;
    if (dir === 1) u8[c + B.CT_STATUS] |= CtStatus.SEEN_REPLY;
    return verdict;
  }

  /** ICMP echo and the other queries (§6.3): requests create, replies match. */
  private icmpQueryConntrack(s: number, canonDir: number, type: number): number {
    const now = this.pktTime;
    const u8 = this.table.u8;
    const c = s * B.STRIDE;
    const expires = s * D.STRIDE + D.CT_EXPIRES;
    this.expireEntry(s);
    const isRequest = type === 8 || type === 13 || type === 15 || type === 17;
    if ((u8[c + B.CT_STATUS] & CtStatus.ALIVE) === 0) {
      if (!isRequest) return this.invalid(InvalidReason.ICMP_REPLY_NO_REQUEST);
      this.startEntry(s, canonDir === 0);
      this.table.f64[expires] = now + this.opts.conntrack.icmpTimeout;
      return Verdict.NEW;
    }
    const dir = this.ctDir(s, canonDir);
    if (isRequest !== (dir === 0)) {
      // A request from the answering side is another entry in the kernel (NEW); a reply from the
      // asking side matches no tuple (INVALID). Neither changes this entry.
      return isRequest ? Verdict.NEW : this.invalid(InvalidReason.ICMP_REPLY_NO_REQUEST);
    }
    const verdict = dir === 1 || (u8[c + B.CT_STATUS] & CtStatus.SEEN_REPLY) !== 0 ? Verdict.ESTABLISHED : Verdict.NEW;
    this.table.f64[expires] = now + this.opts.conntrack.icmpTimeout;
    if (dir === 1) u8[c + B.CT_STATUS] |= CtStatus.SEEN_REPLY;
    return verdict;
  }

  /** Protocols without a tracker of their own: the generic tracker, addresses only. */
  private genericConntrack(s: number, canonDir: number): number {
    const now = this.pktTime;
    const u8 = this.table.u8;
    const c = s * B.STRIDE;
    this.expireEntry(s);
    let verdict: number = Verdict.NEW;
    let dir = 0;
    if ((u8[c + B.CT_STATUS] & CtStatus.ALIVE) === 0) {
      this.startEntry(s, canonDir === 0);
    } else {
      dir = this.ctDir(s, canonDir);
      verdict = dir === 1 || (u8[c + B.CT_STATUS] & CtStatus.SEEN_REPLY) !== 0 ? Verdict.ESTABLISHED : Verdict.NEW;
    }
    this.table.f64[s * D.STRIDE + D.CT_EXPIRES] = now + this.opts.conntrack.genericTimeout;
    if (dir === 1) u8[c + B.CT_STATUS] |= CtStatus.SEEN_REPLY;
    return verdict;
  }

  /**
   * An ICMP error (§6.1): RELATED when the connection it quotes has a live entry and the error goes
   * back to the quoted packet's sender; otherwise INVALID. It never changes the entry.
   */
  private icmpError(s: number, r: Uint32Array, base: number, canonDir: number): void {
    const t = this.table;
    let verdict: number = Verdict.INVALID;
    this.invalidReason = InvalidReason.ICMP_NO_ENTRY;
    if (s >= 0) {
      this.expireEntry(s);
      if ((t.u8[s * B.STRIDE + B.CT_STATUS] & CtStatus.ALIVE) !== 0 && r[base + R.IP_DST] === r[base + R.KEY_SRC_IP]) {
        verdict = Verdict.RELATED;
        this.invalidReason = InvalidReason.NONE;
      }
      const b = s * U.STRIDE;
      if (t.u32[b + U.ICMP_ERRORS] < 0xffffffff) t.u32[b + U.ICMP_ERRORS]++;
      const e = this.addEvent(s, EvKind.ICMP_ERROR, r, base, canonDir);
      if (e >= 0) {
        this.evidence.w[e * E.STRIDE + E.SEQ] = r[base + R.QUOTE_SEQ];
        this.evidence.w[e * E.STRIDE + E.FLAGS_WIN] = r[base + R.ICMP];
      }
      t.u32[b + U.VERDICTS + verdict]++;
    } else {
      this.orphanIcmpErrors++;
    }
    this.count(s, r, base, canonDir, verdict);
  }

  // ---- flows -------------------------------------------------------------------------------------

  /**
   * True when the flow has ended if nothing more came: its entry's expiry and the linger time after
   * its last packet have both passed, at the current packet's time or (`latest`) the latest time
   * seen. The time is read from its field and a boolean returned, not the end time: a time passed
   * to or returned from a call V8 does not inline is boxed, and this runs for every packet and, in
   * a sweep, for every live flow.
   */
  private isDue(s: number, latest: boolean): boolean {
    const now = latest ? this.now : this.pktTime;
    const t = this.table;
    const d = s * D.STRIDE;
    if (now < t.f64[d + D.LAST_TIME] + this.opts.lingerSeconds) return false;
    return (t.u8[s * B.STRIDE + B.CT_STATUS] & CtStatus.ALIVE) === 0 || now >= t.f64[d + D.CT_EXPIRES];
  }

  /** A new flow for the current packet's key (the k* fields). */
  private newFlow(canonDir: number, tcpFlags: number, sport: number, dport: number, r: Uint32Array, base: number): number {
    const t = this.table;
    if (t.isFull()) {
      this.sweep();
      if (t.isFull()) this.evictOne();
    }
    const proto = this.kProto;
    const s = t.insert(this.kHash, this.kVlan, proto, this.kIpA, this.kIpB, this.kPorts);
    const u32 = t.u32;
    const b = s * U.STRIDE;
    u32[b + U.FIRST_FRAME] = r[base + R.FRAME];
    u32[b + U.FIRST_SEC] = r[base + R.TS_SEC];
    u32[b + U.FIRST_NS] = r[base + R.TS_NS];
    u32[b + U.LAST_SEC] = r[base + R.TS_SEC];
    u32[b + U.LAST_NS] = r[base + R.TS_NS];
    t.f64[s * D.STRIDE + D.LAST_TIME] = r[base + R.TS_SEC] + r[base + R.TS_NS] * 1e-9;
    // Zeek does not flip roles for a packet to the broadcast address.
    const flip = r[base + R.IP_DST] !== 0xffffffff && zeekFlipsAtStart(proto === IpProto.TCP, proto === IpProto.UDP, tcpFlags, sport, dport, this.likelyServerPorts);
    const senderIsA = canonDir === 0;
    t.u8[s * B.STRIDE + B.Z_ORIG_IS_A] = senderIsA !== flip ? 1 : 0;
    if (flip) this.zeek.flipMark(s);
    return s;
  }

  /** Counters, times, MACs and TTLs of a packet that belongs to flow `s`. */
  private touch(s: number, r: Uint32Array, base: number, canonDir: number): void {
    const now = this.pktTime;
    const t = this.table;
    const u32 = t.u32;
    const f64 = t.f64;
    const u8 = t.u8;
    const b = s * U.STRIDE;
    const d = s * D.STRIDE;
    const c = s * B.STRIDE;
    u32[b + U.LAST_FRAME] = r[base + R.FRAME];
    // Records without a time of their own repeat the previous time; reordered ones do not move it back.
    if (r[base + R.INFO] & Info.HAS_TIMESTAMP && now >= f64[d + D.LAST_TIME]) {
      u32[b + U.LAST_SEC] = r[base + R.TS_SEC];
      u32[b + U.LAST_NS] = r[base + R.TS_NS];
      f64[d + D.LAST_TIME] = now;
    }
    f64[d + D.PKTS + canonDir]++;
    f64[d + D.IP_BYTES + canonDir] += r[base + R.IP_LEN];
    f64[d + D.PAYLOAD_BYTES + canonDir] += r[base + R.PAYLOAD];

    const mac = recordSrcMac(r, base);
    const m0 = d + D.MACS + canonDir * MAC_SET_SIZE;
    const n = u8[c + B.MAC_COUNT + canonDir];
    let found = false;
    for (let i = 0; i < n; i++) {
      if (f64[m0 + i] === mac) {
        found = true;
        break;
      }
    }
    if (!found) {
      if (n < MAC_SET_SIZE) {
        f64[m0 + n] = mac;
        u8[c + B.MAC_COUNT + canonDir] = n + 1;
      } else {
        u8[c + B.MAC_OVERFLOW + canonDir] = 1;
      }
    }

    const ttl = (r[base + R.INFO] >>> 16) & 0xff;
    const packed = u32[b + U.TTLS + canonDir];
    const tn = u8[c + B.TTL_COUNT + canonDir];
    let known = false;
    for (let i = 0; i < tn && i < 4; i++) {
      if (((packed >>> (i * 8)) & 0xff) === ttl) {
        known = true;
        break;
      }
    }
    if (!known) {
      if (tn < 4) u32[b + U.TTLS + canonDir] = packed | (ttl << (tn * 8));
      if (tn < 255) u8[c + B.TTL_COUNT + canonDir] = tn + 1;
    }
  }

  /** Records the SYN, SYN+ACK, RST and final-ACK frames of a TCP flow. */
  private tcpEvidence(s: number, r: Uint32Array, base: number, canonDir: number, flags: number): void {
    const u8 = this.table.u8;
    const at = s * B.STRIDE + B.EV_FLAGS;
    let kind = 0;
    if (flags & RST) kind = EvKind.RST;
    else if (flags & SYN) kind = flags & ACK ? EvKind.SYNACK : EvKind.SYN;
    else if (flags & ACK && (u8[at] & (EvFlag.HAS_SYNACK | EvFlag.HAS_FINAL_ACK)) === EvFlag.HAS_SYNACK && this.completesHandshake(s, r, base, canonDir)) {
      kind = EvKind.FINAL_ACK;
    }
    if (kind === 0) return;
    if (kind === EvKind.SYNACK) u8[at] |= EvFlag.HAS_SYNACK;
    else if (kind === EvKind.FINAL_ACK) u8[at] |= EvFlag.HAS_FINAL_ACK;
    else if (kind === EvKind.RST) u8[at] |= EvFlag.HAS_RST;
    this.addEvent(s, kind, r, base, canonDir);
  }

  /** An ACK completes the handshake when it acknowledges a SYN+ACK sent the other way. */
  private completesHandshake(s: number, r: Uint32Array, base: number, canonDir: number): boolean {
    const w = this.evidence.w;
    const ack = r[base + R.ACK];
    for (let e = this.table.u32[s * U.STRIDE + U.EV_HEAD] - 1; e >= 0; e = w[e * E.STRIDE + E.NEXT] - 1) {
      const eb = e * E.STRIDE;
      if (evKind(w, eb) === EvKind.SYNACK && evDir(w, eb) !== canonDir && ((w[eb + E.SEQ] + 1) >>> 0) === ack) return true;
    }
    return false;
  }

  private addEvent(s: number, kind: number, r: Uint32Array, base: number, canonDir: number): number {
    const t = this.table;
    const c = s * B.STRIDE;
    const b = s * U.STRIDE;
    if (t.u8[c + B.EV_COUNT] >= MAX_EVENTS_PER_FLOW) {
      t.u32[b + U.EV_DROPPED]++;
      return -1;
    }
    const pool = this.evidence;
    const e = pool.alloc();
    const w = pool.w;
    const eb = e * E.STRIDE;
    w[eb + E.HEAD] = evHead(kind, canonDir, r[base + R.MAC_HI] & 0xffff);
    w[eb + E.FRAME] = r[base + R.FRAME];
    w[eb + E.TS_SEC] = r[base + R.TS_SEC];
    w[eb + E.TS_NS] = r[base + R.TS_NS];
    w[eb + E.MAC_LO] = r[base + R.SRC_MAC_LO];
    w[eb + E.IP_SRC] = r[base + R.IP_SRC];
    w[eb + E.SEQ] = r[base + R.SEQ];
    w[eb + E.ACK] = r[base + R.ACK];
    w[eb + E.FLAGS_WIN] = r[base + R.FLAGS_WIN];
    const opts = r[base + R.IPID_OPTS];
    w[eb + E.IPID_TTL] = (opts & 0xffff) | (((r[base + R.INFO] >>> 16) & 0xff) << 16) | ((opts >>> 16) & OptBit.PRESENT ? 1 << 24 : 0);
    w[eb + E.NEXT] = 0;
    const tail = t.u32[b + U.EV_TAIL];
    if (tail > 0) w[(tail - 1) * E.STRIDE + E.NEXT] = e + 1;
    else t.u32[b + U.EV_HEAD] = e + 1;
    t.u32[b + U.EV_TAIL] = e + 1;
    t.u8[c + B.EV_COUNT]++;
    return e;
  }

  /** The Zeek conn_state of a flow. */
  connState(s: number): string {
    const proto = this.table.u8[s * B.STRIDE + B.PROTO];
    if (proto === IpProto.TCP) return this.zeek.tcpConnState(s);
    if (proto === IpProto.UDP) return this.zeek.udpConnState(s);
    return 'OTH';
  }

  private finalize(s: number, reason: number, remove = true): void {
    const t = this.table;
    const obs = this.observers;
    for (let i = 0; i < obs.length; i++) obs[i]!.onFlowEnd(this, s, reason);
    this.flowsEnded++;
    const cs = this.connState(s);
    this.connStateCounts.set(cs, (this.connStateCounts.get(cs) ?? 0) + 1);
    const proto = t.u8[s * B.STRIDE + B.PROTO];
    const pname = proto === IpProto.TCP ? 'tcp' : proto === IpProto.UDP ? 'udp' : proto === IpProto.ICMP ? 'icmp' : 'other';
    this.protoCounts.set(pname, (this.protoCounts.get(pname) ?? 0) + 1);
    if (this.exportSink && this.formatFlow) {
      this.exportChunk += this.formatFlow(this, s, reason) + '\n';
      if (this.exportChunk.length > 1 << 20) this.flushExport();
    }
    // An entry still alive ends when its timer would have run out.
    if ((t.u8[s * B.STRIDE + B.CT_STATUS] & CtStatus.ALIVE) !== 0) this.endEntry(s, Math.floor(t.f64[s * D.STRIDE + D.CT_EXPIRES]));
    if (!remove) return;
    const pool = this.evidence;
    for (let e = t.u32[s * U.STRIDE + U.EV_HEAD] - 1; e >= 0; ) {
      const next = pool.w[e * E.STRIDE + E.NEXT] - 1;
      pool.release(e);
      e = next;
    }
    t.remove(s);
  }

  private flushExport(): void {
    if (this.exportSink && this.exportChunk.length > 0) {
      this.exportSink(this.exportChunk);
      this.exportChunk = '';
    }
  }

  /** Expires due flows now and then: often enough that memory follows the live flows, rarely enough to cost nothing per packet. */
  private maybeSweep(): void {
    if (this.packetsSinceSweep < this.table.live) return;
    this.sweep();
  }

  /** Ends the flows due at the latest time seen. */
  private sweep(): void {
    this.packetsSinceSweep = 0;
    this.nextSweepTime = this.now + 1;
    const t = this.table;
    let due = this.dueScratch;
    let n = 0;
    for (let s = 0, end = t.slotsHandedOut; s < end; s++) {
      if (!t.isUsed(s) || !this.isDue(s, true)) continue;
      if (n === due.length) {
        const grown = new Int32Array(due.length * 2);
        grown.set(due);
        this.dueScratch = due = grown;
      }
      due[n++] = s;
    }
    if (n === 0) return;
    // Finalize in a fixed order so that results do not depend on storage order.
    const order = due.subarray(0, n);
    order.sort((a, b) => this.firstFrame(a) - this.firstFrame(b));
    for (let i = 0; i < n; i++) this.finalize(order[i]!, EndReason.EXPIRED);
  }

  /** Evicts the least recently seen of a few sampled flows (approximate LRU, like Redis). */
  private evictOne(): void {
    const t = this.table;
    let victim = -1;
    let oldest = Infinity;
    for (let tries = 0, seen = 0; tries < t.capacity && seen < 16; tries++) {
      const s = this.evictHand;
      this.evictHand = (this.evictHand + 1) % t.capacity;
      if (!t.isUsed(s)) continue;
      seen++;
      const last = t.f64[s * D.STRIDE + D.LAST_TIME];
      if (last < oldest) {
        oldest = last;
        victim = s;
      }
    }
    if (victim >= 0) {
      this.evictions++;
      this.finalize(victim, EndReason.EVICTED);
    }
  }

  /** Memory held by the shard's tables, in bytes. */
  byteSize(): number {
    return this.table.byteSize() + this.evidence.byteSize();
  }
}

function bump(m: Map<number, number>, key: number, by: number): void {
  m.set(key, (m.get(key) ?? 0) + by);
}

/** The conntrack state name of a flow's last entry, as `conntrack -L` shows it (TCP), or UNREPLIED/REPLIED. */
export function ctStateName(tr: FlowTracker, s: number): string {
  const u8 = tr.table.u8;
  const c = s * B.STRIDE;
  if (u8[c + B.PROTO] !== IpProto.TCP) return (u8[c + B.CT_STATUS] & CtStatus.SEEN_REPLY) !== 0 ? 'REPLIED' : 'UNREPLIED';
  return CT_STATE_NAMES[u8[c + B.CT_STATE]] ?? String(u8[c + B.CT_STATE]);
}
