import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { BatchOperationInput } from '../src/domain/batch.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { MemoryStorage } from '../src/engine/storage.js';
import { GRPC_STATUS_OF } from '../src/server/status-codes.js';
import { decodeExecuteBatchRequest, encodeExecuteBatchResponse } from '../src/wire/batch-codec.js';
import { ACCOUNTS, BatchTemplates, INITIAL_BALANCE, ids } from './batch-request.js';
import { machineInfo } from './report.js';

/**
 * The in-memory ExecuteBatch path without gRPC, in this process: decode the request bytes, run the
 * engine, encode the answer, two batches in flight (as batch-bench's closed loop). What one core
 * does per transfer with no transport and no other process: the server's own share of
 * batch-bench's "server CPU / transfer". Reports CPU per transfer, GC pause time per transfer
 * (PerformanceObserver 'gc'), and the codec alone (medians of repeated encode/decode of one batch).
 *
 *   npm run build && node dist/bench/batch-path-bench.js [--size 8190] [--batches 40]
 */

const { values } = parseArgs({
  options: { size: { type: 'string', default: '8190' }, batches: { type: 'string', default: '40' } },
});
const size = Number(values.size);
const batches = Number(values.batches);
if (!Number.isInteger(size) || size < 1 || !Number.isInteger(batches) || batches < 1) {
  console.error('usage: node dist/bench/batch-path-bench.js [--size N] [--batches N]');
  process.exit(2);
}

const engine = await LedgerEngine.open({ storage: new MemoryStorage(), locking: 'account' });
for (const id of ids)
  await engine.createAccount({ accountId: id.toString(), initialBalance: INITIAL_BALANCE });
const templates = new BatchTemplates(size, 0, 0, 'p');
const bodies = Array.from({ length: batches }, () => templates.next());
const statusOf = (code: keyof typeof GRPC_STATUS_OF) => GRPC_STATUS_OF[code];

let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
});
observer.observe({ entryTypes: ['gc'] });

let next = 0;
async function lane(): Promise<void> {
  for (;;) {
    const n = next++;
    if (n >= batches) return;
    const operations = decodeExecuteBatchRequest(bodies[n]!);
    const outcomes = await engine.executeBatch(operations, '');
    encodeExecuteBatchResponse(operations, outcomes, statusOf);
  }
}
const cpu0 = process.cpuUsage();
const started = performance.now();
await Promise.all([lane(), lane()]);
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - started;
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();
const transfers = batches * size;
const cpuUs = (cpu.user + cpu.system) / transfers;

// The codec alone on one batch (its transfers committed once, then encoded again and again).
const sample = bodies[0]!;
const fresh = await LedgerEngine.open({ storage: new MemoryStorage(), locking: 'account' });
for (const id of ids)
  await fresh.createAccount({ accountId: id.toString(), initialBalance: INITIAL_BALANCE });
const operations: BatchOperationInput[] = decodeExecuteBatchRequest(sample);
const outcomes = await fresh.executeBatch(operations, '');
const median = (work: () => void): number => {
  const rounds: number[] = [];
  for (let r = 0; r < 15; r++) {
    const c = process.cpuUsage();
    for (let k = 0; k < 5; k++) work();
    const d = process.cpuUsage(c);
    rounds.push((d.user + d.system) / (5 * size));
  }
  return rounds.sort((a, b) => a - b)[7]!;
};
for (let k = 0; k < 10; k++) encodeExecuteBatchResponse(operations, outcomes, statusOf);
const encodeUs = median(() => encodeExecuteBatchResponse(operations, outcomes, statusOf));
const decodeUs = median(() => decodeExecuteBatchRequest(sample));

const machine = machineInfo();
console.log(
  `batch path in process, ${batches} batches of ${size} transfers over ${ACCOUNTS} accounts, 2 in flight ` +
    `(load average ${machine.loadAverage1m.toFixed(2)}, ${machine.nproc} cpus):\n` +
    `  CPU ${cpuUs.toFixed(2)} us/transfer (${Math.round(1e6 / cpuUs).toLocaleString('en-US')} transfers/s per core), ` +
    `wall ${Math.round((transfers / wallMs) * 1000).toLocaleString('en-US')} transfers/s\n` +
    `  GC pauses ${((gcMs * 1000) / transfers).toFixed(2)} us/transfer\n` +
    `  codec alone (medians): decode ${decodeUs.toFixed(3)} us/operation, encode ${encodeUs.toFixed(3)} us/result`,
);
