/**
 * Large ArrayBuffers for the tables that grow with a capture (flow slots, evidence, detector
 * rows): reserved once instead of copied again and again, and released at once when done.
 *
 * Reserving: the kernel commits a page of a large zeroed allocation only when it is first
 * written, so a table can move once into room for millions of entries and fill it as it goes:
 * no further copy (which costs time and, until a garbage collection frees the old array, holds
 * both). Tables reserve only at their first growth, so small captures never map the room (a
 * batch of many would pay for mapping and unmapping it each time).
 *
 * Releasing: a buffer's memory is otherwise returned only when the garbage collector finds the
 * buffer unreachable, and an idle thread (a shard worker that has sent its result) may not
 * collect for the rest of the run. Transferring a buffer detaches it from this thread, and a
 * message on a closed channel is dropped with what it carries: the memory is freed at once.
 */
import { MessageChannel } from 'node:worker_threads';

/** A zeroed ArrayBuffer of `bytes`, or null when the system refuses it (strict overcommit, ulimit -v). */
export function reserveBuffer(bytes: number): ArrayBuffer | null {
  try {
    return new ArrayBuffer(bytes);
  } catch {
    return null;
  }
}

/**
 * A new buffer holding a copy of `old`'s bytes: `reserveBytes` long when that is more than
 * `grownBytes` and the system grants it, else `grownBytes` long.
 */
export function grownBuffer(old: ArrayBufferView, grownBytes: number, reserveBytes: number): ArrayBuffer {
  const buf = (reserveBytes > grownBytes ? reserveBuffer(reserveBytes) : null) ?? new ArrayBuffer(grownBytes);
  new Uint8Array(buf).set(new Uint8Array(old.buffer, old.byteOffset, old.byteLength));
  return buf;
}

/** Gives the memory of `buffers` back now; they are unusable afterwards. */
export function releaseBuffers(buffers: readonly ArrayBuffer[]): void {
  const live = buffers.filter((b) => b.byteLength > 0);
  if (live.length === 0) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, live);
  port1.close();
  port2.close();
}
