/**
 * How detectors plug in. A detector declares the finding ids it can produce, its scope, its
 * options (with defaults), how to create its per-capture state, and how to reduce partial
 * results into findings:
 * - `link` scope: runs on the reader thread and sees every decoded Frame (onFrame);
 * - `flow` scope: runs inside each flow shard as a FlowObserver and sees packet records with
 *   their flow; each shard returns a partial; `reduce` merges the partials exactly.
 * Only option values cross threads; detectors are created from the registry on each side.
 */
import type { Frame } from '../decode/frame.js';
import type { ShardObserver } from '../flows/shard.js';
import type { TrackerPartial } from '../flows/tracker.js';
import type { Finding } from '../report/types.js';

export interface OptionSpec {
  /** kebab-case name, used as the CLI flag (--fdb-ageing) and the config-file key. */
  key: string;
  description: string;
  default: number;
  /** Accepted range (inclusive). */
  min: number;
  max: number;
  /** Unit for the help text: "s", "frames", "per second"... */
  unit?: string;
  /** Whole numbers only. */
  integer?: boolean;
  /** The value is a MAC address ("02:00:00:01:00:30"), kept as a 48-bit number; 0 means unset. */
  mac?: boolean;
}

/** Values of every option, by key. */
export type OptionValues = Readonly<Record<string, number>>;

/**
 * Which frames a link-scope detector wants (bits of `interest`). The pipeline classifies each
 * frame once and calls only the detectors that asked for it, so most frames meet one or two
 * detectors, not all of them.
 */
export const enum FrameClass {
  /** Every frame with a link layer (Ethernet or SLL). */
  ANY = 1 << 0,
  ARP = 1 << 1,
  IPV4 = 1 << 2,
  /** TCP with a flag combination no normal stack sends (SYN+FIN, SYN+RST, FIN without ACK, NULL, Xmas). */
  TCP_ODD_FLAGS = 1 << 3,
  ICMP_ECHO_REQUEST = 1 << 4,
  /** An EtherType other than IPv4, IPv6 and ARP (including inside VLAN tags). */
  OTHER_ETHERTYPE = 1 << 5,
  /** 802.3 length frames (LLC), STP included. */
  LLC = 1 << 6,
  /** Type field 1501-1535. */
  INVALID_TYPE = 1 << 7,
  /** A netfilter log record (LINKTYPE_NFLOG) whose header was read. */
  NFLOG = 1 << 8,
}

/** Combinations of FrameClass bits. */
export const FRAME_CLASS_COMBINATIONS = 1 << 9;

/** Link-scope detector state for one capture. */
export interface LinkDetector {
  /** FrameClass bits of the frames to hand to onFrame. */
  readonly interest: number;
  onFrame(f: Frame): void;
  /** The result, reduced by the detector's `reduce` (a single partial for link scope). */
  partial(): unknown;
}

/** What `reduce` knows about the capture. */
export interface ReduceContext {
  options: OptionValues;
  /** Capture time span (seconds, with nanoseconds); start is null for a capture without frames. */
  startSec: number | null;
  startNs: number;
  endSec: number | null;
  endNs: number;
  frames: number;
  /** The flow tracker's partials, for detectors that look at conntrack entries over time. */
  tracker: readonly TrackerPartial[];
  /** What the reader and decoder counted, for the capture-quality finding. */
  capture: {
    events: Readonly<Record<string, number>>;
    truncatedFrames: number;
    error: { message: string; offset: number; frame: number } | null;
    droppedByCapture: number | null;
    flowEvictions: number;
    untrackedFrames: number;
  };
}

export interface Detector {
  /** A name for the registry (the main finding id). */
  name: string;
  /** Finding ids this detector may produce. */
  ids: readonly string[];
  scope: 'link' | 'flow';
  options: readonly OptionSpec[];
  createLink?(options: OptionValues): LinkDetector;
  createFlow?(options: OptionValues): ShardObserver;
  reduce(partials: readonly unknown[], ctx: ReduceContext): Finding[];
  /**
   * Lets go of what the partials hold outside memory (open files), whether or not `reduce` ran:
   * called for every flow detector once the findings are made, or cannot be.
   */
  release?(partials: readonly unknown[]): void;
}
