/**
 * Gives the memory of large ArrayBuffers back now. A buffer's memory is otherwise returned only
 * when the garbage collector finds the buffer unreachable, and an idle thread (a shard worker
 * that has sent its result) may not collect for the rest of the run: its flow table, hundreds of
 * megabytes, would stay resident while the main thread merges the results.
 *
 * Transferring a buffer detaches it from this thread, and a message on a closed channel is
 * dropped with what it carries: the memory is freed at once. The buffers are unusable afterwards.
 */
import { MessageChannel } from 'node:worker_threads';

export function releaseBuffers(buffers: readonly ArrayBuffer[]): void {
  const live = buffers.filter((b) => b.byteLength > 0);
  if (live.length === 0) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, live);
  port1.close();
  port2.close();
}
