/**
 * Linux nf_conntrack's TCP tracking (net/netfilter/nf_conntrack_proto_tcp.c), re-expressed over
 * the flow table's columns: the transition table `tcp_conntracks`, `tcp_new`, the special cases
 * of `nf_conntrack_tcp_packet`, `tcp_in_window` and the timeout selection. The sources and the
 * reasoning are in docs/research/conntrack-tcp.md; section numbers below refer to it.
 *
 * Conntrack directions: 0 = ORIGINAL (the side that created the entry), 1 = REPLY.
 */
import { B, CtStatus, D, U, type FlowTable } from './flow-table.js';
import type { ConntrackOptions } from './options.js';
import { OptBit } from './record.js';
import { InvalidReason } from './verdict.js';

export const CtState = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  SYN_SENT2: 9,
  /** Pseudo state of the table: the packet is invalid (sIV). */
  INVALID: 10,
  /** Pseudo state of the table: the packet is ignored (sIG). */
  IGNORE: 11,
} as const;

export const CT_STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'] as const;

/** Packet classes (get_conntrack_index, §1.2). */
export const PktClass = { SYN: 0, SYNACK: 1, FIN: 2, ACK: 3, RST: 4, NONE: 5 } as const;

const ORIGINAL = 0;
const REPLY = 1;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
const ECE = 0x40;
const CWR = 0x80;

/** Per-direction flags of `seen[dir].flags` (tdFlags), and of `last_flags`. */
export const TdFlag = {
  WINDOW_SCALE: 0x01,
  SACK_PERM: 0x02,
  CLOSE_INIT: 0x04,
  BE_LIBERAL: 0x08,
  DATA_UNACKNOWLEDGED: 0x10,
  MAXACK_SET: 0x20,
  /** last_flags only. */
  CHALLENGE_ACK: 0x40,
  /** last_flags only. */
  SIMULTANEOUS_OPEN: 0x80,
} as const;

/** Outcome of a packet for the entry. */
export const CtResult = {
  /** Accepted: state and timer updated. */
  ACCEPT: 0,
  /** Accepted, but conntrack did not act on it (sIG, a window IGNORE): no state change, no timer refresh. */
  IGNORE: 1,
  /** ctstate INVALID. */
  INVALID: 2,
  /** The packet reopens a closed connection: delete the entry and start over as a new one. */
  REPEAT: 3,
  /** Accepted, and the entry was deleted (a RST before any reply: REJ). */
  ACCEPT_KILLED: 4,
} as const;

const sNO = CtState.NONE;
const sSS = CtState.SYN_SENT;
const sSR = CtState.SYN_RECV;
const sES = CtState.ESTABLISHED;
const sFW = CtState.FIN_WAIT;
const sCW = CtState.CLOSE_WAIT;
const sLA = CtState.LAST_ACK;
const sTW = CtState.TIME_WAIT;
const sCL = CtState.CLOSE;
const sS2 = CtState.SYN_SENT2;
const sIV = CtState.INVALID;
const sIG = CtState.IGNORE;

/** tcp_conntracks[dir][class][state] of the current kernel (§1.3). Columns: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2. */
const TABLE: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>> = [
  [
    /* syn    */ [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */ [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  [
    /* syn    */ [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */ [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];

/** Flat copy of TABLE for the hot path: [(dir * 6 + class) * 10 + state]. */
const FLAT = new Uint8Array(2 * 6 * 10);
for (let d = 0; d < 2; d++) for (let c = 0; c < 6; c++) for (let st = 0; st < 10; st++) FLAT[(d * 6 + c) * 10 + st] = TABLE[d]![c]![st]!;

/** The table cell: the new state (or INVALID/IGNORE) for a packet class in a state and direction. */
export function nextState(dir: number, pktClass: number, state: number): number {
  return FLAT[(dir * 6 + pktClass) * 10 + state];
}

/** get_conntrack_index: RST beats SYN, which beats FIN, which beats ACK (§1.2). */
export function packetClass(flags: number): number {
  if (flags & RST) return PktClass.RST;
  if (flags & SYN) return flags & ACK ? PktClass.SYNACK : PktClass.SYN;
  if (flags & FIN) return PktClass.FIN;
  if (flags & ACK) return PktClass.ACK;
  return PktClass.NONE;
}

/** tcp_valid_flags (§3.3), indexed by the flag byte without ECE, CWR and PSH. */
const VALID_FLAGS = new Uint8Array(64);
for (const v of [SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG]) VALID_FLAGS[v] = 1;

/** The flag combinations tcp_error lets through (PSH, ECE and CWR do not matter). */
export function tcpFlagsValid(flags: number): boolean {
  return VALID_FLAGS[flags & 0xff & ~(ECE | CWR | PSH)] === 1;
}

/** The TCP segment being tracked: one reused object. */
/**
 * The TCP segment being tracked, in one reused object. Numbers that are not small integers (the
 * time, sequence numbers above 2^31) travel in its fields rather than as arguments: V8 boxes such
 * a number into a fresh heap object for every call it is passed to (or returned from) unless the
 * call is inlined, and the hot path allocates nothing per packet.
 */
export class TcpSegment {
  /** Capture time of the segment, in seconds. */
  now = 0;
  seq = 0;
  ack = 0;
  /** 12-bit flags. */
  flags = 0;
  /** Raw window field. */
  win = 0;
  payload = 0;
  /** OptBit bits of the record. */
  optBits = 0;
  sackEdge = 0;
}

// Sequence-number comparisons (the kernel's before() and after()) are written out where they are
// used, as (((a - b) | 0) < 0) for "a before b": a helper that V8 does not inline would box its
// arguments (sequence numbers above 2^31 are not small integers) on every call.
const MAXACKWINCONST = 66000;
const TCP_MAX_WSCALE = 14;

/** seq + payload + SYN + FIN, modulo 2^32 (segment_seq_plus_len). */
function segmentEnd(p: TcpSegment): number {
  return (p.seq + p.payload + (p.flags & SYN ? 1 : 0) + (p.flags & FIN ? 1 : 0)) >>> 0;
}

/** Conntrack's TCP logic for one shard's flow table. */
export class TcpConntrack {
  /** Why the last INVALID result was given (an InvalidReason). */
  invalidCause: number = InvalidReason.NONE;
  private readonly timeouts: Float64Array;
  /** Timeout slots after the states: RETRANS and UNACK. */
  private static readonly RETRANS = 10;
  private static readonly UNACK = 11;

  constructor(
    private readonly t: FlowTable,
    private readonly opts: ConntrackOptions,
  ) {
    const o = opts;
    this.timeouts = Float64Array.from([
      o.tcpTimeoutSynSent, // NONE never keeps an entry; SYN_SENT's slot serves
      o.tcpTimeoutSynSent,
      o.tcpTimeoutSynRecv,
      o.tcpTimeoutEstablished,
      o.tcpTimeoutFinWait,
      o.tcpTimeoutCloseWait,
      o.tcpTimeoutLastAck,
      o.tcpTimeoutTimeWait,
      o.tcpTimeoutClose,
      o.tcpTimeoutSynSent2,
      o.tcpTimeoutMaxRetrans,
      o.tcpTimeoutUnacknowledged,
    ]);
  }

  /**
   * tcp_new (§3.1): can this first packet create an entry? If so initialise the entry (state NONE,
   * `tcpPacket` then moves it). Returns false when it cannot (the packet is INVALID).
   */
  tcpNew(s: number, p: TcpSegment): boolean {
    const cls = packetClass(p.flags);
    const nw = nextState(ORIGINAL, cls, sNO);
    if (nw === sIV) {
      this.invalidCause = InvalidReason.NO_ENTRY;
      return false;
    }
    if (nw !== sSS && !this.opts.tcpLoose) {
      // The kernel returns without a log message here, unlike the case above ("invalid new").
      this.invalidCause = InvalidReason.NO_PICKUP;
      return false;
    }
    const u32 = this.t.u32;
    const u8 = this.t.u8;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    this.resetTcp(s);
    const end = segmentEnd(p);
    u32[b + U.TD_END] = end;
    u32[b + U.TD_MAXWIN] = p.win === 0 ? 1 : p.win;
    if (nw === sSS) {
      u32[b + U.TD_MAXEND] = end;
      this.tcpOptions(s, ORIGINAL, p);
    } else {
      // Mid-stream pickup: the history is lost, use what this packet says (§3.1).
      u32[b + U.TD_MAXEND] = (end + u32[b + U.TD_MAXWIN]) >>> 0;
      u8[c + B.TD_FLAGS] = TdFlag.SACK_PERM | TdFlag.BE_LIBERAL;
      u8[c + B.TD_FLAGS + 1] = TdFlag.SACK_PERM | TdFlag.BE_LIBERAL;
    }
    u8[c + B.CT_LAST_INDEX] = PktClass.NONE;
    u8[c + B.CT_STATE] = sNO;
    return true;
  }

  /**
   * nf_conntrack_tcp_packet for an entry that exists (or was just made by `tcpNew`): moves the
   * state, checks the window, picks the timeout.
   */
  tcpPacket(s: number, dir: number, p: TcpSegment): number {
    const now = p.now;
    const u32 = this.t.u32;
    const u8 = this.t.u8;
    const f64 = this.t.f64;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    const index = packetClass(p.flags);
    let old = u8[c + B.CT_STATE];
    let nw = nextState(dir, index, old);
    let skipWindow = false;

    if (nw === sSS && old >= sTW) {
      // SYN in TIME_WAIT or CLOSE: a reopen, if the old connection was closed by FINs or by this side's RST (§2.2).
      if ((u8[c + B.TD_FLAGS] | u8[c + B.TD_FLAGS + 1]) & TdFlag.CLOSE_INIT || (u8[c + B.CT_LAST_DIR] === dir && u8[c + B.CT_LAST_INDEX] === PktClass.RST)) {
        return CtResult.REPEAT;
      }
      nw = sIG; // otherwise it is ignored like any sIG packet
    }

    switch (nw) {
      case sIG: {
        const lastDir = u8[c + B.CT_LAST_DIR];
        if (index === PktClass.SYNACK && u8[c + B.CT_LAST_INDEX] === PktClass.SYN && lastDir !== dir && p.ack === u32[b + U.CT_LAST_END]) {
          // b) A SYN/ACK that answers a SYN we ignored: client and server are in sync, we were not (§2.1).
          old = sSS;
          nw = sSR;
          const lastWin = u32[b + U.CT_LAST_WIN];
          u32[b + U.TD_END + lastDir] = u32[b + U.CT_LAST_END];
          u32[b + U.TD_MAXEND + lastDir] = u32[b + U.CT_LAST_END];
          u32[b + U.TD_MAXWIN + lastDir] = lastWin === 0 ? 1 : lastWin;
          u8[c + B.TD_SCALE + lastDir] = u8[c + B.CT_LAST_WSCALE];
          u8[c + B.CT_LAST_FLAGS] &= ~TdFlag.CHALLENGE_ACK;
          u8[c + B.TD_FLAGS + lastDir] = u8[c + B.CT_LAST_FLAGS];
          this.resetSeen(s, dir);
          break;
        }
        u8[c + B.CT_LAST_INDEX] = index;
        u8[c + B.CT_LAST_DIR] = dir;
        u32[b + U.CT_LAST_SEQ] = p.seq;
        u32[b + U.CT_LAST_END] = segmentEnd(p);
        u32[b + U.CT_LAST_WIN] = p.win;
        if (index === PktClass.SYN && dir === ORIGINAL) {
          // a) Remember the SYN's options: if the server answers it, we get back in sync.
          let lastFlags = 0;
          let wscale = 0;
          if (p.optBits & OptBit.WSCALE) {
            lastFlags |= TdFlag.WINDOW_SCALE;
            wscale = Math.min((p.optBits >>> OptBit.WSCALE_SHIFT) & 0xf, TCP_MAX_WSCALE);
          }
          if (p.optBits & OptBit.SACK_PERM) lastFlags |= TdFlag.SACK_PERM;
          if (old === sLA) lastFlags |= TdFlag.CHALLENGE_ACK;
          u8[c + B.CT_LAST_FLAGS] = lastFlags;
          u8[c + B.CT_LAST_WSCALE] = wscale;
        }
        // c) A possible challenge ACK answering a SYN.
        if (old === sSS && index === PktClass.ACK && dir === REPLY) u32[b + U.CT_LAST_ACK] = p.ack;
        return CtResult.IGNORE;
      }
      case sIV:
        this.invalidCause = InvalidReason.BAD_STATE;
        return CtResult.INVALID;
      case sTW:
        // RFC 5961 challenge ACK to a spurious SYN while in LAST_ACK: not the last ACK.
        if (
          old === sLA &&
          index === PktClass.ACK &&
          u8[c + B.CT_LAST_DIR] !== dir &&
          u8[c + B.CT_LAST_INDEX] === PktClass.SYN &&
          u8[c + B.CT_LAST_FLAGS] & TdFlag.CHALLENGE_ACK
        ) {
          u8[c + B.CT_LAST_FLAGS] &= ~TdFlag.CHALLENGE_ACK;
          return CtResult.IGNORE;
        }
        break;
      case sS2:
        u8[c + B.CT_LAST_FLAGS] |= TdFlag.SIMULTANEOUS_OPEN;
        break;
      case sSR:
        if (dir === REPLY && index === PktClass.ACK && u8[c + B.CT_LAST_FLAGS] & TdFlag.SIMULTANEOUS_OPEN) nw = sES;
        break;
      case sCL: {
        if (index !== PktClass.RST) break;
        if (old >= sFW && old <= sCL) {
          // Closing already: skip the checks (§2.3 step 1).
          skipWindow = true;
          break;
        }
        const peer = 1 - dir;
        const lastIndex = u8[c + B.CT_LAST_INDEX];
        let checked = false;
        if (u8[c + B.TD_FLAGS + peer] & TdFlag.MAXACK_SET && lastIndex !== PktClass.SYN) {
          const seq = p.seq;
          const peerMaxAck = u32[b + U.TD_MAXACK + peer];
          const established = old === sES && (u8[c + B.CT_STATUS] & CtStatus.ASSURED) !== 0;
          if (seq === 0 && !established) {
            checked = true;
          } else if ((((seq - peerMaxAck) | 0) < 0) && !this.opts.tcpIgnoreInvalidRst) {
            this.invalidCause = InvalidReason.RST_SEQ;
            return CtResult.INVALID; // "invalid rst": below what the peer already acknowledged
          } else if (!established || seq === peerMaxAck) {
            checked = true;
          } else if (lastIndex === PktClass.ACK && u8[c + B.CT_LAST_DIR] === dir && seq === u32[b + U.CT_LAST_END]) {
            checked = true; // a RST train after this side's data
          } else {
            nw = old; // not exact: keep the state to allow a challenge ACK
          }
        }
        if (checked) break;
        const status = u8[c + B.CT_STATUS];
        if (
          (((status & CtStatus.SEEN_REPLY) !== 0 && lastIndex === PktClass.SYN) || ((status & CtStatus.ASSURED) === 0 && lastIndex === PktClass.ACK)) &&
          p.ack === u32[b + U.CT_LAST_END]
        ) {
          skipWindow = true; // a RST answering a SYN or ACK we let through (cases a and c)
          break;
        }
        if (old === sSS && lastIndex === PktClass.ACK && u8[c + B.CT_LAST_DIR] === REPLY && p.seq === u32[b + U.CT_LAST_ACK]) {
          skipWindow = true; // the RST answering a challenge ACK
        }
        break;
      }
      default:
        break;
    }

    if (!skipWindow) {
      // tcp_in_window looks at the stored state, not at the local `old` that case b) rewrites.
      const w = this.tcpInWindow(s, dir, index, p, u8[c + B.CT_STATE]);
      if (w === CtResult.IGNORE) return CtResult.IGNORE;
      if (w === CtResult.INVALID) {
        this.invalidCause = InvalidReason.OUT_OF_WINDOW;
        this.handleInvalid(s, dir, index, p);
        return CtResult.INVALID;
      }
    }

    // in_window:
    u8[c + B.CT_LAST_INDEX] = index;
    u8[c + B.CT_LAST_DIR] = dir;
    u8[c + B.CT_STATE] = nw;
    if (old !== nw && nw === sFW) u8[c + B.TD_FLAGS + dir] |= TdFlag.CLOSE_INIT;

    const T = this.timeouts;
    const RETRANS = TcpConntrack.RETRANS;
    const UNACK = TcpConntrack.UNACK;
    let timeout: number;
    if (u8[c + B.CT_RETRANS] >= this.opts.tcpMaxRetrans && T[nw] > T[RETRANS]) timeout = T[RETRANS];
    else if (index === PktClass.RST) timeout = T[sCL];
    else if ((u8[c + B.TD_FLAGS] | u8[c + B.TD_FLAGS + 1]) & TdFlag.DATA_UNACKNOWLEDGED && T[nw] > T[UNACK]) timeout = T[UNACK];
    else if (u32[b + U.CT_LAST_WIN] === 0 && T[nw] > T[RETRANS]) timeout = T[RETRANS];
    else timeout = T[nw];

    const status = u8[c + B.CT_STATUS];
    if ((status & CtStatus.SEEN_REPLY) === 0) {
      // Only a RST in reply: not a connection; delete the entry now (REJ).
      if (p.flags & RST) return CtResult.ACCEPT_KILLED;
      // A retransmitted SYN does not renew the timer.
      if (index === PktClass.SYN && old === sSS) return CtResult.ACCEPT;
      // Mid-stream pickup without a reply yet: no 5-day timeout.
      if (nw === sES && timeout > T[UNACK]) timeout = T[UNACK];
    } else if ((status & CtStatus.ASSURED) === 0 && (old === sSR || old === sES) && nw === sES) {
      u8[c + B.CT_STATUS] = status | CtStatus.ASSURED;
    }
    f64[s * D.STRIDE + D.CT_EXPIRES] = now + timeout;
    return CtResult.ACCEPT;
  }

  /** tcp_in_window (§4): ACCEPT, IGNORE or INVALID. `sd`/`rd` are the sender's and receiver's directions. */
  private tcpInWindow(s: number, dir: number, index: number, p: TcpSegment, state: number): number {
    const u32 = this.t.u32;
    const u8 = this.t.u8;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    const sd = dir;
    const rd = 1 - dir;
    let seq = p.seq;
    let ack = p.ack;
    let sack = ack;
    let win = p.win;
    let end = segmentEnd(p);
    const flags = p.flags;

    if (u8[c + B.TD_FLAGS + rd] & TdFlag.SACK_PERM && p.optBits & OptBit.SACK && (((sack - p.sackEdge) | 0) < 0)) sack = p.sackEdge;

    if (u32[b + U.TD_MAXWIN + sd] === 0) {
      if (flags & SYN) {
        this.initSender(s, sd, p, end, win);
        if (!(flags & ACK)) return CtResult.ACCEPT; // simultaneous open
      } else {
        // Picked up mid-stream and this is the first packet of this side.
        u32[b + U.TD_END + sd] = end;
        const swin = (win << u8[c + B.TD_SCALE + sd]) >>> 0;
        u32[b + U.TD_MAXWIN + sd] = swin === 0 ? 1 : swin;
        u32[b + U.TD_MAXEND + sd] = (end + u32[b + U.TD_MAXWIN + sd]) >>> 0;
        if (u32[b + U.TD_MAXWIN + rd] === 0) {
          u32[b + U.TD_END + rd] = sack;
          u32[b + U.TD_MAXEND + rd] = sack;
        } else if (sack === ((u32[b + U.TD_END + rd] + 1) >>> 0)) {
          u32[b + U.TD_END + rd] = u32[b + U.TD_END + rd] + 1; // likely a reply to a keep-alive
        }
      }
    } else if (((state === sSS && dir === ORIGINAL) || (state === sSR && dir === REPLY)) && ((((u32[b + U.TD_END + sd]) - end) | 0) < 0)) {
      // A re-initialised sender may use a new ISN (RFC 793).
      this.initSender(s, sd, p, end, win);
      if (dir === REPLY && !(flags & ACK)) return CtResult.ACCEPT;
    }

    const rEnd = u32[b + U.TD_END + rd];
    if (!(flags & ACK)) {
      ack = sack = rEnd;
    } else if ((flags & (ACK | RST)) === (ACK | RST) && ack === 0) {
      ack = sack = rEnd; // broken stacks send RST+ACK with ack 0
    }
    if (flags & RST && seq === 0 && state === sSS) {
      seq = end = u32[b + U.TD_END + sd]; // a RST answering a SYN
    }

    const sEnd = u32[b + U.TD_END + sd];
    const sMaxEnd = u32[b + U.TD_MAXEND + sd];
    const sMaxWin = u32[b + U.TD_MAXWIN + sd];
    const rMaxWin = u32[b + U.TD_MAXWIN + rd];
    const maxAckWindow = sMaxWin > MAXACKWINCONST ? sMaxWin : MAXACKWINCONST;
    if (!((seq - (((sMaxEnd + 1) >>> 0)) | 0) < 0)) {
      const overshot = (end - sMaxEnd + 1) >>> 0;
      const ackOk = (((((rEnd - maxAckWindow - 1) >>> 0) - sack) | 0) < 0);
      const inRecvWin = rMaxWin !== 0 && (((((sEnd - rMaxWin - 1) >>> 0) - end) | 0) < 0);
      if (inRecvWin && ackOk && overshot <= rMaxWin && ((sack - (((rEnd + 1) >>> 0)) | 0) < 0)) {
        // Some stacks send more than the window allows; accept the bytes, do not act on the packet.
        u32[b + U.TD_END + sd] = end;
        u8[c + B.TD_FLAGS + sd] |= TdFlag.DATA_UNACKNOWLEDGED;
        return this.logInvalid(c + B.TD_FLAGS + sd, CtResult.IGNORE);
      }
      return this.logInvalid(c + B.TD_FLAGS + sd, CtResult.INVALID); // SEQ over the upper bound
    }
    if (!((sack - (((rEnd + 1) >>> 0)) | 0) < 0)) return this.logInvalid(c + B.TD_FLAGS + sd, CtResult.INVALID); // ACK over the upper bound
    const inRecvWin = rMaxWin === 0 || (((((sEnd - rMaxWin - 1) >>> 0) - end) | 0) < 0);
    if (!inRecvWin) return this.logInvalid(c + B.TD_FLAGS + sd, CtResult.IGNORE); // old data retransmitted
    if (!(((((rEnd - maxAckWindow - 1) >>> 0) - sack) | 0) < 0)) return this.logInvalid(c + B.TD_FLAGS + sd, CtResult.IGNORE); // overly delayed ACK

    // Accepted: update the window data.
    if (!(flags & SYN)) win = win << u8[c + B.TD_SCALE + sd];
    const swin = (win + (sack - ack)) >>> 0;
    if (sMaxWin < swin) u32[b + U.TD_MAXWIN + sd] = swin;
    if ((((sEnd - end) | 0) < 0)) {
      u32[b + U.TD_END + sd] = end;
      u8[c + B.TD_FLAGS + sd] |= TdFlag.DATA_UNACKNOWLEDGED;
    }
    if (flags & ACK) {
      if (!(u8[c + B.TD_FLAGS + sd] & TdFlag.MAXACK_SET)) {
        u32[b + U.TD_MAXACK + sd] = ack;
        u8[c + B.TD_FLAGS + sd] |= TdFlag.MAXACK_SET;
      } else if (((((u32[b + U.TD_MAXACK + sd]) - ack) | 0) < 0)) {
        u32[b + U.TD_MAXACK + sd] = ack;
      }
    }
    if (rMaxWin !== 0 && (((sMaxEnd - end) | 0) < 0)) u32[b + U.TD_MAXWIN + rd] = rMaxWin + ((end - sMaxEnd) >>> 0);
    if (((((u32[b + U.TD_MAXEND + rd] - 1) >>> 0) - (((sack + win) >>> 0)) | 0) < 0)) {
      u32[b + U.TD_MAXEND + rd] = (sack + win + (win === 0 ? 1 : 0)) >>> 0;
    }
    if (ack === u32[b + U.TD_END + rd]) u8[c + B.TD_FLAGS + rd] &= ~TdFlag.DATA_UNACKNOWLEDGED;

    // Retransmission counter (ACK class only).
    if (index === PktClass.ACK) {
      if (
        u8[c + B.CT_LAST_DIR] === dir &&
        u32[b + U.CT_LAST_SEQ] === seq &&
        u32[b + U.CT_LAST_ACK] === ack &&
        u32[b + U.CT_LAST_END] === end &&
        u32[b + U.CT_LAST_WIN] === p.win
      ) {
        if (u8[c + B.CT_RETRANS] < 255) u8[c + B.CT_RETRANS]++;
      } else {
        u8[c + B.CT_LAST_DIR] = dir;
        u32[b + U.CT_LAST_SEQ] = seq;
        u32[b + U.CT_LAST_ACK] = ack;
        u32[b + U.CT_LAST_END] = end;
        u32[b + U.CT_LAST_WIN] = p.win;
        u8[c + B.CT_RETRANS] = 0;
      }
    }
    return CtResult.ACCEPT;
  }

  /** nf_tcp_log_invalid: with be_liberal (global or for this side), every window failure is accepted. */
  private logInvalid(senderFlagsAt: number, result: number): number {
    if (this.opts.tcpBeLiberal || this.t.u8[senderFlagsAt] & TdFlag.BE_LIBERAL) return CtResult.ACCEPT;
    return result;
  }

  /** nf_tcp_handle_invalid: out-of-window FIN/RST from both sides shorten an assured entry's timeout. */
  private handleInvalid(s: number, dir: number, index: number, p: TcpSegment): void {
    const now = p.now;
    const u8 = this.t.u8;
    const c = s * B.STRIDE;
    if ((u8[c + B.CT_STATUS] & CtStatus.ASSURED) === 0) return;
    if (index !== PktClass.RST && index !== PktClass.FIN) return;
    const lastIndex = u8[c + B.CT_LAST_INDEX];
    if (u8[c + B.CT_LAST_DIR] !== dir && (lastIndex === PktClass.FIN || lastIndex === PktClass.RST)) {
      const at = s * D.STRIDE + D.CT_EXPIRES;
      const left = this.t.f64[at] - now;
      if (left < 120) return;
      const unack = this.timeouts[TcpConntrack.UNACK];
      if (left > unack) this.t.f64[at] = now + unack;
    } else {
      u8[c + B.CT_LAST_INDEX] = index;
      u8[c + B.CT_LAST_DIR] = dir;
    }
  }

  private initSender(s: number, sd: number, p: TcpSegment, end: number, win: number): void {
    const u32 = this.t.u32;
    const u8 = this.t.u8;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    u32[b + U.TD_END + sd] = end;
    u32[b + U.TD_MAXEND + sd] = end;
    u32[b + U.TD_MAXWIN + sd] = win === 0 ? 1 : win;
    this.tcpOptions(s, sd, p);
    // RFC 1323: window scaling only if both sides offer it.
    if (sd === REPLY && !(u8[c + B.TD_FLAGS + sd] & TdFlag.WINDOW_SCALE && u8[c + B.TD_FLAGS + ORIGINAL] & TdFlag.WINDOW_SCALE)) {
      u8[c + B.TD_SCALE] = 0;
      u8[c + B.TD_SCALE + 1] = 0;
    }
  }

  /** tcp_options: window scale and SACK-permitted from a SYN. */
  private tcpOptions(s: number, sd: number, p: TcpSegment): void {
    const u8 = this.t.u8;
    const c = s * B.STRIDE;
    u8[c + B.TD_SCALE + sd] = 0;
    u8[c + B.TD_FLAGS + sd] &= TdFlag.BE_LIBERAL;
    if (p.optBits & OptBit.SACK_PERM) u8[c + B.TD_FLAGS + sd] |= TdFlag.SACK_PERM;
    if (p.optBits & OptBit.WSCALE) {
      u8[c + B.TD_SCALE + sd] = Math.min((p.optBits >>> OptBit.WSCALE_SHIFT) & 0xf, TCP_MAX_WSCALE);
      u8[c + B.TD_FLAGS + sd] |= TdFlag.WINDOW_SCALE;
    }
  }

  private resetSeen(s: number, sd: number): void {
    const u32 = this.t.u32;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    u32[b + U.TD_END + sd] = 0;
    u32[b + U.TD_MAXEND + sd] = 0;
    u32[b + U.TD_MAXWIN + sd] = 0;
    u32[b + U.TD_MAXACK + sd] = 0;
    this.t.u8[c + B.TD_SCALE + sd] = 0;
    this.t.u8[c + B.TD_FLAGS + sd] &= TdFlag.BE_LIBERAL;
  }

  /** Clears all TCP tracking state of the entry (the memset of ct->proto.tcp). */
  resetTcp(s: number): void {
    const u32 = this.t.u32;
    const u8 = this.t.u8;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    for (let d = 0; d < 2; d++) {
      u32[b + U.TD_END + d] = 0;
      u32[b + U.TD_MAXEND + d] = 0;
      u32[b + U.TD_MAXWIN + d] = 0;
      u32[b + U.TD_MAXACK + d] = 0;
      u8[c + B.TD_SCALE + d] = 0;
      u8[c + B.TD_FLAGS + d] = 0;
    }
    u8[c + B.CT_STATE] = sNO;
    u8[c + B.CT_LAST_INDEX] = 0;
    u8[c + B.CT_LAST_DIR] = 0;
    u8[c + B.CT_LAST_FLAGS] = 0;
    u8[c + B.CT_LAST_WSCALE] = 0;
    u8[c + B.CT_RETRANS] = 0;
    u32[b + U.CT_LAST_SEQ] = 0;
    u32[b + U.CT_LAST_ACK] = 0;
    u32[b + U.CT_LAST_END] = 0;
    u32[b + U.CT_LAST_WIN] = 0;
  }
}
