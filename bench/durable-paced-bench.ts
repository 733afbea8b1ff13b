import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LIMITS } from '../src/domain/limits.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { MemoryStorage } from '../src/engine/storage.js';
import { threadsCpuMs } from './proc-stats.js';
import { machineInfo } from './report.js';

/**
 * Unary-style durable writes at a steady rate, in process (no gRPC): one update or transfer at a
 * time on its schedule, none waiting for another, as unary calls arrive at a server. Reports the
 * process's CPU per write (every thread: the LMDB write and sync threads' fsyncs count), writes per
 * LMDB transaction and write latency, for a memory ledger and for LMDB with a given bound of write
 * transactions in flight (Infinity: no bound, each event turn's writes get a transaction of their
 * own). Run the variants back to back, alternating, and compare medians: this machine is noisy.
 *
 *   npm run build && node dist/bench/durable-paced-bench.js [--storage memory|durable]
 *     [--rate 2400] [--seconds 2] [--in-flight 1|2|Infinity] [--overlap-min-puts N]
 */

const { values } = parseArgs({
  options: {
    storage: { type: 'string', default: 'durable' },
    rate: { type: 'string', default: '2400' },
    seconds: { type: 'string', default: '2' },
    'in-flight': { type: 'string', default: String(LIMITS.lmdbTransactionsInFlight) },
    'overlap-min-puts': { type: 'string', default: String(LIMITS.lmdbOverlapMinPuts) },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const inFlight = Number(values['in-flight']);
const overlapMinPuts = Number(values['overlap-min-puts']);
if (
  (values.storage !== 'memory' && values.storage !== 'durable') ||
  !(rate > 0) ||
  !(seconds > 0) ||
  !(inFlight >= 1) ||
  !(overlapMinPuts >= 0)
) {
  console.error(
    'usage: node dist/bench/durable-paced-bench.js [--storage memory|durable] [--rate N] [--seconds S] [--in-flight N|Infinity] [--overlap-min-puts N]',
  );
  process.exit(2);
}

const ACCOUNTS = 1_000;
const dir = mkdtempSync(join(tmpdir(), 'ledger-paced-'));
try {
  const lmdb =
    values.storage === 'durable'
      ? await LmdbStorage.open(dir, { transactionsInFlight: inFlight, overlapMinPuts })
      : undefined;
  const engine = await LedgerEngine.open({ storage: lmdb ?? new MemoryStorage(), locking: 'account' });
  const id = (i: number) => `acct-${i}`;
  for (let i = 0; i < ACCOUNTS; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        engine.createAccount({ accountId: id(i + j), initialBalance: 10n ** 12n }),
      ),
    );
  }
  const total = Math.round(rate * seconds);
  const latenciesMs: number[] = [];
  let sent = 0;
  const send = () => {
    const n = sent++;
    const a = (n * 7919) % ACCOUNTS;
    const b = (a + 1 + (n % (ACCOUNTS - 1))) % ACCOUNTS;
    const at = performance.now();
    const write =
      n % 2 === 0
        ? engine.updateBalance({ accountId: id(a), delta: 1n, transactionId: `u-${n}` })
        : engine.transferFunds({ fromId: id(a), toId: id(b), amount: 1n, transactionId: `t-${n}` });
    void write.then(() => latenciesMs.push(performance.now() - at));
  };
  const flushes0 = lmdb === undefined ? undefined : { ...lmdb.flushStats };
  const cpu0 = process.cpuUsage();
  const threads0 = threadsCpuMs(process.pid);
  const started = performance.now();
  // Writes leave when their time comes, checked on a 1 ms timer (a spinning loop would count its
  // own CPU): those due in the same tick share an event turn, as calls arriving together do.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
      while (sent < due) send();
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  while (latenciesMs.length < total) await new Promise((resolve) => setTimeout(resolve, 1));
  const cpu = process.cpuUsage(cpu0);
  const threads1 = threadsCpuMs(process.pid);
  // The main thread's id is the pid; the others are V8's GC helpers and libuv's pool (lmdb-js's
  // write transaction and its fsync run there).
  let mainMs = 0;
  let otherMs = 0;
  for (const [tid, ms] of threads1) {
    const spent = ms - (threads0.get(tid) ?? 0);
    if (tid === process.pid) mainMs += spent;
    else otherMs += spent;
  }
  const wallMs = performance.now() - started;
  latenciesMs.sort((x, y) => x - y);
  const at = (q: number) => latenciesMs[Math.min(total - 1, Math.floor(total * q))]!.toFixed(2);
  const perFlush =
    lmdb === undefined || flushes0 === undefined
      ? ''
      : `, ${((lmdb.flushStats.commits - flushes0.commits) / (lmdb.flushStats.flushes - flushes0.flushes)).toFixed(2)} writes per transaction`;
  console.log(
    `${values.storage}${lmdb === undefined ? '' : ` (transactions in flight: ${inFlight}, overlap from ${overlapMinPuts} puts)`}, ${rate} writes/s offered, ` +
      `${Math.round((total / wallMs) * 1000)} done, load average ${machineInfo().loadAverage1m.toFixed(2)}: ` +
      `CPU ${((cpu.user + cpu.system) / total).toFixed(1)} us/write (user ${(cpu.user / total).toFixed(1)}, system ${(cpu.system / total).toFixed(1)})` +
      `, main thread ${((mainMs * 1000) / total).toFixed(1)} us/write, other threads ${((otherMs * 1000) / total).toFixed(1)}` +
      `${perFlush}, latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
  );
  await engine.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
