import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { MemoryStorage } from '../src/engine/storage.js';
import { startH2NullResponder } from '../src/harness/h2-null-responder.js';
import { startNullResponder } from '../src/harness/null-responder.js';
import { startLedgerServer } from '../src/server/ledger-server.js';
import { createLogger } from '../src/server/logger.js';
import { startBareServer } from './bare-server.js';

/**
 * Hosts one server (real or bare) in its own process, so its CPU time is exactly
 * process.cpuUsage() here and the load generator cannot share its event loop.
 * Protocol over the fork IPC channel: {type:'ready', target} | {type:'error', message};
 * requests {type:'cpu'} and {type:'stop'}.
 */
export type ServerKind = 'real' | 'bare' | 'durable' | 'null' | 'h2-null';

export interface CpuSample {
  type: 'cpu';
  id: number;
  userUs: number;
  systemUs: number;
  eluIdleMs: number;
  eluActiveMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Highest heapUsed since the last 'watch-heap' request (0 before one). */
  heapPeakBytes: number;
  /**
   * The event loop's delay since the previous 'cpu' sample (p99 and max, ms): how long a timer
   * waited for the loop, i.e. the server's own stalls (long tasks, GC pauses) plus the time the
   * process was not given a CPU at all.
   */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Since start: times the kernel took the CPU away from this process (getrusage). */
  involuntarySwitches: number;
}

const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

let peakHeap = 0;
let heapTimer: NodeJS.Timeout | undefined;

const kind = process.argv[2] as ServerKind;
const send = (message: object) => process.send?.(message);

async function start(): Promise<{ target: string; shutdown(): Promise<void> }> {
  if (kind === 'bare') return startBareServer();
  if (kind === 'h2-null') {
    const responder = await startH2NullResponder();
    return { target: responder.target, shutdown: () => responder.close() };
  }
  if (kind === 'null') {
    const responder = await startNullResponder();
    return { target: responder.target, shutdown: () => responder.close() };
  }
  // durable: LMDB in the data dir given as the next argument (the bench removes it).
  // BENCH_LMDB_TXNS_IN_FLIGHT: the group-commit bound to compare ('Infinity': no bound, as before).
  // BENCH_LMDB_OVERLAP_MIN_PUTS: the group size that may start a transaction beside one in flight.
  const inFlight = process.env.BENCH_LMDB_TXNS_IN_FLIGHT;
  const overlapMinPuts = process.env.BENCH_LMDB_OVERLAP_MIN_PUTS;
  const storage =
    kind === 'durable'
      ? await LmdbStorage.open(process.argv[3]!, {
          ...(inFlight === undefined ? {} : { transactionsInFlight: Number(inFlight) }),
          ...(overlapMinPuts === undefined ? {} : { overlapMinPuts: Number(overlapMinPuts) }),
        })
      : new MemoryStorage();
  const engine = await LedgerEngine.open({ storage, locking: 'account' });
  // BENCH_FLUSH_STATS=1: the LMDB server prints its group-commit counters (stderr) every 2 s.
  if (process.env.BENCH_FLUSH_STATS === '1' && storage instanceof LmdbStorage) {
    const t = setInterval(() => console.error(JSON.stringify(storage.flushStats)), 2000);
    t.unref();
  }
  return startLedgerServer({ host: '127.0.0.1', port: 0, engine, logger: createLogger('silent') });
}

try {
  const server = await start();
  process.on('message', (message: { type: string; id?: number }) => {
    if (message.type === 'cpu') {
      const cpu = process.cpuUsage();
      const elu = performance.eventLoopUtilization();
      const heap = process.memoryUsage();
      send({
        type: 'cpu',
        id: message.id ?? 0,
        userUs: cpu.user,
        systemUs: cpu.system,
        eluIdleMs: elu.idle,
        eluActiveMs: elu.active,
        rssBytes: heap.rss,
        heapUsedBytes: heap.heapUsed,
        heapPeakBytes: peakHeap,
        loopDelayP99Ms: loopDelay.count === 0 ? 0 : loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.count === 0 ? 0 : loopDelay.max / 1e6,
        involuntarySwitches: process.resourceUsage().involuntaryContextSwitches,
      } satisfies CpuSample);
      loopDelay.reset();
    } else if (message.type === 'watch-heap') {
      // Peak heap while a batch is in flight: sampled every millisecond from a forced-GC baseline.
      (globalThis as { gc?: () => void }).gc?.();
      peakHeap = process.memoryUsage().heapUsed;
      clearInterval(heapTimer);
      heapTimer = setInterval(() => {
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      }, 1);
      send({
        type: 'cpu',
        id: message.id ?? 0,
        userUs: 0,
        systemUs: 0,
        eluIdleMs: 0,
        eluActiveMs: 0,
        rssBytes: 0,
        heapUsedBytes: peakHeap,
        heapPeakBytes: peakHeap,
        loopDelayP99Ms: 0,
        loopDelayMaxMs: 0,
        involuntarySwitches: 0,
      } satisfies CpuSample);
    } else if (message.type === 'stop') {
      // A natural exit (not process.exit) so --cpu-prof gets to write its profile.
      clearInterval(heapTimer);
      void server.shutdown().then(() => process.disconnect());
    }
  });
  // The bench went away without stopping us (crash, Ctrl-C): do not linger as an orphan.
  process.once('disconnect', () => setTimeout(() => process.exit(0), 2_000).unref());
  send({ type: 'ready', target: server.target });
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.disconnect();
}
