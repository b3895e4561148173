/**
 * Exact conversion of a pcapng 64-bit timestamp (a count of interface time units) to seconds
 * and nanoseconds. Nanosecond epoch times exceed 2^53, so a plain double would lose the last
 * digits; the division is done in 16-bit limbs instead, with no allocation.
 */

/** How an interface counts time: `units` per second is 10^exp10 or 2^exp2. */
export interface TsResolution {
  /** Divisor that turns ticks into seconds when it is a power of ten (exp10 >= 0), else 0. */
  pow10: number;
  /** Decimal exponent (ticks are 10^-exp10 s), or -1 when the resolution is a power of two. */
  exp10: number;
  /** Binary exponent (ticks are 2^-exp2 s), or -1 when the resolution is a power of ten. */
  exp2: number;
}

export const MICROSECONDS: TsResolution = { pow10: 1e6, exp10: 6, exp2: -1 };

/**
 * Decodes the if_tsresol option byte: most significant bit clear, a negative power of 10;
 * set, a negative power of 2. Returns null when the value cannot be represented sensibly.
 */
export function tsResolutionFromOption(byte: number): TsResolution | null {
  if ((byte & 0x80) === 0) {
    if (byte > 18) return null;
    return { pow10: 10 ** byte, exp10: byte, exp2: -1 };
  }
  const exp2 = byte & 0x7f;
  if (exp2 > 63) return null;
  return { pow10: 0, exp10: -1, exp2 };
}

/** Output of `ticksToTime`; one module-level instance so conversion allocates nothing. */
export const tsOut = { sec: 0, ns: 0 };

const TWO32 = 4294967296;

/** Output of `divmod64`: a 64-bit quotient as two 32-bit halves, and the remainder. */
const div = { qHi: 0, qLo: 0, r: 0 };

/**
 * Exact long division of the 64-bit value `hi * 2^32 + lo` by `d` (up to 10^10), in limbs of 32,
 * 16 and 16 bits so that every intermediate stays below 2^53.
 */
function divmod64(hi: number, lo: number, d: number): void {
  const qHi = Math.floor(hi / d);
  let r = hi - qHi * d;
  const x = r * 65536 + (lo >>> 16);
  const q1 = Math.floor(x / d);
  r = x - q1 * d;
  const y = r * 65536 + (lo & 0xffff);
  const q2 = Math.floor(y / d);
  div.qHi = qHi;
  div.qLo = q1 * 65536 + q2;
  div.r = y - q2 * d;
}

/**
 * Converts `hi * 2^32 + lo` ticks at `res` into `tsOut.sec` and `tsOut.ns`: exactly for decimal
 * resolutions (finer ones are cut to whole nanoseconds) and for binary ones up to 2^-23, and to
 * within a nanosecond beyond.
 */
export function ticksToTime(hi: number, lo: number, res: TsResolution): void {
  if (res.exp10 >= 0) {
    if (res.exp10 <= 9) {
      divmod64(hi, lo, res.pow10);
      tsOut.sec = div.qHi * TWO32 + div.qLo;
      tsOut.ns = div.r * 10 ** (9 - res.exp10);
      return;
    }
    // Finer than a nanosecond: first to whole nanoseconds (a 64-bit count), then to seconds.
    divmod64(hi, lo, 10 ** (res.exp10 - 9));
    divmod64(div.qHi, div.qLo, 1e9);
    tsOut.sec = div.qHi * TWO32 + div.qLo;
    tsOut.ns = div.r;
    return;
  }
  const e = res.exp2;
  let sec: number;
  let frac: number; // ticks below one second, as a fraction numerator of 2^e
  if (e === 0) {
    sec = hi * TWO32 + lo;
    frac = 0;
  } else if (e <= 32) {
    const unit = 2 ** e;
    sec = hi * 2 ** (32 - e) + Math.floor(lo / unit);
    frac = lo % unit;
  } else {
    const sh = e - 32;
    sec = Math.floor(hi / 2 ** sh);
    frac = (hi - sec * 2 ** sh) * TWO32 + lo;
  }
  tsOut.sec = sec;
  tsOut.ns = e <= 23 ? Math.floor((frac * 1e9) / 2 ** e) : Math.min(999999999, Math.floor((frac / 2 ** e) * 1e9));
}
