// A flow shard worker for test/flows/feeder.test.ts: shard 1 processes its records like any other,
// then fails while ending the capture, inside the real worker's own error handling (which must
// close the files its detectors wrote rows to); every other shard runs unchanged. dist/ must be
// built from the current sources.
import runShard from '../../dist/src/flows/shard-worker.js';
import { Shard } from '../../dist/src/flows/shard.js';

export default function failingFinishShard(task) {
  if (task.index !== 1) return runShard(task);
  // The worker thread runs one task at a time and keeps its modules for the next ones: the
  // failing finish lasts for this task only.
  const finish = Shard.prototype.finish;
  Shard.prototype.finish = function finishFails() {
    throw new Error('shard 1 failed on purpose while ending the capture');
  };
  return runShard(task).finally(() => {
    Shard.prototype.finish = finish;
  });
}
