/**
 * Append-only tables of fixed-width numeric rows in one growable typed array, for detectors that
 * keep a few numbers per flow: 20-30 bytes a row instead of an object (or a Map entry) per row,
 * and a partial result that crosses threads as one typed array.
 */

/** Rows of `width` float64 numbers (exact integers up to 2^53, and times in seconds). */
export class F64Rows {
  data: Float64Array;
  rows = 0;

  constructor(
    readonly width: number,
    initialRows = 256,
  ) {
    this.data = new Float64Array(width * initialRows);
  }

  /** Appends a row and returns the offset of its first number in `data`; the caller fills it. */
  append(): number {
    const at = this.rows * this.width;
    if (at + this.width > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.rows++;
    return at;
  }

  /** The used part, copied (for a partial result that leaves the shard). */
  used(): Float64Array {
    return this.data.slice(0, this.rows * this.width);
  }
}

/**
 * Groups the rows of `data` (width `width`) by the small non-negative integer in column `keyCol`
 * (a counting sort): rows of key k are `order[start[k]] .. order[start[k + 1] - 1]`, as row numbers,
 * in their original order.
 */
export function groupRows(data: Float64Array, width: number, keyCol: number, keys: number): { start: Int32Array; order: Int32Array } {
  const rows = Math.floor(data.length / width);
  const start = new Int32Array(keys + 1);
  for (let r = 0; r < rows; r++) start[data[r * width + keyCol]! + 1]!++;
  for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!;
  const next = start.slice(0, keys);
  const order = new Int32Array(rows);
  for (let r = 0; r < rows; r++) order[next[data[r * width + keyCol]!]!++] = r;
  return { start, order };
}
