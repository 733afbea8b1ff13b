import { MemoryStorage } from '../src/engine/storage.js';
import { absoluteNowMs, type PreciseTimer } from '../src/harness/precise-timer.js';
import { newHistogramUs } from './histogram.js';

interface Group {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function newGroup(): Group {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A simulated disk with real group commit and a sub-millisecond flush: one flush at a time;
 * batches that arrive during a flush wait for the next one, which starts when the current one
 * ends (how lmdb and most WALs behave). A setTimeout-based simulation would round 0.5 ms up to
 * at least 1 ms, hence the timer thread.
 */
export class PreciseGroupCommitStorage extends MemoryStorage {
  override readonly kind: string = 'bench-precise-group-commit';
  private current: Group | undefined;
  private next: Group | undefined;
  private startedMs = 0;
  readonly flushUs = newHistogramUs();
  batches = 0;
  flushes = 0;

  constructor(
    private readonly timer: PreciseTimer,
    private readonly flushMs: number,
  ) {
    super();
  }

  override commit(): Promise<void> {
    this.batches++;
    if (this.current === undefined) {
      this.current = newGroup();
      this.startFlush();
      return this.current.promise;
    }
    this.next ??= newGroup();
    return this.next.promise;
  }

  private startFlush(): void {
    this.flushes++;
    this.startedMs = absoluteNowMs();
    void this.timer.sleep(this.flushMs).then(() => {
      this.flushUs.recordValue(Math.round((absoluteNowMs() - this.startedMs) * 1000));
      const done = this.current!;
      this.current = this.next;
      this.next = undefined;
      if (this.current !== undefined) this.startFlush();
      done.resolve();
    });
  }
}
