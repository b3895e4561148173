/**
 * The flows of one shard: one fixed-size 400-byte slot per flow in one ArrayBuffer, seen through
 * three typed arrays (u32, f64, u8), each field at a constant offset inside the slot. A packet
 * touches a few adjacent cache lines of its flow, which the hardware prefetches together, instead
 * of dozens of columns or three distant arrays. A separate open-addressing
 * index (linear probing, backward-shift deletion) maps a key to its slot. Each index entry holds
 * the slot and the key's hash side by side, so that a probe past another key compares hashes in
 * the index and never touches that key's slot: with flows far beyond the caches, each slot touched
 * is a cache miss, and the profile showed a third of the lookup time in such probes.
 *
 * A table starts small. When it first fills, it moves into room for up to RESERVE_SLOTS flows
 * (see buffers.ts); slots are handed out from the bottom (freed ones first), so resident memory
 * follows the most flows held at once. Only a --max-flows beyond the reservation, or a system
 * that refuses it, grows by half when full. The tracker evicts beyond the limit.
 *
 * Directions: "canonical" direction 0 is A→B where A is the lower (ip, port) endpoint of the key.
 * Conntrack and Zeek keep their own originator; CT_ORIG_IS_A and Z_ORIG_IS_A say which end it is.
 * Fields with a count of 2 are per direction: conntrack direction for TD_*, Zeek role for Z_*,
 * canonical direction for the counters.
 */

import { grownBuffer } from './buffers.js';

export const MAC_SET_SIZE = 4;
export const HISTORY_MAX = 32;

// Field offsets are const enums: tsc inlines them as numbers, so a field access is an indexed load
// with a literal offset (an object of offsets built at run time ended up in dictionary mode).
// The three views share one 400-byte slot; each field's place is a byte offset (enum value × the
// element size). Ordered by use: the lookup key, the times and conntrack's state in the first
// cache line, window tracking and Zeek's state in the second, counters in the third, MACs in the
// fourth, the rest after; a packet of an established flow touches the first five lines, which sit
// together and are fetched together.

/** Unsigned 32-bit fields (offsets in words). */
export const enum U {
  VLAN = 4,
  IP_A = 5,
  IP_B = 6,
  /** portA | portB << 16 */
  PORTS = 7,
  HASH = 8,
  CT_LAST_SEQ = 9,
  CT_LAST_ACK = 10,
  CT_LAST_END = 11,
  CT_LAST_WIN = 12,
  /** Window tracking per conntrack direction (2 words each). */
  TD_END = 16,
  TD_MAXEND = 18,
  TD_MAXWIN = 20,
  TD_MAXACK = 22,
  Z_SEEN = 28,
  LAST_FRAME = 29,
  LAST_SEC = 30,
  LAST_NS = 31,
  /** Up to 4 distinct TTLs per canonical direction, one per byte (2 words). */
  TTLS = 64,
  Z_LAST_SEQ = 66,
  /** Packets per conntrack verdict (4 words). */
  VERDICTS = 68,
  /** Logarithmic letters per role: [role*2 + 0] retransmissions (T), [role*2 + 1] zero windows (W). */
  Z_LOG = 72,
  /** Handshake evidence list: first and last event + 1 (0 = none). */
  EV_HEAD = 76,
  EV_TAIL = 77,
  Z_LAST_SYN = 78,
  Z_LAST_FIN = 80,
  Z_LAST_RST = 82,
  FIRST_FRAME = 86,
  FIRST_SEC = 87,
  FIRST_NS = 88,
  EV_DROPPED = 89,
  ICMP_ERRORS = 90,
  /** Conntrack entries this flow has had (a REJ'd SYN deletes one; a later packet may create another). */
  CT_ENTRIES = 91,
  /** Elements per slot. */
  STRIDE = 100,
}

/** Float64 fields (offsets in doubles). */
export const enum D {
  /** Last packet time in seconds. */
  LAST_TIME = 0,
  CT_EXPIRES = 1,
  /** Per canonical direction (2 each). */
  PKTS = 16,
  IP_BYTES = 18,
  PAYLOAD_BYTES = 20,
  /** Payload bytes per Zeek role. */
  Z_PAYLOAD = 22,
  /** Source MACs seen per canonical direction: [dir*MAC_SET_SIZE + i] (2 × 4). */
  MACS = 24,
  CT_CREATED = 42,
  /** Elements per slot. */
  STRIDE = 50,
}

/** Byte fields (offsets in bytes). */
export const enum B {
  PROTO = 52,
  USED = 53,
  CT_ORIG_IS_A = 54,
  CT_STATE = 55,
  CT_STATUS = 56,
  CT_LAST_INDEX = 57,
  CT_LAST_DIR = 58,
  CT_LAST_FLAGS = 59,
  CT_LAST_WSCALE = 60,
  CT_RETRANS = 61,
  /** Per conntrack direction. */
  TD_SCALE = 62,
  TD_FLAGS = 96,
  Z_ORIG_IS_A = 98,
  /** Per Zeek role. */
  Z_STATE = 99,
  Z_HAS = 101,
  Z_HIST_LEN = 103,
  EV_COUNT = 104,
  EV_FLAGS = 105,
  MAC_COUNT = 106,
  TTL_COUNT = 108,
  MAC_OVERFLOW = 110,
  /** History letters (HISTORY_MAX). */
  Z_HIST = 368,
  /** Elements per slot. */
  STRIDE = 400,
}

/** CT_STATUS bits. */
export const CtStatus = {
  /** A conntrack entry exists (it may still have expired: compare CT_EXPIRES). */
  ALIVE: 1,
  SEEN_REPLY: 2,
  ASSURED: 4,
} as const;

/** Bytes per flow slot. */
export const SLOT_BYTES = 400;

/** Slots reserved (virtual memory) at the first growth: 2^21 × 400 B = 800 MiB of address space, committed as used. */
export const RESERVE_SLOTS = 1 << 21;


export class FlowTable {
  capacity = 0;
  live = 0;
  u32: Uint32Array = new Uint32Array(0);
  f64: Float64Array = new Float64Array(0);
  u8: Uint8Array = new Uint8Array(0);

  /** Slots handed out so far (a freed slot goes to the free list). */
  private highWater = 0;
  private freeList: Int32Array = new Int32Array(0);
  private freeCount = 0;
  // Index: entry i is [2i] slot + 1 (0 = empty) and [2i + 1] the key's hash. A power-of-two
  // number of entries, at least twice the live flows.
  private index: Uint32Array = new Uint32Array(0);
  private indexMask = 0;

  /** Slots to move into at the first growth (0 after it). */
  private reserveSlots: number;

  constructor(
    initialCapacity: number,
    /** Largest number of flows held at once. */
    readonly maxCapacity: number,
    /** Slots reserved when the initial capacity is first exceeded. */
    reserveSlots = RESERVE_SLOTS,
  ) {
    this.reserveSlots = Math.min(reserveSlots, maxCapacity);
    const slots = Math.max(16, Math.min(initialCapacity, maxCapacity));
    this.adopt(new ArrayBuffer(slots * SLOT_BYTES), slots);
    this.rehash(16);
  }

  /** Slot of the flow with this canonical key, or -1. */
  find(hash: number, vlan: number, proto: number, ipA: number, ipB: number, ports: number): number {
    const index = this.index;
    const mask = this.indexMask;
    const u32 = this.u32;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = index[2 * i];
      if (e === 0) return -1;
      if (index[2 * i + 1] !== hash) continue;
      const s = e - 1;
      const b = s * U.STRIDE;
      if (u32[b + U.IP_A] === ipA && u32[b + U.IP_B] === ipB && u32[b + U.PORTS] === ports && u32[b + U.VLAN] === vlan && this.u8[s * B.STRIDE + B.PROTO] === proto) {
        return s;
      }
    }
  }

  /** True when a new flow needs room that only an eviction can make. */
  isFull(): boolean {
    return this.live >= this.maxCapacity;
  }

  /** Allocates a zeroed slot for a new flow (the caller made sure it is not full) and indexes it. */
  insert(hash: number, vlan: number, proto: number, ipA: number, ipB: number, ports: number): number {
    if (this.freeCount === 0 && this.highWater === this.capacity) this.grow();
    const s = this.freeCount > 0 ? this.freeList[--this.freeCount] : this.highWater++;
    const b = s * U.STRIDE;
    const u32 = this.u32;
    u32[b + U.HASH] = hash;
    u32[b + U.VLAN] = vlan;
    u32[b + U.IP_A] = ipA;
    u32[b + U.IP_B] = ipB;
    u32[b + U.PORTS] = ports;
    this.u8[s * B.STRIDE + B.PROTO] = proto;
    this.u8[s * B.STRIDE + B.USED] = 1;
    this.indexEntry(s, hash);
    // The index keeps a load factor of at most 1/2.
    if (++this.live * 2 > this.indexMask + 1) this.rehash((this.indexMask + 1) * 2);
    return s;
  }

  /** Removes a flow: unindexes it, zeroes its slot and returns it to the free list. */
  remove(s: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let i = this.u32[s * U.STRIDE + U.HASH] & mask;
    while (index[2 * i] !== s + 1) i = (i + 1) & mask;
    // Backward-shift deletion keeps every probe sequence unbroken without tombstones.
    let hole = i;
    for (let j = (i + 1) & mask; index[2 * j] !== 0; j = (j + 1) & mask) {
      const home = index[2 * j + 1] & mask;
      // Entry j may move into the hole unless its home lies in the cyclic range (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        index[2 * hole] = index[2 * j];
        index[2 * hole + 1] = index[2 * j + 1];
        hole = j;
      }
    }
    index[2 * hole] = 0;
    index[2 * hole + 1] = 0;
    this.u8.fill(0, s * SLOT_BYTES, (s + 1) * SLOT_BYTES);
    this.freeList[this.freeCount++] = s;
    this.live--;
  }

  /** Slots handed out so far: every live flow's slot is below this. */
  get slotsHandedOut(): number {
    return this.highWater;
  }

  isUsed(s: number): boolean {
    return this.u8[s * B.STRIDE + B.USED] === 1;
  }

  /** Live slots, in storage order (do not let results depend on it). */
  liveSlots(): Int32Array {
    const out = new Int32Array(this.live);
    let n = 0;
    for (let s = 0; s < this.highWater; s++) if (this.u8[s * B.STRIDE + B.USED] === 1) out[n++] = s;
    // Writes past the end of a typed array are dropped: a count out of step would lose flows silently.
    if (n !== out.length) throw new Error(`flow table: ${n} slots in use, ${out.length} counted live`);
    return out;
  }

  /** The buffers behind the slots, the free list and the index (to release them; see release.ts). */
  buffers(): ArrayBuffer[] {
    return [this.u8.buffer as ArrayBuffer, this.freeList.buffer as ArrayBuffer, this.index.buffer as ArrayBuffer];
  }

  /** Bytes held by the slots and the index, for memory reports. */
  byteSize(): number {
    return this.u8.byteLength + this.index.byteLength + this.freeList.byteLength;
  }

  /** Moves the slots into more room: half as much again, or at the first growth the reservation. */
  private grow(): void {
    const half = Math.min(this.maxCapacity, Math.max(this.capacity + 16, Math.ceil(this.capacity * 1.5)));
    const buf = grownBuffer(this.u8, half * SLOT_BYTES, this.reserveSlots * SLOT_BYTES);
    this.reserveSlots = 0;
    this.adopt(buf, buf.byteLength / SLOT_BYTES);
  }

  /** Takes `buf` (holding the current slots, if any) as the storage of `c` slots. */
  private adopt(buf: ArrayBuffer, c: number): void {
    this.u32 = new Uint32Array(buf);
    this.f64 = new Float64Array(buf);
    this.u8 = new Uint8Array(buf);
    const free = new Int32Array(c);
    free.set(this.freeList.subarray(0, this.freeCount));
    this.freeList = free;
    this.capacity = c;
  }

  /** Puts slot `s` with its key's hash into the index (which has room). */
  private indexEntry(s: number, hash: number): void {
    const index = this.index;
    const mask = this.indexMask;
    let i = hash & mask;
    while (index[2 * i] !== 0) i = (i + 1) & mask;
    index[2 * i] = s + 1;
    index[2 * i + 1] = hash;
  }

  /** Rebuilds the index at `size` entries (a power of two). */
  private rehash(size: number): void {
    const u8 = this.u8;
    const u32 = this.u32;
    this.index = new Uint32Array(2 * size);
    this.indexMask = size - 1;
    for (let s = 0; s < this.highWater; s++) {
      if (u8[s * B.STRIDE + B.USED] === 1) this.indexEntry(s, u32[s * U.STRIDE + U.HASH]);
    }
  }
}
