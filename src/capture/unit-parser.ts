import type { CaptureError } from './errors.js';

/**
 * A capture format seen as a sequence of self-delimiting units (a file header, a record, a
 * block). The stitching driver (`stitcher.ts`) uses `unitLength` to know how many bytes a unit
 * needs, and `parse` to consume whole units in place. Only a unit that straddles two chunks is
 * ever copied.
 */
export interface UnitParser {
  /**
   * Length of the unit that starts at `b[off]`, given that `avail` bytes are present.
   * > 0: the unit's total length. < 0: at least `-n` bytes are needed to tell.
   * 0: the unit header is corrupt; `error` is set and reading must stop.
   */
  unitLength(b: Uint8Array, off: number, avail: number): number;

  /**
   * Consumes the whole units in `b[pos..end)`, emitting records, and returns the offset of the
   * first unit that is not complete (or where an error stopped the parser).
   */
  parse(b: Uint8Array, pos: number, end: number): number;

  /** Set when the parser stopped at a corrupt unit. */
  error: CaptureError | null;

  /** Bytes consumed so far: the file offset of the next unit. */
  readonly consumed: number;

  /** Frames emitted so far. */
  readonly frames: number;

  /** A short description of the format, e.g. "pcap-us-le" or "pcapng-be". */
  formatName(): string;
}

/** Largest unit we accept, whatever a header claims: bounds the only buffer that grows. */
export const MAX_UNIT_BYTES = 16 * 1024 * 1024;

/** libpcap's and Wireshark's largest standard packet. */
export const MAX_STANDARD_PACKET = 262144;
