import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { LedgerEngine } from '../engine/ledger-engine.js';
import { DelayedCommitStorage, MemoryStorage } from '../engine/storage.js';
import { startLedgerServer } from '../server/ledger-server.js';
import { createLogger } from '../server/logger.js';
import type { FromWorker, ServerWorkerOptions, ToWorker } from './server-worker-protocol.js';
import { threadCpuMs } from './thread-cpu.js';

/**
 * The in-process server's thread: its own event loop, so the load generator on the main thread
 * never steals the server's turns (and vice versa). Talks real gRPC over loopback.
 */
const port = parentPort!;
const options = workerData as ServerWorkerOptions;
const send = (message: FromWorker): void => port.postMessage(message);

// A forced GC before a heap sample makes "heap growth" mean retained memory, not garbage not yet
// collected. Worker execArgv cannot carry V8 flags, so the flag is set at runtime for this isolate.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (() => void) | undefined;

try {
  const storage =
    options.commitDelayMs === undefined
      ? new MemoryStorage()
      : new DelayedCommitStorage({ minMs: options.commitDelayMs[0], maxMs: options.commitDelayMs[1] });
  const engine = await LedgerEngine.open({
    storage,
    locking: options.locking,
    txidTtlMs: options.txidTtlMs,
    txidSweepThreshold: options.txidSweepThreshold,
    maxTxids: options.maxTxids,
    logWindowEntries: options.logWindowEntries,
    unsafeLocking: options.unsafeLocking,
  });
  // Failures are logged by the server at ERROR level; a stress run makes thousands on purpose.
  const server = await startLedgerServer({
    host: '127.0.0.1',
    port: 0,
    engine,
    logger: createLogger('fatal'),
    maxInFlightCalls: options.maxInFlightCalls,
  });
  const startElu = performance.eventLoopUtilization();
  port.on('message', (message: ToWorker) => {
    if (message.type === 'sample') {
      // Read before the forced GC, so the harness's own collection is not billed to serving.
      const cpuMs = threadCpuMs();
      if (message.gc) gc?.();
      const elu = performance.eventLoopUtilization(startElu);
      send({
        type: 'sample',
        id: message.id,
        sample: {
          eventLoopUtilization: elu.utilization,
          eventLoopActiveMs: elu.active,
          heapUsedBytes: process.memoryUsage().heapUsed,
          threadCpuMs: cpuMs,
          engine: engine.stats(),
        },
      });
    } else {
      void server.shutdown().then(() => {
        send({ type: 'stopped' });
        port.close();
      });
    }
  });
  send({ type: 'ready', port: server.port });
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}
