import type { UnitParser } from './unit-parser.js';

/**
 * Feeds chunks of a capture to a unit parser. Whole units are parsed in place inside the chunk;
 * the one unit that straddles the end of a chunk is copied into `carry` and completed from the
 * start of the next chunk. That copy is the only one the reader makes.
 */
export class Stitcher {
  private carry: Uint8Array = new Uint8Array(0);
  private carryLen = 0;

  constructor(private readonly parser: UnitParser) {}

  /** Bytes received but not yet parsed (the start of an incomplete unit). */
  get pendingBytes(): number {
    return this.carryLen;
  }

  /** Parses what the chunk completes. Returns false once the parser has stopped on an error. */
  push(chunk: Uint8Array): boolean {
    const p = this.parser;
    const end = chunk.length;
    let pos = 0;
    while (this.carryLen > 0) {
      const need = p.unitLength(this.carry, 0, this.carryLen);
      if (need === 0) return false;
      const want = need > 0 ? need : -need;
      if (this.carryLen < want) {
        const take = Math.min(want - this.carryLen, end - pos);
        this.reserve(want);
        this.carry.set(chunk.subarray(pos, pos + take), this.carryLen);
        this.carryLen += take;
        pos += take;
        if (this.carryLen < want) return true; // the chunk is used up; wait for the next one
        continue; // with more header bytes the unit length may now be known
      }
      // The carry holds exactly one complete unit.
      p.parse(this.carry, 0, this.carryLen);
      this.carryLen = 0;
      if (p.error) return false;
    }
    const stop = p.parse(chunk, pos, end);
    if (p.error) return false;
    const left = end - stop;
    if (left > 0) {
      this.reserve(left);
      this.carry.set(chunk.subarray(stop, end), 0);
      this.carryLen = left;
    }
    return true;
  }

  /**
   * At the end of input: if a unit was left incomplete, how many bytes it has and how many it
   * needs (`needKnown` false when even its header is incomplete, so `need` is a lower bound).
   */
  leftover(): { have: number; need: number; needKnown: boolean } | null {
    if (this.carryLen === 0) return null;
    const need = this.parser.unitLength(this.carry, 0, this.carryLen);
    return { have: this.carryLen, need: Math.abs(need), needKnown: need > 0 };
  }

  private reserve(bytes: number): void {
    if (this.carry.length >= bytes) return;
    const grown = new Uint8Array(Math.max(bytes, this.carry.length * 2, 65536));
    grown.set(this.carry.subarray(0, this.carryLen), 0);
    this.carry = grown;
  }
}
