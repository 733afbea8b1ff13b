import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';

function workerUrl(): URL {
  const beside = new URL('./precise-timer-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  // Tests run the TypeScript sources: the worker is the built one.
  return new URL('../../dist/src/harness/precise-timer-worker.js', import.meta.url);
}

export const absoluteNowMs = (): number => performance.timeOrigin + performance.now();

/**
 * Sub-millisecond sleeps without burning a core: a dedicated thread waits on a futex and wakes
 * this thread's event loop through a MessagePort. Used for the simulated 0.5 ms disk commit and
 * for open-loop send times (setTimeout rounds both up to whole milliseconds).
 */
export class PreciseTimer {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag: Int32Array;
  private readonly waiters = new Map<number, () => void>();
  private nextId = 1;

  constructor() {
    const signal = new SharedArrayBuffer(4);
    this.flag = new Int32Array(signal);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(workerUrl(), {
      workerData: { signal, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
    this.port.on('message', (ids: number[]) => {
      for (const id of ids) {
        const resolve = this.waiters.get(id);
        this.waiters.delete(id);
        resolve?.();
      }
      if (this.waiters.size === 0) this.port.unref();
    });
    this.port.unref();
  }

  /** Resolves at `atMs` (absolute, see absoluteNowMs), typically within ~50-100 us. */
  sleepUntil(atMs: number): Promise<void> {
    const id = this.nextId++;
    const promise = new Promise<void>((resolve) => this.waiters.set(id, resolve));
    this.port.ref();
    this.port.postMessage({ id, atMs });
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
    return promise;
  }

  sleep(ms: number): Promise<void> {
    return this.sleepUntil(absoluteNowMs() + ms);
  }

  async close(): Promise<void> {
    this.port.postMessage('stop');
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
    this.port.close();
    await this.worker.terminate();
  }
}
