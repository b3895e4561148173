// A flow shard worker for test/flows/feeder.test.ts: shard 1 fails as soon as it starts, as a
// shard hitting an internal error would; every other shard runs the real worker from dist/ (which
// must be built from the current sources).
import runShard from '../../dist/src/flows/shard-worker.js';

export default function failingShard(task) {
  if (task.index === 1) {
    task.port.close();
    return Promise.reject(new Error('shard 1 failed on purpose'));
  }
  return runShard(task);
}
