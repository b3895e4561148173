/**
 * MAC address → dense index (0, 1, 2...), for link-scope detectors that look up two MACs per
 * frame. Open addressing on a Float64Array of keys (a MAC is an exact 48-bit number): no boxed
 * keys, no allocation per lookup (MACs come in as two 24-bit halves); the caller keeps its
 * per-MAC fields in typed arrays by index.
 */
export class MacIndex {
  size = 0;
  private keys = new Float64Array(1024).fill(-1);
  private slots = new Int32Array(1024);
  private mask = 1023;

  /** The index of the MAC whose high and low 24 bits are `hi` and `lo` (see macHi/macLo), or -1. */
  find(hi: number, lo: number): number {
    const mac = hi * 0x1000000 + lo;
    const keys = this.keys;
    for (let i = hashMac(hi, lo) & this.mask; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === mac) return this.slots[i]!;
      if (k === -1) return -1;
    }
  }

  /** The index of the MAC (hi, lo), adding it if new (indices are handed out in order: 0, 1, 2...). */
  add(hi: number, lo: number): number {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const mac = hi * 0x1000000 + lo;
    const keys = this.keys;
    let i = hashMac(hi, lo) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === mac) return this.slots[i]!;
      if (k === -1) break;
    }
    keys[i] = mac;
    this.slots[i] = this.size;
    return this.size++;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    const n = oldKeys.length * 2;
    this.keys = new Float64Array(n).fill(-1);
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j]!;
      if (k === -1) continue;
      let i = hashMac(macHi(k), macLo(k)) & this.mask;
      while (this.keys[i] !== -1) i = (i + 1) & this.mask;
      this.keys[i] = k;
      this.slots[i] = oldSlots[j]!;
    }
  }
}

/**
 * The high 24 bits of a 48-bit MAC. A MAC is passed to MacIndex as two 24-bit halves, small
 * integers: V8 would box the 48-bit number into a fresh heap object for every call it does not
 * inline, on a path taken for every frame.
 */
export function macHi(mac: number): number {
  return Math.floor(mac / 0x1000000);
}

/** The low 24 bits of a 48-bit MAC. */
export function macLo(mac: number): number {
  return mac % 0x1000000;
}

function hashMac(hi: number, lo: number): number {
  let h = Math.imul(lo ^ (hi << 7), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca6b) >>> 0;
}

/** A growable Float64Array column indexed like a MacIndex. */
export class F64Column {
  data: Float64Array;
  constructor(
    initial: number,
    private readonly fillValue = 0,
  ) {
    this.data = new Float64Array(initial).fill(fillValue);
  }
  /** Makes index i valid. */
  ensure(i: number): void {
    if (i < this.data.length) return;
    let n = this.data.length * 2;
    while (n <= i) n *= 2;
    const grown = new Float64Array(n).fill(this.fillValue);
    grown.set(this.data);
    this.data = grown;
  }
}
