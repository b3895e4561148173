/**
 * The reader thread's side of flow tracking: packs each decoded frame into a record and hands it
 * to the shard that owns its flow (by the symmetric flow hash).
 *
 * Inline, one shard runs right here, a batch at a time: decoding a batch, then tracking it, keeps
 * each loop's code and data in the caches (alternating them record by record took a tenth more
 * CPU on the bench capture).
 *
 * Otherwise records travel in batches (transferred ArrayBuffers, recycled) to N long-lived piscina
 * tasks (N = 1 still pipelines: the reader decodes while the shard tracks). At most MAX_IN_FLIGHT
 * batches per shard are outstanding, and the reader waits when a shard falls behind, so memory
 * stays bounded.
 */
import { randomInt } from 'node:crypto';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Frame } from '../decode/frame.js';
import { tmpfsWarnedFlag } from '../detectors/spill-rows.js';
import { workerFile } from '../workers.js';
import type { TrackerOptions } from './options.js';
import { BATCH_RECORDS, packFrame, R, RECORD_WORDS } from './record.js';
import { Shard, type ObserverFactory, type ShardResult, type ShardSettings } from './shard.js';
import type { FromShard, ShardTask, ToShard } from './shard-worker.js';

const MAX_IN_FLIGHT = 6;

let sharedPool: Piscina | null = null;

/** The process-wide pool of shard workers, sized to the largest --threads asked for. */
function shardPool(threads: number): Piscina {
  if (!sharedPool || sharedPool.maxThreads < threads) {
    void sharedPool?.destroy();
    sharedPool = new Piscina({
      filename: workerFile('flows/shard-worker.js'),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 1000,
      atomics: 'disabled',
      resourceLimits: { maxYoungGenerationSizeMb: 6 },
      // A shard hands the main thread the descriptors of the files its detectors spilled rows to
      // (detectors/spill-rows.ts), which the main thread reads and closes: Node must not close
      // them when the worker exits, nor track a number the main thread has closed and reused.
      trackUnmanagedFds: false,
    });
  }
  return sharedPool;
}

/** Stops the shard workers (so the process can exit promptly). */
export async function closeShardPool(): Promise<void> {
  const p = sharedPool;
  sharedPool = null;
  if (p) await p.destroy();
}

export interface FeederOptions {
  /** Flow shards. */
  threads: number;
  /** Track on this (the reader's) thread, a batch at a time: one shard only. */
  inline: boolean;
  tracker: TrackerOptions;
  observers: unknown;
  makeObservers: ObserverFactory | null;
  /** Receives finished-flow JSON lines when exporting. */
  exportSink: ((chunk: string) => void) | null;
  /**
   * Lets go of a shard's result that will not be used, because another shard failed or the capture
   * was abandoned (see abort): its detectors' open files.
   */
  discard?: (result: ShardResult) => void;
  /** The shard worker module (compiled JavaScript); tests substitute one that fails. */
  shardWorkerFile?: string;
}

interface RemoteShard {
  port: MessagePort;
  batch: Uint32Array;
  count: number;
  inFlight: number;
  spare: ArrayBuffer[];
  /** Settles when the shard's 'done' message arrives (or its task fails). */
  result: Promise<ShardResult>;
}

export class FlowFeeder {
  /** Records handed to the shards. */
  tracked = 0;
  /** Frames that carry nothing a flow holds (not IPv4, fragments, cut headers). */
  untracked = 0;
  private readonly seed = randomInt(0, 0x7fffffff);
  private readonly scratch = new Uint32Array(RECORD_WORDS);
  private readonly local: Shard | null = null;
  /** Inline: records packed and not yet tracked. */
  private readonly localBatch: Uint32Array | null = null;
  private localCount = 0;
  private readonly remotes: RemoteShard[] = [];
  private waiting: (() => void) | null = null;
  private failure: unknown = null;
  /** Set by finish or abort: the shards were told to stop. */
  private ended = false;

  private readonly discard: ((result: ShardResult) => void) | undefined;

  constructor(opts: FeederOptions) {
    this.discard = opts.discard;
    const threads = Math.max(1, Math.floor(opts.threads));
    const perShard = Math.max(16, Math.ceil(opts.tracker.maxFlows / threads));
    const settings: ShardSettings = { tracker: opts.tracker, maxFlows: perShard, observers: opts.observers };
    if (opts.inline) {
      if (threads !== 1) throw new Error('inline flow tracking runs one shard');
      this.local = new Shard(settings, opts.exportSink, opts.makeObservers);
      this.localBatch = new Uint32Array(BATCH_RECORDS * RECORD_WORDS);
      return;
    }
    const pool = shardPool(threads);
    for (let i = 0; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const task: ShardTask = { index: i, port: port2, settings, exportFlows: opts.exportSink !== null, tmpfsWarned: tmpfsWarnedFlag() };
      let settle: { resolve: (r: ShardResult) => void; reject: (e: unknown) => void } | null = null;
      const result = new Promise<ShardResult>((resolve, reject) => {
        settle = { resolve, reject };
      });
      // A failure is taken up by afterChunk and finish, maybe long after it happened: without a
      // handler now, Node would call the rejection unhandled and end the process.
      result.catch(() => undefined);
      const remote: RemoteShard = { port: port1, batch: new Uint32Array(BATCH_RECORDS * RECORD_WORDS), count: 0, inFlight: 0, spare: [], result };
      const runOptions = opts.shardWorkerFile !== undefined ? { transferList: [port2], filename: opts.shardWorkerFile } : { transferList: [port2] };
      (pool.run(task, runOptions) as Promise<void>).catch((err: unknown) => {
        this.failure = err;
        settle!.reject(err);
        this.wake();
      });
      port1.on('message', (msg: FromShard) => {
        if (msg.t === 'ack') {
          remote.inFlight--;
          remote.spare.push(msg.buf);
          this.wake();
        } else if (msg.t === 'flows') {
          opts.exportSink?.(msg.text);
        } else {
          settle!.resolve(msg.result);
        }
      });
      this.remotes.push(remote);
    }
  }

  /** Packs the frame and routes it to its shard. */
  add(f: Frame): void {
    const localBatch = this.localBatch;
    if (localBatch) {
      if (!packFrame(f, localBatch, this.localCount * RECORD_WORDS, this.seed)) {
        this.untracked++;
        return;
      }
      this.tracked++;
      if (++this.localCount === BATCH_RECORDS) this.trackLocal();
      return;
    }
    const scratch = this.scratch;
    if (!packFrame(f, scratch, 0, this.seed)) {
      this.untracked++;
      return;
    }
    this.tracked++;
    const remote = this.remotes[scratch[R.HASH] % this.remotes.length]!;
    remote.batch.set(scratch, remote.count * RECORD_WORDS);
    if (++remote.count === BATCH_RECORDS) this.send(remote);
  }

  /** Inline: tracks the records packed so far. */
  private trackLocal(): void {
    this.local!.tracker.processBatch(this.localBatch!, this.localCount);
    this.localCount = 0;
  }

  /** Called by the reader after each chunk: waits while any shard has too many batches in flight. */
  afterChunk(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.remotes.some((r) => r.inFlight >= MAX_IN_FLIGHT)) return undefined;
    return this.drain(MAX_IN_FLIGHT - 1);
  }

  /** Sends what is left, ends every shard at `captureEnd` (seconds) and collects their results. */
  async finish(captureEnd: number): Promise<ShardResult[]> {
    if (this.ended) throw new Error('flow feeder: the capture was already ended');
    this.ended = true;
    if (this.local) {
      try {
        this.trackLocal();
        return [this.local.finish(captureEnd)];
      } catch (err) {
        // The last records or the end of the capture failed: let go of what the shard holds
        // (its detectors' files), as abort does, and report the failure.
        try {
          this.release(this.local.abandon());
        } catch {
          // The first failure is the one to report.
        }
        throw err;
      }
    }
    for (const r of this.remotes) if (r.count > 0) this.send(r);
    const settled = await this.endShards({ t: 'end', captureEnd });
    const failed = settled.find((x) => x.status === 'rejected');
    if (failed) {
      for (const x of settled) if (x.status === 'fulfilled') this.release(x.value);
      throw failed.reason;
    }
    return settled.map((x) => (x as PromiseFulfilledResult<ShardResult>).value);
  }

  /**
   * Gives up the capture (the reader thread failed): each shard stops without ending or exporting
   * its flows, so its task and port end and its worker is free for the next capture, and what it
   * holds goes to discard. Never throws: the failure that led here is the one to report. Does
   * nothing once the capture was ended.
   */
  async abort(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.local) {
      try {
        this.release(this.local.abandon());
      } catch {
        // The reader's own failure is reported; this one would hide it.
      }
      return;
    }
    for (const x of await this.endShards({ t: 'abandon' })) if (x.status === 'fulfilled') this.release(x.value);
  }

  private async endShards(msg: ToShard): Promise<PromiseSettledResult<ShardResult>[]> {
    for (const r of this.remotes) r.port.postMessage(msg);
    const settled = await Promise.allSettled(this.remotes.map((r) => r.result));
    for (const r of this.remotes) r.port.close();
    return settled;
  }

  /** Hands a result that will not be used to discard; a failure there must not stop the others. */
  private release(result: ShardResult): void {
    try {
      this.discard?.(result);
    } catch {
      // Closing a file failed: nothing more can be done with it, and the caller has a failure to report.
    }
  }

  private send(remote: RemoteShard): void {
    const buf = remote.batch.buffer as ArrayBuffer;
    remote.port.postMessage({ t: 'batch', buf, n: remote.count } satisfies ToShard, [buf]);
    remote.inFlight++;
    const spare = remote.spare.pop();
    remote.batch = spare ? new Uint32Array(spare) : new Uint32Array(BATCH_RECORDS * RECORD_WORDS);
    remote.count = 0;
  }

  private async drain(limit: number): Promise<void> {
    while (this.remotes.some((r) => r.inFlight > limit)) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }
}
