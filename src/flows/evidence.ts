/**
 * Handshake evidence: each SYN, every SYN+ACK, every RST, the final ACK and each ICMP error of a
 * flow, with what an engineer needs to find it in Wireshark and to fingerprint it (frame number,
 * time, source MAC, sequence numbers, window, IP id, TTL, options present). Stored in a shared
 * pool of fixed-size events (E.STRIDE uint32 words each), linked per flow, so ordinary flows
 * cost a few events and no objects. Like the flow table, the pool starts small and at its first
 * growth moves into a large reservation (committed by the kernel page by page as events are first
 * used); it grows by copying again only beyond the reservation.
 */
import { grownBuffer } from './buffers.js';

export const EvKind = {
  SYN: 1,
  SYNACK: 2,
  RST: 3,
  /** The originator's ACK that completes the handshake. */
  FINAL_ACK: 4,
  ICMP_ERROR: 5,
} as const;

/** FlowTable EV_FLAGS bits: which handshake events the flow has (saves walking the list). */
export const EvFlag = {
  HAS_SYNACK: 1,
  HAS_FINAL_ACK: 2,
  HAS_RST: 4,
} as const;

/** Most events kept per flow; beyond, they are counted as dropped. */
export const MAX_EVENTS_PER_FLOW = 24;

/** Word offsets inside an event. */
export const enum E {
  /** The kind (bits 0-3), the packet's canonical direction (bit 4; 0 = A→B), the source MAC's high 16 bits (bits 16-31): see evKind, evDir, evMac. */
  HEAD = 0,
  FRAME = 1,
  TS_SEC = 2,
  TS_NS = 3,
  /** Low 32 bits of the source MAC. */
  MAC_LO = 4,
  /** IP source of the packet (differs from the flow's endpoints for an ICMP error from a router). */
  IP_SRC = 5,
  /** TCP sequence number; for an ICMP error, the quoted TCP sequence number. */
  SEQ = 6,
  ACK = 7,
  /** TCP flags | window << 16; for an ICMP error: type | code << 8. */
  FLAGS_WIN = 8,
  /** IP id | TTL << 16 | TCP options present << 24. */
  IPID_TTL = 9,
  /** Next event of the flow + 1 (0 = last). */
  NEXT = 10,
  STRIDE = 11,
}

/** The HEAD word of an event. */
export function evHead(kind: number, dir: number, macHi16: number): number {
  return (kind | (dir << 4) | (macHi16 << 16)) >>> 0;
}

/** The kind (EvKind) of the event at word `eb`. */
export function evKind(w: Uint32Array, eb: number): number {
  return w[eb + E.HEAD] & 0xf;
}

/** The canonical direction of the event at word `eb`. */
export function evDir(w: Uint32Array, eb: number): number {
  return (w[eb + E.HEAD] >>> 4) & 1;
}

/** The source MAC (48 bits) of the event at word `eb`. */
export function evMac(w: Uint32Array, eb: number): number {
  return (w[eb + E.HEAD] >>> 16) * 0x100000000 + w[eb + E.MAC_LO];
}

export class EvidencePool {
  capacity = 0;
  w: Uint32Array = new Uint32Array(0);
  private top = 0;
  private free: Int32Array = new Int32Array(0);
  private freeCount = 0;

  /** Events to move into at the first growth (0 after it). */
  private reserveEvents: number;

  constructor(initialEvents = 1024, reserveEvents = 0) {
    this.reserveEvents = reserveEvents;
    const events = Math.max(16, initialEvents);
    this.adopt(new Uint32Array(events * E.STRIDE), events);
  }

  alloc(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount];
    if (this.top === this.capacity) this.grow();
    return this.top++;
  }

  release(e: number): void {
    this.free[this.freeCount++] = e;
  }

  /** Events in use. */
  get inUse(): number {
    return this.top - this.freeCount;
  }

  /** The buffers behind the pool (to release them; see release.ts). */
  buffers(): ArrayBuffer[] {
    return [this.w.buffer as ArrayBuffer, this.free.buffer as ArrayBuffer];
  }

  byteSize(): number {
    return this.w.byteLength + this.free.byteLength;
  }

  mac(e: number): number {
    return evMac(this.w, e * E.STRIDE);
  }

  /** Moves the events into twice the room, or at the first growth the reservation. */
  private grow(): void {
    const buf = grownBuffer(this.w, this.capacity * 2 * E.STRIDE * 4, this.reserveEvents * E.STRIDE * 4);
    this.reserveEvents = 0;
    this.adopt(new Uint32Array(buf), buf.byteLength / (E.STRIDE * 4));
  }

  private adopt(w: Uint32Array, c: number): void {
    this.w = w;
    const free = new Int32Array(c);
    free.set(this.free.subarray(0, this.freeCount));
    this.free = free;
    this.capacity = c;
  }
}
