/**
 * Piscina task: one long-lived flow shard. It receives record batches on its MessagePort
 * (transferred ArrayBuffers, given back after use so the reader can refill them), forwards
 * finished-flow JSON to the main thread when exporting, and resolves with its partial results
 * when told the capture ended.
 */
import type { MessagePort } from 'node:worker_threads';
import { Shard, type ShardResult, type ShardSettings } from './shard.js';
import { makeShardObservers } from '../detectors/registry.js';

export interface ShardTask {
  port: MessagePort;
  settings: ShardSettings;
  exportFlows: boolean;
}

export type ToShard = { t: 'batch'; buf: ArrayBuffer; n: number } | { t: 'end'; captureEnd: number };
/** Messages to the reader thread, in order on the shard's port; 'done' comes last and carries the result. */
export type FromShard = { t: 'ack'; buf: ArrayBuffer } | { t: 'flows'; text: string } | { t: 'done'; result: ShardResult };

export default function runShard(task: ShardTask): Promise<void> {
  const { port } = task;
  const shard = new Shard(task.settings, task.exportFlows ? (text) => port.postMessage({ t: 'flows', text } satisfies FromShard) : null, makeShardObservers);
  return new Promise((resolve, reject) => {
    port.on('message', (msg: ToShard) => {
      try {
        if (msg.t === 'batch') {
          shard.tracker.processBatch(new Uint32Array(msg.buf), msg.n);
          port.postMessage({ t: 'ack', buf: msg.buf } satisfies FromShard, [msg.buf]);
        } else {
          // The result goes on the same port as the flow export, so it arrives after every line.
          port.postMessage({ t: 'done', result: shard.finish(msg.captureEnd) } satisfies FromShard);
          resolve();
        }
      } catch (err) {
        port.close();
        reject(err);
      }
    });
  });
}
