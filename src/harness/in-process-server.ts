import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { FromWorker, ServerResourceSample, ServerWorkerOptions } from './server-worker-protocol.js';

export interface InProcessServer {
  readonly target: string;
  sample(options?: { gc?: boolean }): Promise<ServerResourceSample>;
  stop(): Promise<void>;
}

/**
 * The worker must load compiled JavaScript. Compiled, it sits beside this module; under vitest
 * this module is the .ts source, so fall back to the build output in dist/ (`npm test` builds first).
 */
export function serverWorkerUrl(): URL {
  const beside = new URL('./server-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const compiled = new URL('../../dist/src/harness/server-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return compiled;
  throw new Error(`server worker not built: run npm run build (looked for ${fileURLToPath(compiled)})`);
}

/** Starts the ledger in a worker thread on 127.0.0.1 with an ephemeral port. */
export async function startInProcessServer(options: ServerWorkerOptions): Promise<InProcessServer> {
  const worker = new Worker(serverWorkerUrl(), { workerData: options });
  let nextId = 0;
  const waiting = new Map<number, (sample: ServerResourceSample) => void>();
  let onStopped: (() => void) | undefined;
  let exited = false;

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('in-process server did not start in time')),
      HARNESS_LIMITS.serverStartTimeoutMs,
    );
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          clearTimeout(timer);
          resolve(message.port);
          break;
        case 'failed':
          clearTimeout(timer);
          reject(new Error(`in-process server failed to start: ${message.message}`));
          break;
        case 'sample':
          waiting.get(message.id)?.(message.sample);
          waiting.delete(message.id);
          break;
        case 'stopped':
          onStopped?.();
          break;
      }
    });
    worker.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    worker.on('exit', () => {
      exited = true;
      clearTimeout(timer);
      reject(new Error('in-process server exited'));
      onStopped?.();
    });
  });

  return {
    target: `127.0.0.1:${port}`,
    sample({ gc = false } = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (exited) return reject(new Error('in-process server has exited'));
        waiting.set(id, resolve);
        worker.postMessage({ type: 'sample', id, gc });
      });
    },
    async stop() {
      if (exited) return;
      const stopped = new Promise<void>((resolve) => (onStopped = resolve));
      worker.postMessage({ type: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), HARNESS_LIMITS.serverStartTimeoutMs);
      await stopped;
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
