import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { SpawnedServer } from '../src/harness/spawned-server.js';
import { createTestDatabase, type TestDatabase } from './pg-fixture.js';

const ACCOUNTS = Array.from({ length: 8 }, (_, i) => `sv-${i}`);
const INITIAL = 1_000_000n;
/** How the peer dies: SIGKILL in the test; a SIGSTOPped peer (locks held, socket open) fails it. */
const PEER_FAULT = 'SIGKILL' as NodeJS.Signals;

/**
 * Two `ledgerctl serve` processes on one database, both under load; the first is SIGKILLed in the
 * middle of it. The survivor must keep serving writes and reads without a single error (the dead
 * peer's row locks go with its connections), its peer's indeterminate writes are resolved by
 * resending them to the survivor with their transaction ids, and the ledger stays whole:
 * conserved, every acknowledged write applied exactly once, positions dense.
 */
describe('PostgreSQL: the surviving instance keeps serving while its peer is killed', () => {
  let db: TestDatabase;
  let peer: SpawnedServer;
  let survivor: SpawnedServer;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    const storageArgs = ['--database-url', db.url, '--migrate'];
    peer = new SpawnedServer({ dataDir: undefined, args: ['--log-level', 'warn'], storageArgs });
    survivor = new SpawnedServer({ dataDir: undefined, args: ['--log-level', 'warn'], storageArgs });
    await peer.start();
    await survivor.start();
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    if (peer?.pid !== undefined && PEER_FAULT === 'SIGSTOP') process.kill(peer.pid, 'SIGCONT');
    await peer?.stop();
    await survivor?.stop();
    await sql?.end();
    await db?.drop();
  });

  it('answers every call on the survivor, resolves the peer’s writes, and keeps every invariant', async () => {
    const onPeer = new LedgerClient(peer.target, { deadlineMs: 10_000 });
    const onSurvivor = new LedgerClient(survivor.target, { deadlineMs: 10_000 });
    try {
      for (const id of ACCOUNTS) await onSurvivor.createAccount(id, INITIAL, `sv-create-${id}`);

      type Write = { txid: string; run: (c: LedgerClient) => Promise<unknown>; delta: bigint };
      const acknowledged: Write[] = [];
      const indeterminate: Write[] = [];
      const survivorErrors: string[] = [];
      let survivorWritesAfterKill = 0;
      let survivorReadsAfterKill = 0;
      let killedAt = Number.POSITIVE_INFINITY;
      let stopAt = Number.POSITIVE_INFINITY;

      const write = (caller: string, i: number): Write => {
        const from = ACCOUNTS[i % ACCOUNTS.length]!;
        const to = ACCOUNTS[(i * 3 + 1) % ACCOUNTS.length]!;
        const txid = `${caller}-${i}`;
        if (i % 3 === 0 || from === to) {
          return { txid, delta: 1n, run: (c) => c.updateBalance(from, 1n, txid) };
        }
        return { txid, delta: 0n, run: (c) => c.transferFunds(from, to, 1n + BigInt(i % 5), txid) };
      };

      const peerCaller = async (n: number) => {
        for (let i = 0; ; i++) {
          const w = write(`peer${n}`, i);
          try {
            await w.run(onPeer);
            acknowledged.push(w);
          } catch {
            // The peer died with this write in flight (or refused it): its fate is unknown.
            indeterminate.push(w);
            return;
          }
        }
      };
      const survivorCaller = async (n: number) => {
        for (let i = 0; performance.now() < stopAt; i++) {
          const w = write(`surv${n}`, i);
          try {
            await w.run(onSurvivor);
            acknowledged.push(w);
            if (performance.now() > killedAt) survivorWritesAfterKill++;
            if (i % 4 === 0) {
              await onSurvivor.getBalance(ACCOUNTS[i % ACCOUNTS.length]!);
              await onSurvivor.getSnapshot(i % 8 === 0);
              if (performance.now() > killedAt) survivorReadsAfterKill++;
            }
          } catch (err) {
            survivorErrors.push(err instanceof LedgerCallError ? err.message : String(err));
          }
        }
      };

      const survivorLoad = Promise.all([0, 1, 2, 3].map(survivorCaller));
      const peerLoad = Promise.all([0, 1, 2, 3].map(peerCaller));
      await new Promise((r) => setTimeout(r, 600));
      if (PEER_FAULT === 'SIGKILL') await peer.kill('SIGKILL');
      else process.kill(peer.pid!, PEER_FAULT);
      killedAt = performance.now();
      stopAt = killedAt + 2_000;
      await peerLoad;
      await survivorLoad;

      expect(survivorErrors).toEqual([]);
      expect(survivorWritesAfterKill).toBeGreaterThan(20);
      expect(survivorReadsAfterKill).toBeGreaterThan(5);
      expect(indeterminate.length).toBeGreaterThan(0);

      // The peer's in-flight writes, resent with their ids: executed now or replayed, never twice.
      for (const w of indeterminate) {
        await w.run(onSurvivor);
        acknowledged.push(w);
      }

      const snapshot = (await onSurvivor.getSnapshot(true)).value;
      const expectedTotal =
        INITIAL * BigInt(ACCOUNTS.length) + acknowledged.reduce((s, w) => s + w.delta, 0n);
      expect(snapshot.accounts.reduce((s, a) => s + a.balance, 0n)).toBe(expectedTotal);
      expect(snapshot.totalBalance).toBe(expectedTotal);
      const [log] = await sql<{ n: string; first: string; last: string; distinct_ids: string }[]>`
        SELECT count(*)::text AS n, min(position)::text AS first, max(position)::text AS last,
          count(DISTINCT transaction_id)::text AS distinct_ids FROM ledger_log`;
      // Dense positions, and one entry per applied write: creates plus every acknowledged write.
      expect(log!.first).toBe('1');
      expect(log!.last).toBe(log!.n);
      expect(snapshot.logPosition).toBe(BigInt(log!.n));
      expect(Number(log!.n)).toBe(ACCOUNTS.length + acknowledged.length);
      expect(log!.distinct_ids).toBe(log!.n);
    } finally {
      onPeer.close();
      onSurvivor.close();
    }
  });
});
