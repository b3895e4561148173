/**
 * The registry of detectors. Link-scope detectors run on the reader thread and see the frames
 * they asked for; flow-scope detectors run in the flow shards and see packet records with their
 * flow. Only option values cross threads; each detector reduces its partials to findings, then
 * `correlate` ties findings that explain each other.
 */
import type { Frame } from '../decode/frame.js';
import type { ShardObserver } from '../flows/shard.js';
import { TRACKER_OPTIONS } from '../options.js';
import type { Finding } from '../report/types.js';
import { correlate } from './correlate.js';
import { sortFindings } from './finding.js';
import { FLOW_DETECTORS } from './flow-detectors.js';
import { LINK_DETECTORS } from './link-detectors.js';
import { FRAME_CLASS_COMBINATIONS, type Detector, type LinkDetector, type OptionSpec, type OptionValues, type ReduceContext } from './types.js';

export const DETECTORS: readonly Detector[] = [...LINK_DETECTORS, ...FLOW_DETECTORS];

/** Every option of every detector (an option shared by several detectors is listed once). */
export const DETECTOR_OPTIONS: readonly OptionSpec[] = (() => {
  const seen = new Map<string, OptionSpec>();
  for (const d of DETECTORS) for (const o of d.options) if (!seen.has(o.key)) seen.set(o.key, o);
  return [...seen.values()];
})();

/** All options of an analysis: tracker and conntrack first, then the detectors'. */
export const ALL_OPTIONS: readonly OptionSpec[] = [...TRACKER_OPTIONS, ...DETECTOR_OPTIONS];

/** Every finding id a detector may produce. */
export const FINDING_IDS: readonly string[] = DETECTORS.flatMap((d) => d.ids);

/** Settings that cross into a shard: only the option values. */
export interface ObserverSettings {
  options: OptionValues;
}

/** Builds the flow-scope observers of one shard. */
export function makeShardObservers(settings: unknown): Map<string, ShardObserver> {
  const out = new Map<string, ShardObserver>();
  const options = (settings as ObserverSettings | null)?.options;
  if (!options) return out;
  for (const d of DETECTORS) if (d.scope === 'flow' && d.createFlow) out.set(d.name, d.createFlow(options));
  return out;
}

/** The link-scope detectors of one capture, and a dispatcher that calls them by frame class. */
export class LinkDetectors {
  readonly byName = new Map<string, LinkDetector>();
  /**
   * For each combination of FrameClass bits, the detectors interested in any of them. Built up
   * front as a packed array: a holey array filled on first use made every lookup allocate.
   */
  private readonly byClasses: LinkDetector[][] = [];

  constructor(options: OptionValues) {
    for (const d of DETECTORS) if (d.scope === 'link' && d.createLink) this.byName.set(d.name, d.createLink(options));
    for (let classes = 0; classes < FRAME_CLASS_COMBINATIONS; classes++) this.byClasses.push([...this.byName.values()].filter((d) => (d.interest & classes) !== 0));
  }

  /** Calls, once each, the detectors interested in a frame of the given FrameClass bits. */
  dispatch(f: Frame, classes: number): void {
    const list = this.byClasses[classes]!;
    for (let i = 0; i < list.length; i++) list[i]!.onFrame(f);
  }
}

/** Reduces every detector's partials to findings, ties related findings together and sorts them. */
export function reduceFindings(link: LinkDetectors, shardObservers: ReadonlyArray<Record<string, unknown>>, ctx: ReduceContext): Finding[] {
  const findings: Finding[] = [];
  for (const d of DETECTORS) {
    let partials: unknown[];
    if (d.scope === 'link') {
      const det = link.byName.get(d.name);
      partials = det ? [det.partial()] : [];
    } else {
      partials = flowPartials(d, shardObservers);
    }
    findings.push(...d.reduce(partials, ctx));
  }
  return sortFindings(correlate(findings));
}

/**
 * Lets go of what the shards' partials hold outside memory (open files): once the findings are
 * made, or when they cannot be (a reduce failed, or another shard did).
 */
export function releaseFlowPartials(shardObservers: ReadonlyArray<Record<string, unknown>>): void {
  for (const d of DETECTORS) if (d.scope === 'flow') d.release?.(flowPartials(d, shardObservers));
}

function flowPartials(d: Detector, shardObservers: ReadonlyArray<Record<string, unknown>>): unknown[] {
  return shardObservers.map((o) => o[d.name]).filter((p) => p !== undefined);
}
