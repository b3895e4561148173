/**
 * Piscina task: one long-lived flow shard. It receives record batches on its MessagePort
 * (transferred ArrayBuffers, given back after use so the reader can refill them), forwards
 * finished-flow JSON to the main thread when exporting, and resolves with its partial results
 * when told the capture ended.
 */
import type { MessagePort } from 'node:worker_threads';
import { Shard, type ShardResult, type ShardSettings } from './shard.js';
import { makeShardObservers, releaseFlowPartials } from '../detectors/registry.js';
import { shareTmpfsWarned } from '../detectors/spill-rows.js';

export interface ShardTask {
  /** Which of the capture's shards this is (0-based). */
  index: number;
  port: MessagePort;
  settings: ShardSettings;
  exportFlows: boolean;
  /** The process's "tmpfs warning printed" flag (see spill-rows.ts). */
  tmpfsWarned: SharedArrayBuffer;
}

/** 'abandon': the capture was given up; the shard answers 'done' with a result to release, not to report. */
export type ToShard = { t: 'batch'; buf: ArrayBuffer; n: number } | { t: 'end'; captureEnd: number } | { t: 'abandon' };
/** Messages to the reader thread, in order on the shard's port; 'done' comes last and carries the result. */
export type FromShard = { t: 'ack'; buf: ArrayBuffer } | { t: 'flows'; text: string } | { t: 'done'; result: ShardResult };

export default function runShard(task: ShardTask): Promise<void> {
  const { port } = task;
  shareTmpfsWarned(task.tmpfsWarned);
  const shard = new Shard(task.settings, task.exportFlows ? (text) => port.postMessage({ t: 'flows', text } satisfies FromShard) : null, makeShardObservers);
  return new Promise((resolve, reject) => {
    port.on('message', (msg: ToShard) => {
      try {
        if (msg.t === 'batch') {
          shard.tracker.processBatch(new Uint32Array(msg.buf), msg.n);
          port.postMessage({ t: 'ack', buf: msg.buf } satisfies FromShard, [msg.buf]);
        } else {
          // The result goes on the same port as the flow export, so it arrives after every line.
          const result = msg.t === 'end' ? shard.finish(msg.captureEnd) : shard.abandon();
          // Handed over, not copied: the shard is done with its tables, and a row table's view
          // of a large reserved buffer would otherwise be cloned whole.
          port.postMessage({ t: 'done', result } satisfies FromShard, [...buffersIn(result)]);
          resolve();
        }
      } catch (err) {
        port.close();
        // The main thread never gets this shard's partials: close the files its detectors hold.
        try {
          releaseFlowPartials([shard.abandon().observers]);
        } catch {
          // The failure above is the one to report.
        }
        reject(err);
      }
    });
  });
}

/** The ArrayBuffers behind the typed arrays inside `value` (objects, arrays and Maps walked), each once. */
export function buffersIn(value: unknown, out = new Set<ArrayBuffer>()): Set<ArrayBuffer> {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (value instanceof Map) {
    for (const v of value.values()) buffersIn(v, out);
  } else if (Array.isArray(value)) {
    for (const v of value) buffersIn(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) buffersIn(v, out);
  }
  return out;
}
