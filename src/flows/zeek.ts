/**
 * Zeek's view of a connection, so users can compare with their conn.log: the endpoint states of
 * the TCP analyzer, the history letters, and `conn_state`. Rules from Zeek's source as summarized
 * in docs/research/zeek-conn.md (§ numbers below). Zeek roles: 0 = originator, 1 = responder.
 *
 * Known differences (see the README): TCP checksums are not verified (like `zeek -C`), so the C
 * letter never appears; the G (gap) letter needs reassembly and is not produced; a flow follows the
 * conntrack entry, so Zeek's split of a connection on a SYN with a new ISN is not reproduced.
 */
import { B, D, HISTORY_MAX, U, type FlowTable } from './flow-table.js';
import type { TcpSegment } from './conntrack-tcp.js';

/** Endpoint states (TCP_Endpoint.h, §1.2). */
export const ZState = {
  INACTIVE: 0,
  SYN_SENT: 1,
  SYN_ACK_SENT: 2,
  PARTIAL: 3,
  ESTABLISHED: 4,
  CLOSED: 5,
  RESET: 6,
} as const;

/** UDP endpoint state: ACTIVE once it sent a datagram. */
const UDP_ACTIVE = 1;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** zHas bits, per role. */
const HAS_SYN = 1;
const HAS_FIN = 2;
const HAS_RST = 4;
const HAS_LAST_SEQ = 16;
/** This endpoint sent a FIN and then a RST: a later FIN from the peer makes it a normal close. */
const CLOSED_BEFORE_RESET = 32;

/** zSeen bits for the letters recorded once per direction (responder bits shifted by 8). */
const SEEN_A = 1;
const SEEN_D = 2;
const SEEN_I = 4;
const SEEN_Q = 8;

const LOG_T = 0;
const LOG_W = 1;

const ch = (c: string): number => c.charCodeAt(0);

export class ZeekTracker {
  constructor(private readonly t: FlowTable) {}

  /** Appends a history letter code. */
  private append(s: number, code: number): void {
    const u8 = this.t.u8;
    const c = s * B.STRIDE;
    const n = u8[c + B.Z_HIST_LEN];
    if (n >= HISTORY_MAX) return;
    u8[c + B.Z_HIST + n] = code;
    u8[c + B.Z_HIST_LEN] = n + 1;
  }

  /** Appends a history letter: upper case for the originator, lower for the responder. */
  private letter(s: number, role: number, upper: string): void {
    this.append(s, role === 0 ? ch(upper) : ch(upper) + 32);
  }

  /** Appends `^` (roles flipped). */
  flipMark(s: number): void {
    this.append(s, 0x5e);
  }

  private once(s: number, role: number, bit: number, upper: string): void {
    const u32 = this.t.u32;
    const at = s * U.STRIDE + U.Z_SEEN;
    const mask = bit << (role * 8);
    if (u32[at] & mask) return;
    u32[at] |= mask;
    this.letter(s, role, upper);
  }

  /** Logarithmic letters (T, W): recorded at the 1st, 10th, 100th... occurrence (§3.1). */
  private logarithmic(s: number, role: number, which: number, upper: string): void {
    const u32 = this.t.u32;
    const at = s * U.STRIDE + U.Z_LOG + role * 2 + which;
    const n = u32[at] + 1;
    u32[at] = n;
    if (n === 1 || n === 10 || n === 100 || n === 1000 || n === 10000 || n === 100000 || n === 1000000) this.letter(s, role, upper);
  }

  /** One TCP segment from `role` (§2.2 and §3.1). */
  tcp(s: number, role: number, seg: TcpSegment): void {
    const flags = seg.flags;
    const seq = seg.seq;
    const payload = seg.payload;
    const win = seg.win;
    const u32 = this.t.u32;
    const u8 = this.t.u8;
    const b = s * U.STRIDE;
    const c = s * B.STRIDE;
    const syn = (flags & SYN) !== 0;
    const fin = (flags & FIN) !== 0;
    const rst = (flags & RST) !== 0;
    const ack = (flags & ACK) !== 0;
    const nSFR = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0);
    const has = c + B.Z_HAS + role;

    // History letters, in Zeek's order: S/H/F/R/A/D/I/Q, then W, then T.
    if (nSFR > 1) {
      if (fin && rst) this.once(s, role, SEEN_I, 'I');
      else this.once(s, role, SEEN_Q, 'Q');
    } else if (nSFR === 1) {
      if (syn) {
        if (!(u8[has] & HAS_SYN) || u32[b + U.Z_LAST_SYN + role] !== seq) this.letter(s, role, ack ? 'H' : 'S');
        u8[has] |= HAS_SYN;
        u32[b + U.Z_LAST_SYN + role] = seq;
      } else if (fin) {
        const finEnd = (seq + payload) >>> 0;
        if (!(u8[has] & HAS_FIN) || u32[b + U.Z_LAST_FIN + role] !== finEnd) this.letter(s, role, 'F');
        u8[has] |= HAS_FIN;
        u32[b + U.Z_LAST_FIN + role] = finEnd;
      } else {
        if (!(u8[has] & HAS_RST) || u32[b + U.Z_LAST_RST + role] !== seq) this.letter(s, role, 'R');
        u8[has] |= HAS_RST;
        u32[b + U.Z_LAST_RST + role] = seq;
      }
    } else if (payload > 0) {
      this.once(s, role, SEEN_D, 'D');
    } else if (ack) {
      this.once(s, role, SEEN_A, 'A');
    }
    const state = u8[c + B.Z_STATE + role];
    if (win === 0 && !rst && state !== ZState.RESET && u8[c + B.Z_STATE + 1 - role] !== ZState.CLOSED) this.logarithmic(s, role, LOG_W, 'W');
    const end = (seq + payload + (syn ? 1 : 0) + (fin ? 1 : 0)) >>> 0;
    const lastSeq = b + U.Z_LAST_SEQ + role;
    if (u8[has] & HAS_LAST_SEQ) {
      const advance = (end - u32[lastSeq]) | 0;
      if (payload > 0 && state !== ZState.RESET && advance <= 0) this.logarithmic(s, role, LOG_T, 'T');
      if (advance > 0) u32[lastSeq] = end;
    } else {
      u32[lastSeq] = end;
      u8[has] |= HAS_LAST_SEQ;
    }
    if (payload > 0) this.t.f64[s * D.STRIDE + D.Z_PAYLOAD + role] += payload;

    this.tcpState(c, role, syn, fin, rst, ack, payload);
  }

  /** The endpoint state machine (§2.2 table). `c` is the flow's byte-field base. */
  private tcpState(c: number, role: number, syn: boolean, fin: boolean, rst: boolean, ack: boolean, payload: number): void {
    const u8 = this.t.u8;
    const me = c + B.Z_STATE + role;
    const peer = c + B.Z_STATE + 1 - role;
    let st = u8[me];
    const ps = u8[peer];
    switch (st) {
      case ZState.INACTIVE:
        if (syn) {
          if (role === 0) {
            st = ack ? ZState.SYN_ACK_SENT : ZState.SYN_SENT;
          } else {
            if (ps === ZState.SYN_SENT) u8[peer] = ZState.ESTABLISHED;
            st = ZState.ESTABLISHED;
          }
        }
        if (fin) st = ZState.CLOSED;
        if (rst) st = ZState.RESET;
        if (!syn && !fin && !rst) {
          if (role === 1 && payload === 0 && ps === ZState.SYN_SENT) {
            // A stack that ACKs the SYN before answering it: not a partial connection.
          } else if (ack && ps === ZState.ESTABLISHED) {
            st = ZState.ESTABLISHED; // we saw the SYN-ACK but missed the SYN
          } else {
            st = ZState.PARTIAL;
          }
        }
        break;
      case ZState.SYN_SENT:
      case ZState.SYN_ACK_SENT:
        if (fin) st = ZState.CLOSED;
        if (rst) st = ZState.RESET;
        break;
      case ZState.ESTABLISHED:
      case ZState.PARTIAL:
        if (syn && !ack && st === ZState.PARTIAL && ps === ZState.INACTIVE) st = ZState.SYN_SENT;
        if (fin && !rst) {
          st = ZState.CLOSED;
          if (ps === ZState.RESET && u8[c + B.Z_HAS + 1 - role] & CLOSED_BEFORE_RESET) u8[peer] = ZState.CLOSED;
        }
        if (rst) st = ZState.RESET;
        break;
      case ZState.CLOSED:
        if (rst && ps !== ZState.CLOSED) {
          st = ZState.RESET;
          u8[c + B.Z_HAS + role] |= CLOSED_BEFORE_RESET;
        }
        break;
      default:
        break;
    }
    u8[me] = st;
  }

  /** One UDP datagram from `role`: D/d once, endpoint active (§3.2). */
  udp(s: number, role: number, payload: number): void {
    this.once(s, role, SEEN_D, 'D');
    this.t.u8[s * B.STRIDE + B.Z_STATE + role] = UDP_ACTIVE;
    this.t.f64[s * D.STRIDE + D.Z_PAYLOAD + role] += payload;
  }

  /** The history string. */
  history(s: number): string {
    const u8 = this.t.u8;
    const c = s * B.STRIDE;
    const n = u8[c + B.Z_HIST_LEN];
    let out = '';
    for (let i = 0; i < n; i++) out += String.fromCharCode(u8[c + B.Z_HIST + i]);
    return out;
  }

  /** conn_state for a TCP flow (§1.3). */
  tcpConnState(s: number): string {
    const u8 = this.t.u8;
    const c = s * B.STRIDE;
    const os = u8[c + B.Z_STATE];
    const rs = u8[c + B.Z_STATE + 1];
    const oInactive = os === ZState.INACTIVE || os === ZState.PARTIAL;
    const rInactive = rs === ZState.INACTIVE || rs === ZState.PARTIAL;
    if (rs === ZState.RESET) {
      const d = s * D.STRIDE + D.Z_PAYLOAD;
      if (os === ZState.SYN_SENT || os === ZState.SYN_ACK_SENT || (os === ZState.RESET && this.t.f64[d] === 0 && this.t.f64[d + 1] === 0)) return 'REJ';
      return oInactive ? 'RSTRH' : 'RSTR';
    }
    if (os === ZState.RESET) {
      if (rInactive) return /^\^?S[^HAFGIQ]*R.*$/.test(this.history(s)) ? 'RSTOS0' : 'OTH';
      return 'RSTO';
    }
    if (rs === ZState.CLOSED && os === ZState.CLOSED) return 'SF';
    if (os === ZState.CLOSED) return rInactive ? 'SH' : 'S2';
    if (rs === ZState.CLOSED) return oInactive ? 'SHR' : 'S3';
    if (os === ZState.SYN_SENT && rs === ZState.INACTIVE) return 'S0';
    if (os === ZState.ESTABLISHED && rs === ZState.ESTABLISHED) return 'S1';
    return 'OTH';
  }

  /** conn_state for a UDP flow (§1.3). */
  udpConnState(s: number): string {
    const c = s * B.STRIDE + B.Z_STATE;
    const o = this.t.u8[c] === UDP_ACTIVE;
    const r = this.t.u8[c + 1] === UDP_ACTIVE;
    if (o) return r ? 'SF' : 'S0';
    return r ? 'SHR' : 'OTH';
  }
}

/** Every conn_state value, in the order the report lists them. */
export const CONN_STATES = ['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH'] as const;

/**
 * Zeek's originator for a flow whose first packet is given (§2.1): the sender, unless the packet is
 * not a plain SYN and comes from a likely server port (then the roles flip and history gets `^`).
 */
export function zeekFlipsAtStart(isTcp: boolean, isUdp: boolean, flags: number, srcPort: number, dstPort: number, likely: Uint8Array): boolean {
  const srcLikely = likely[srcPort] === 1;
  const dstLikely = likely[dstPort] === 1;
  if (isUdp) return srcLikely && !dstLikely;
  if (!isTcp) return false;
  if ((flags & SYN) !== 0 && (flags & ACK) === 0) return false;
  if (!srcLikely) return false;
  if (dstLikely) return (flags & SYN) === 0 && srcPort < dstPort;
  return true;
}
