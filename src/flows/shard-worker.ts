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

export type ToShard = { t: 'batch'; buf: ArrayBuffer; n: number } | { t: 'end' };
export type FromShard = { t: 'ack'; buf: ArrayBuffer } | { t: 'flows'; text: string };

export default function runShard(task: ShardTask): Promise<ShardResult> {
  const { port } = task;
  const shard = new Shard(task.settings, task.exportFlows ? (text) => port.postMessage({ t: 'flows', text } satisfies FromShard) : null, makeShardObservers);
  return new Promise((resolve, reject) => {
    port.on('message', (msg: ToShard) => {
      try {
        if (msg.t === 'batch') {
          shard.tracker.processBatch(new Uint32Array(msg.buf), msg.n);
          port.postMessage({ t: 'ack', buf: msg.buf } satisfies FromShard, [msg.buf]);
        } else {
          const result = shard.finish();
          port.close();
          resolve(result);
        }
      } catch (err) {
        port.close();
        reject(err);
      }
    });
  });
}
