/**
 * The registry of detectors. Link-scope detectors run on the reader thread and see every decoded
 * frame; flow-scope detectors run in the flow shards and see packet records with their flow.
 * Only ids and options cross threads; each detector reduces its shards' partials to findings.
 */
import type { ShardObserver } from '../flows/shard.js';

/** Builds the flow-scope observers of one shard from the (clonable) detector settings. */
export function makeShardObservers(_settings: unknown): Map<string, ShardObserver> {
  return new Map();
}
