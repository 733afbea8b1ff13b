import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../src/harness/load-scenario.js';
import { runScenario } from '../src/harness/run-scenario.js';
import { findBinDir, freePort, startThrowawayCluster, type ThrowawayCluster } from './pg-global-setup.js';

/**
 * Command faults against PostgreSQL itself: the database under two `serve` instances is stopped
 * and started again at seeded moments under a mixed load, with a fast shutdown (`pg_ctl stop -m
 * fast`: every connection is cut, a shutdown checkpoint flushes every commit) and with an
 * immediate one (a crash: the next start replays the WAL, and commits made with
 * `synchronous_commit = off` that were not flushed yet are gone, so a read or an answer that had
 * shown them before their flush barrier would be caught by the read and durability verdicts).
 * On a cluster of this test's own (initdb in a temp dir, its own port), never the shared one other
 * test files use. Calls in flight get UNAVAILABLE, the servers turn NOT_SERVING
 * and come back to SERVING on their own (the fault waits for that; a server that died or stayed
 * NOT_SERVING fails the run), writes left indeterminate are resent with their ids, and every
 * verdict, durability included, must pass.
 */
describe('command faults: PostgreSQL restarted under load', () => {
  let cluster: ThrowawayCluster;
  const previousUrl = process.env.LEDGER_STRESS_DATABASE_URL;

  beforeAll(async () => {
    const binDir = findBinDir();
    if (binDir === undefined) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql');
    cluster = startThrowawayCluster(binDir, await freePort());
    // The scenario's database is created on this cluster (src/harness/stress-database.ts).
    process.env.LEDGER_STRESS_DATABASE_URL = cluster.url;
  });

  afterAll(() => {
    if (previousUrl === undefined) delete process.env.LEDGER_STRESS_DATABASE_URL;
    else process.env.LEDGER_STRESS_DATABASE_URL = previousUrl;
    cluster?.stop();
  });

  // The servers inherit LEDGER_DB_COMMIT: the default (auto: synchronous group commits on this
  // disk) and overlap (every group asynchronous, answered after a barrier) both face the crash.
  it.each([
    ['fast', 'auto', () => cluster.stopCommand],
    ['immediate', 'auto', () => cluster.crashCommand],
    ['immediate', 'overlap', () => cluster.crashCommand],
  ] as const)(
    '%s shutdown, --db-commit %s: reconnects without a restart of the servers and loses nothing acknowledged',
    async (_, commit, down) => {
      const previousCommit = process.env.LEDGER_DB_COMMIT;
      process.env.LEDGER_DB_COMMIT = commit;
      const yaml = `name: pg-restart-e2e
seed: 7
server: { mode: spawned, storage: postgres, instances: 2 }
faults:
  - command:
      down: ${JSON.stringify(down())}
      up: ${JSON.stringify(cluster.startCommand)}
    every: 1s..2s
    count: 2
    retry_indeterminate: true
accounts:
  - { count: 16, prefix: acct-, balance: 10000 }
phases:
  - name: restart-load
    timeout: 120s
    groups:
      - name: mixed
        mix: { transfer: 50, update: 25, get: 15, snapshot: 5, query: 5 }
        delta: { min: -50, max: 50 }
        amount: { min: 1, max: 200 }
        load: { model: closed, callers: 16 }
        duration: 10s
expect:
  allowed_errors: [FAILED_PRECONDITION]
`;
      const result = await runScenario(parseScenario(yaml, 'pg-restart-e2e.yaml'), {
        file: 'pg-restart-e2e.yaml',
      }).finally(() => {
        if (previousCommit === undefined) delete process.env.LEDGER_DB_COMMIT;
        else process.env.LEDGER_DB_COMMIT = previousCommit;
      });
      const failed = result.verdicts
        .filter((v) => !v.passed)
        .map((v) => `${v.name}: ${v.evidence.join('; ')}`);
      expect(failed, result.notes.join('; ')).toEqual([]);
      // Once PostgreSQL is back, the servers serve on: every log entry and the final snapshot are
      // read after the load. (Before PgPool, servers were marked lost again seconds after the
      // restarts, by stale errors and CONNECT_TIMEOUTs of reopened connections: 15 runs of 16 left
      // log entries unread, and one the final snapshot.)
      expect(result.notes.filter((n) => /could not be fetched|final snapshot unavailable/.test(n))).toEqual(
        [],
      );
      expect(result.verdicts.map((v) => v.name)).toContain('durability');
      expect(result.faults).toMatchObject({
        signal: 'command',
        kills: 2,
        restartFailures: [],
        unexpectedExits: [],
      });
      // Both restarts completed: every instance said SERVING again on its own after each `up`.
      expect(result.faults!.restarts).toHaveLength(2);
      // (Whether a call was in flight at the moment of the stop depends on timing: the harness holds
      // new calls while a fault is on. UNAVAILABLE during a cut is asserted in pg-operations.test.ts.)
      expect(result.verdict).toBe('pass');
    },
  );
});
