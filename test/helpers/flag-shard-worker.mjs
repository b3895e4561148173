// A flow shard worker for test/flows/feeder.test.ts: marks the "tmpfs warning printed" flag it
// was handed (spill-rows.ts) with 1 + its shard index, then runs the real worker from dist/.
import runShard from '../../dist/src/flows/shard-worker.js';

export default function markingShard(task) {
  Atomics.store(new Int32Array(task.tmpfsWarned), 0, 1 + task.index);
  return runShard(task);
}
