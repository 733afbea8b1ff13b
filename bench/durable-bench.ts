import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';

/*
 * Engine-level durable benchmark (no gRPC): transfers/s through LMDB with group commit, the mean
 * number of commits sharing one flush, and recovery time. Usage:
 *   node dist/bench/durable-bench.js [--accounts 10000] [--callers 1024] [--transfers 200000]
 *     [--recovery-accounts 100000] [--recovery-entries 1000000]
 */
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};

async function transfers(accounts: number, callers: number, total: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-bench-'));
  try {
    const storage = await LmdbStorage.open(dir);
    const engine = await LedgerEngine.open({ storage });
    const ids = Array.from({ length: accounts }, (_, i) => `acct-${i}`);
    for (let i = 0; i < ids.length; i += 1000) {
      await Promise.all(
        ids
          .slice(i, i + 1000)
          .map((id) => engine.createAccount({ accountId: id, initialBalance: 1_000_000n })),
      );
    }
    const before = { ...storage.flushStats };
    let next = 0;
    let seed = 1;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const started = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (next < total) {
          const n = next++;
          const from = ids[Math.floor(rand() * accounts)]!;
          let to = ids[Math.floor(rand() * accounts)]!;
          if (to === from) to = ids[(ids.indexOf(from) + 1) % accounts]!;
          await engine.transferFunds({ fromId: from, toId: to, amount: 1n, transactionId: `t${n}` });
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const commits = storage.flushStats.commits - before.commits;
    const flushes = storage.flushStats.flushes - before.flushes;
    console.log(
      `durable transfers: ${total} in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)}/s ` +
        `(${callers} callers, ${accounts} accounts); ${flushes} flushes, mean ${(commits / flushes).toFixed(1)} commits/flush, ` +
        `${((storage.flushStats.puts - before.puts) / flushes).toFixed(1)} puts/flush`,
    );
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function recovery(accounts: number, entries: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-bench-'));
  try {
    const storage = await LmdbStorage.open(dir);
    const engine = await LedgerEngine.open({ storage });
    const ids = Array.from({ length: accounts }, (_, i) => `acct-${i}`);
    const loadStarted = performance.now();
    for (let i = 0; i < ids.length; i += 5000) {
      await Promise.all(
        ids.slice(i, i + 5000).map((id) => engine.createAccount({ accountId: id, initialBalance: 1_000n })),
      );
    }
    for (let n = accounts; n < entries; n += 5000) {
      const batch = [];
      for (let k = n; k < Math.min(entries, n + 5000); k++) {
        batch.push(
          engine.updateBalance({ accountId: ids[k % accounts]!, delta: 1n, transactionId: `u${k}` }),
        );
      }
      await Promise.all(batch);
    }
    await engine.close();
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const size = fs.statSync(path.join(dir, 'ledger.mdb')).size;
    const started = performance.now();
    const reopened = await LedgerEngine.open({ storage: await LmdbStorage.open(dir) });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `recovery: ${accounts} accounts, ${entries} log entries (file ${(size / 2 ** 20).toFixed(0)} MiB, loaded in ${loadSeconds.toFixed(1)} s): ` +
        `open+recover ${seconds.toFixed(2)} s; storage says ${JSON.stringify(reopened.recovery)}`,
    );
    await reopened.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await transfers(arg('accounts', 10_000), arg('callers', 1024), arg('transfers', 200_000));
await recovery(arg('recovery-accounts', 100_000), arg('recovery-entries', 1_000_000));
