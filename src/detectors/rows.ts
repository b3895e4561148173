/**
 * Append-only tables of fixed-width numeric rows in one typed array, for detectors that keep a
 * few numbers per flow: 12-40 bytes a row instead of an object (or a Map entry) per row, and a
 * partial result that crosses threads as one typed array.
 *
 * A table doubles as it grows; once it holds many rows it moves into a reservation instead (see
 * flows/buffers.ts), so a large capture's rows are not copied again.
 */
import { grownBuffer } from '../flows/buffers.js';

type RowArray = Float64Array | Uint32Array;

/** Rows a table holds, growing by doubling, before it moves into its reservation. */
const RESERVE_AFTER_ROWS = 16384;

abstract class Rows<A extends RowArray> {
  data: A;
  rows = 0;

  constructor(
    readonly width: number,
    /** Rows to move into once the table holds RESERVE_AFTER_ROWS (0 after it, or for none). */
    private reserveRows: number,
  ) {
    this.data = this.view(new ArrayBuffer(width * 256 * this.bytesPerNumber()));
  }

  /** Appends a row and returns the offset of its first number in `data`; the caller fills it. */
  append(): number {
    const at = this.rows * this.width;
    if (at + this.width > this.data.length) {
      // Only a table that already holds many rows moves into the reservation.
      const reserve = this.rows >= RESERVE_AFTER_ROWS ? this.reserveRows * this.width * this.bytesPerNumber() : 0;
      if (reserve > 0) this.reserveRows = 0;
      this.data = this.view(grownBuffer(this.data, this.data.byteLength * 2, reserve));
    }
    this.rows++;
    return at;
  }

  /**
   * The used part, without copying: a view of the table's own buffer, which a shard hands over
   * (transfers) with its partial result once it is done appending.
   */
  used(): A {
    return this.data.subarray(0, this.rows * this.width) as A;
  }

  protected abstract bytesPerNumber(): number;
  protected abstract view(buf: ArrayBuffer): A;
}

/** Rows of `width` float64 numbers (exact integers up to 2^53, and times in seconds). */
export class F64Rows extends Rows<Float64Array> {
  constructor(width: number, reserveRows = 0) {
    super(width, reserveRows);
  }
  protected bytesPerNumber(): number {
    return 8;
  }
  protected view(buf: ArrayBuffer): Float64Array {
    return new Float64Array(buf);
  }
}

/** Rows of `width` unsigned 32-bit integers (addresses, seconds, nanoseconds, frame numbers, small counts). */
export class U32Rows extends Rows<Uint32Array> {
  constructor(width: number, reserveRows = 0) {
    super(width, reserveRows);
  }
  protected bytesPerNumber(): number {
    return 4;
  }
  protected view(buf: ArrayBuffer): Uint32Array {
    return new Uint32Array(buf);
  }
}

/**
 * Groups the rows of `data` (width `width`) by the small non-negative integer in column `keyCol`
 * (a counting sort), or by `keyOf` of it when given (rows whose key maps to -1 are left out): rows
 * of key k are `order[start[k]] .. order[start[k + 1] - 1]`, as row numbers, in their original
 * order.
 */
export function groupRows(data: RowArray, width: number, keyCol: number, keys: number, keyOf?: Int32Array): { start: Int32Array; order: Int32Array } {
  const rows = Math.floor(data.length / width);
  const keyAt = keyOf ? (r: number): number => keyOf[data[r * width + keyCol]!]! : (r: number): number => data[r * width + keyCol]!;
  const start = new Int32Array(keys + 1);
  let kept = 0;
  for (let r = 0; r < rows; r++) {
    const k = keyAt(r);
    if (k < 0) continue;
    start[k + 1]!++;
    kept++;
  }
  for (let k = 0; k < keys; k++) start[k + 1]! += start[k]!;
  const next = start.slice(0, keys);
  const order = new Int32Array(kept);
  for (let r = 0; r < rows; r++) {
    const k = keyAt(r);
    if (k >= 0) order[next[k]!++] = r;
  }
  return { start, order };
}
