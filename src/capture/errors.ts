/**
 * What went wrong reading a capture file, with where: the file, the byte offset of the damaged
 * header or record, and the 1-based frame number the damaged record would have had.
 * Reading stops at the damage; every frame before it has already been analyzed.
 */
export type CaptureErrorKind =
  | 'io' // the file could not be opened or read
  | 'empty' // zero bytes
  | 'not_a_capture' // magic bytes of no known format
  | 'unsupported_version'
  | 'corrupt_header' // file or section header is impossible
  | 'corrupt_record' // record or block header is impossible
  | 'truncated'; // the file ends inside a header or record

export class CaptureError extends Error {
  constructor(
    readonly kind: CaptureErrorKind,
    readonly file: string,
    /** Byte offset in the (decompressed) capture where the problem starts. */
    readonly offset: number,
    /** 1-based number of the frame that could not be read (the next frame), or 0 for the file header. */
    readonly frame: number,
    /** The problem, without the location. */
    readonly problem: string,
  ) {
    super(`${file}: ${frame > 0 ? `frame ${frame}, ` : ''}byte offset ${offset}: ${problem}`);
    this.name = 'CaptureError';
  }

  toJSON(): { kind: CaptureErrorKind; message: string; offset: number; frame: number } {
    return { kind: this.kind, message: this.message, offset: this.offset, frame: this.frame };
  }
}
