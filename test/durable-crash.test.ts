import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { CliProcess } from './cli-run.js';
import { removeDir, tempDir } from './durable-fixture.js';

/*
 * Crash test: `ledgerctl serve` on a data dir, a mixed concurrent workload through gRPC, SIGKILL
 * at seeded random moments, restart on the same dir, and a full check of what survived.
 */
const SEED = 20_240_601;
const KILLS = 22;
const ACCOUNTS = 8;
const INITIAL_BALANCE = 1_000n;
const WORKERS = 12;
const LOAD_MS = { min: 60, max: 300 };

/** Deterministic random numbers so a failing interleaving can be rerun. */
function seeded(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

type Op =
  | { kind: 'update'; txid: string; id: string; delta: bigint }
  | { kind: 'transfer'; txid: string; from: string; to: string; amount: bigint };

/** What the client learned: acknowledged OK (with the balances), a recorded refusal, or nothing. */
type Fate =
  | { state: 'ok'; balances: bigint[]; versions: bigint[] }
  | { state: 'refused'; code: number; details: string }
  | { state: 'indeterminate' };

interface Tracked {
  op: Op;
  fate: Fate;
}

const RECORDED = new Set([
  5 /* NOT_FOUND */, 6 /* ALREADY_EXISTS */, 9 /* FAILED_PRECONDITION */, 11 /* OUT_OF_RANGE */,
]);
const accountId = (i: number) => `crash-${i}`;

async function send(client: LedgerClient, op: Op) {
  if (op.kind === 'update') {
    const reply = await client.updateBalance(op.id, op.delta, op.txid, { deadlineMs: 5_000 });
    return { replayed: reply.replayed, accounts: [reply.value.account] };
  }
  const reply = await client.transferFunds(op.from, op.to, op.amount, op.txid, { deadlineMs: 5_000 });
  return { replayed: reply.replayed, accounts: [reply.value.from, reply.value.to] };
}

/** Sends op and records its fate; a dead server leaves it indeterminate. */
async function attempt(client: LedgerClient, tracked: Tracked): Promise<void> {
  try {
    const { accounts } = await send(client, tracked.op);
    tracked.fate = {
      state: 'ok',
      balances: accounts.map((a) => a.balance),
      versions: accounts.map((a) => a.version),
    };
  } catch (err) {
    if (err instanceof LedgerCallError && RECORDED.has(err.code)) {
      tracked.fate = { state: 'refused', code: err.code, details: err.details };
    } else if (!(err instanceof LedgerCallError)) throw err;
    // Anything else (UNAVAILABLE, DEADLINE_EXCEEDED, a cancelled call): outcome unknown.
  }
}

class Server {
  private constructor(
    readonly process: CliProcess,
    readonly client: LedgerClient,
  ) {}

  static async start(dataDir: string): Promise<Server> {
    const child = new CliProcess(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'fatal']);
    const line = await child.firstLine();
    const target = /listening on (\S+)/.exec(line)?.[1];
    if (target === undefined) throw new Error(`unexpected first line: ${line}`);
    const client = new LedgerClient(target);
    await client.waitForReady(10_000);
    return new Server(child, client);
  }

  async kill(): Promise<void> {
    this.process.child.kill('SIGKILL');
    const result = await this.process.result;
    this.client.close();
    if (result.signal !== 'SIGKILL') throw new Error(`server ended on its own: ${JSON.stringify(result)}`);
  }

  async stop(): Promise<void> {
    this.client.close();
    this.process.child.kill('SIGTERM');
    await this.process.result;
  }
}

describe('durable ledger under SIGKILL', () => {
  const random = seeded(SEED);
  const tracked: Tracked[] = [];
  let dir: string;
  let server: Server;
  let kills = 0;

  const pick = () => accountId(Math.floor(random() * ACCOUNTS));
  const nextOp = (txid: string): Op => {
    if (random() < 0.35)
      return { kind: 'update', txid, id: pick(), delta: BigInt(Math.floor(random() * 61) - 30) || 1n };
    const from = pick();
    let to = pick();
    while (to === from) to = pick();
    return { kind: 'transfer', txid, from, to, amount: BigInt(1 + Math.floor(random() * 120)) };
  };

  beforeAll(async () => {
    dir = tempDir('ledger-crash-');
    server = await Server.start(dir);
    for (let i = 0; i < ACCOUNTS; i++)
      await server.client.createAccount(accountId(i), INITIAL_BALANCE, `create-${i}`);
    let sequence = 0;
    for (let round = 0; round < KILLS; round++) {
      let running = true;
      const client = server.client;
      // Retries of earlier indeterminate ids resolve some of them (execute now, or replay).
      const retries = tracked.filter((t) => t.fate.state === 'indeterminate' && random() < 0.5);
      const workers = Array.from({ length: WORKERS }, async (_, w) => {
        while (running) {
          const retry = w === 0 ? retries.shift() : undefined;
          const t: Tracked = retry ?? {
            op: nextOp(`r${round}-${sequence++}`),
            fate: { state: 'indeterminate' },
          };
          if (retry === undefined) tracked.push(t);
          await attempt(client, t);
        }
      });
      const loadMs = LOAD_MS.min + random() * (LOAD_MS.max - LOAD_MS.min);
      await new Promise((resolve) => setTimeout(resolve, loadMs));
      await server.kill();
      kills++;
      running = false;
      await Promise.all(workers);
      server = await Server.start(dir);
    }
  });

  afterAll(async () => {
    await server?.stop();
    if (dir !== undefined) removeDir(dir);
  });

  it('survives every kill with each acknowledged write present exactly once', async () => {
    expect(kills).toBeGreaterThanOrEqual(20);
    const client = server.client;
    const acked = tracked.filter((t) => t.fate.state === 'ok');
    expect(acked.length).toBeGreaterThan(100);

    // Which writes are in the log: every acknowledged one, and any indeterminate one that landed.
    const applied: Array<{ t: Tracked; position: bigint; balancesAfter: bigint[] }> = [];
    for (const t of tracked) {
      try {
        const { value } = await client.getTransaction(t.op.txid);
        expect(t.fate.state).not.toBe('refused');
        const ids = t.op.kind === 'update' ? [t.op.id] : [t.op.from, t.op.to];
        expect(value.accountIds).toEqual(ids);
        if (t.fate.state === 'ok') expect(value.balancesAfter).toEqual(t.fate.balances);
        applied.push({ t, position: value.position, balancesAfter: value.balancesAfter });
      } catch (err) {
        if (!(err instanceof LedgerCallError) || err.code !== 5) throw err;
        expect(t.fate.state).not.toBe('ok');
      }
    }

    // Dense positions: the creates, then exactly one position per applied write.
    const snapshot = (await client.getSnapshot(true)).value;
    const positions = applied.map((a) => a.position).sort((a, b) => (a < b ? -1 : 1));
    expect(new Set(positions).size).toBe(applied.length);
    expect(snapshot.logPosition).toBe(BigInt(ACCOUNTS + applied.length));
    expect(positions[0]).toBe(BigInt(ACCOUNTS + 1));
    expect(positions.at(-1)).toBe(snapshot.logPosition);

    // Replaying the log in position order gives every entry's balances and the final state:
    // nothing was half-applied, lost or applied twice.
    const balances = new Map(Array.from({ length: ACCOUNTS }, (_, i) => [accountId(i), INITIAL_BALANCE]));
    const versions = new Map(Array.from({ length: ACCOUNTS }, (_, i) => [accountId(i), 0n]));
    for (const { t, balancesAfter } of applied.sort((a, b) => (a.position < b.position ? -1 : 1))) {
      const changes: Array<[string, bigint]> =
        t.op.kind === 'update'
          ? [[t.op.id, t.op.delta]]
          : [
              [t.op.from, -t.op.amount],
              [t.op.to, t.op.amount],
            ];
      changes.forEach(([id, change], i) => {
        balances.set(id, balances.get(id)! + change);
        versions.set(id, versions.get(id)! + 1n);
        expect(balances.get(id)).toBe(balancesAfter[i]);
      });
    }
    const expectedTotal = [...balances.values()].reduce((a, b) => a + b, 0n);
    const deltas = applied.reduce((sum, { t }) => sum + (t.op.kind === 'update' ? t.op.delta : 0n), 0n);
    expect(expectedTotal).toBe(BigInt(ACCOUNTS) * INITIAL_BALANCE + deltas);
    expect(snapshot.totalBalance).toBe(expectedTotal);
    for (const account of snapshot.accounts) {
      expect([account.accountId, account.balance, account.version]).toEqual([
        account.accountId,
        balances.get(account.accountId),
        versions.get(account.accountId),
      ]);
    }

    // Retrying an id after the restarts replays its recorded outcome and changes nothing.
    const sample = tracked.filter((t) => t.fate.state !== 'indeterminate').filter((_, i) => i % 7 === 0);
    for (const t of sample) {
      try {
        const again = await send(client, t.op);
        expect(t.fate.state).toBe('ok');
        expect(again.replayed).toBe(true);
        if (t.fate.state === 'ok') expect(again.accounts.map((a) => a.balance)).toEqual(t.fate.balances);
      } catch (err) {
        if (!(err instanceof LedgerCallError) || t.fate.state !== 'refused') throw err;
        expect([err.code, err.details, err.replayed]).toEqual([t.fate.code, t.fate.details, true]);
      }
    }
    expect((await client.getSnapshot(false)).value.logPosition).toBe(snapshot.logPosition);
  });
});
