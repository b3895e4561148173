/**
 * One shard of the flow tracking: a FlowTracker and the flow-scope observers (detectors) that
 * watch it. The same code runs on the reader thread (--threads 1) and in a worker.
 */
import { releaseBuffers } from './buffers.js';
import { flowToJsonLine } from './flow-json.js';
import type { TrackerOptions } from './options.js';
import { FlowTracker, type FlowObserver, type TrackerPartial } from './tracker.js';

/** A flow-scope observer whose findings are merged across shards. */
export interface ShardObserver extends FlowObserver {
  /** Structured-clonable partial result (merged on the main thread). */
  partial(): unknown;
}

/** Builds the observers of a shard from plain, clonable settings (only settings cross threads). */
export type ObserverFactory = (settings: unknown) => Map<string, ShardObserver>;

export interface ShardSettings {
  tracker: TrackerOptions;
  /** Most flows this shard may hold. */
  maxFlows: number;
  /** Settings for the observers (detector options), passed to the factory. */
  observers: unknown;
}

export interface ShardResult {
  tracker: TrackerPartial;
  /** Partial results per observer id. */
  observers: Record<string, unknown>;
  /** Bytes held by the shard's tables at the end (for memory reports). */
  tableBytes: number;
}

export class Shard {
  readonly tracker: FlowTracker;
  private readonly observers: Map<string, ShardObserver>;

  constructor(settings: ShardSettings, exportSink: ((chunk: string) => void) | null, makeObservers: ObserverFactory | null) {
    this.tracker = new FlowTracker(settings.tracker, settings.maxFlows, exportSink, exportSink ? flowToJsonLine : null);
    this.observers = makeObservers ? makeObservers(settings.observers) : new Map();
    for (const o of this.observers.values()) this.tracker.addObserver(o);
  }

  /**
   * Ends the capture at `captureEnd` (seconds, the whole capture's last time). The flow table and
   * the evidence are released once the results are taken: the shard is done, and the merge that
   * follows should not find them still resident.
   */
  finish(captureEnd: number): ShardResult {
    const tableBytes = this.tracker.byteSize();
    this.tracker.finish(captureEnd);
    // Every flow has ended: the observers have what they need, and their partials need room.
    releaseBuffers([...this.tracker.table.buffers(), ...this.tracker.evidence.buffers()]);
    return { tracker: this.tracker.partial(), observers: this.observerPartials(), tableBytes };
  }

  /**
   * Gives up the capture (the reader failed): no flow is ended or exported, and the tables are
   * released; the observers' partials come back only so that the caller can release what they
   * hold (files their rows went to).
   */
  abandon(): ShardResult {
    releaseBuffers([...this.tracker.table.buffers(), ...this.tracker.evidence.buffers()]);
    return { tracker: this.tracker.partial(), observers: this.observerPartials(), tableBytes: 0 };
  }

  private observerPartials(): Record<string, unknown> {
    const observers: Record<string, unknown> = {};
    for (const [id, o] of this.observers) observers[id] = o.partial();
    return observers;
  }
}
