/**
 * One captured record as the reader hands it out: a window into the reader's current chunk,
 * never a copy. The reader owns a single instance and overwrites it for every record, so a
 * consumer must use (or copy out) what it needs before returning.
 */
export class CaptureRecord {
  /** The chunk that holds the record's bytes; valid only during the callback. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the first link-layer byte in `buf`. */
  off = 0;
  /** Bytes captured (present in `buf`). */
  capLen = 0;
  /** Bytes the frame had on the wire (>= capLen unless the file is odd). */
  wireLen = 0;
  /** Link type of the interface the frame was captured on. */
  linkType = 0;
  /** pcapng interface index (0 for classic pcap). */
  ifIndex = 0;
  /** Seconds since the epoch. */
  tsSec = 0;
  /** Nanoseconds within the second, 0..999999999: full precision is kept. */
  tsNs = 0;
  /** 0 for records that carry no time of their own (pcapng simple packets, custom blocks): tsSec/tsNs repeat the previous record's. */
  hasTimestamp = 1;
  /** 1-based frame number, as Wireshark numbers frames. */
  frameNo = 0;
  /** Byte offset of the record (its record or block header) in the capture. */
  fileOffset = 0;
}

/** Receives the records of one capture, in file order. */
export interface RecordHandler {
  onRecord(rec: CaptureRecord): void;
  /**
   * The object the reader fills for every record, if the handler has one (the analysis passes its
   * Frame, a CaptureRecord, so the decoder finds the record's fields in place instead of copying
   * them for every frame). Without it the reader uses its own.
   */
  readonly record?: CaptureRecord;
}
