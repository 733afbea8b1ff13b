import { HARNESS_LIMITS } from './harness-limits.js';
import type { RunRecorder } from './run-recorder.js';
import { formatDurationUs } from './units.js';

/**
 * A live progress line on stderr about once a second: rewritten in place on a TTY, one line per
 * tick otherwise (CI logs keep every line and no control characters pile up).
 */
export class StatusLine {
  private timer: NodeJS.Timeout | undefined;
  private lastCompleted = 0;
  private lastMs = performance.now();
  phase = '';
  private wroteInPlace = false;

  constructor(
    private readonly recorder: RunRecorder,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
  ) {}

  start(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => this.tick(), HARNESS_LIMITS.statusIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.wroteInPlace) this.stream.write('\n');
    this.wroteInPlace = false;
  }

  /** The line's text (exported for tests and for one-line-per-tick output). */
  render(): string {
    const nowMs = performance.now();
    const r = this.recorder;
    const ratePerS = ((r.completed - this.lastCompleted) / Math.max(nowMs - this.lastMs, 1)) * 1000;
    this.lastCompleted = r.completed;
    this.lastMs = nowMs;
    const all = r.stats.get('*');
    const p99 =
      all !== undefined && all.count > 0 ? formatDurationUs(all.latencyUs.getValueAtPercentile(99)) : '-';
    return `[${this.phase}] ops ${r.completed} (${ratePerS.toFixed(0)}/s) p99 ${p99} errors ${r.errors} in-flight ${r.inFlight.size}`;
  }

  private tick(): void {
    const line = this.render();
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.wroteInPlace = true;
    } else this.stream.write(`${line}\n`);
  }
}
