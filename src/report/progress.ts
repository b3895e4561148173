/**
 * A progress bar on stderr for large captures: bytes read out of the total, frames per second and
 * the time left. Shown only when stderr is a terminal and the capture is large enough to wait for.
 */
import cliProgress from 'cli-progress';

/** Below this size a capture is read before a bar would be worth drawing. */
const MIN_BYTES = 64 * 1024 * 1024;

export class ProgressReporter {
  private bar: cliProgress.SingleBar | null = null;
  private readonly started = process.hrtime.bigint();

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(bytesRead: number, totalBytes: number | null, frames: number): void {
    if (!this.stream.isTTY) return;
    if (this.bar === null) {
      if (totalBytes === null || totalBytes < MIN_BYTES) return;
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format: 'reading {bar} {percentage}% | {mb}/{totalMb} MB | {fps} frames/s | {eta_formatted} left',
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(totalBytes, 0, { mb: '0', totalMb: (totalBytes / 1e6).toFixed(0), fps: '0' });
    }
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    this.bar.update(bytesRead, { mb: (bytesRead / 1e6).toFixed(0), fps: seconds > 0 ? Math.round(frames / seconds).toLocaleString('en-US') : '0' });
  }

  done(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
