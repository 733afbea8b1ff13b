import { describe, expect, it } from 'vitest';
import { checkDurability } from '../src/harness/checkers/durability.js';
import type { AccountView, LogEntryView, OpRecord, RunObservation } from '../src/harness/history.js';

/**
 * A tiny ledger server with a kill switch, recording calls as the harness does. `kill` can make it
 * behave like a broken server (forget recent writes, forget idempotency records) so each test
 * shows the durability checker failing on exactly that.
 */
class CrashHistory {
  readonly records: OpRecord[] = [];
  readonly kills: { atNs: bigint }[] = [];
  /** Every entry the server holds, by position (a txid may hold two if it was applied twice). */
  private log: LogEntryView[] = [];
  private accounts = new Map<string, AccountView>();
  private clock = 0n;
  readonly initial: Map<string, bigint>;

  constructor(initial: Record<string, bigint>) {
    this.initial = new Map(Object.entries(initial));
    for (const [id, balance] of this.initial) {
      this.accounts.set(id, { accountId: id, balance, version: 0n });
      this.append('create', [id], balance, `setup-${id}`, [balance]);
    }
  }

  readonly initialLogPosition = (): bigint => BigInt(this.initial.size);

  private append(operation: string, ids: string[], amount: bigint, txid: string, after: bigint[]) {
    const position = BigInt(this.log.length + 1);
    this.log.push({
      position,
      transactionId: txid,
      timestampNs: position,
      operation,
      accountIds: ids,
      amount,
      balancesAfter: after,
      status: 'OK',
      principal: '',
    });
  }

  private bump(id: string, delta: bigint): AccountView {
    const a = this.accounts.get(id)!;
    const next = { accountId: id, balance: a.balance + delta, version: a.version + 1n };
    this.accounts.set(id, next);
    return next;
  }

  /**
   * An update; `lost`: the answer never arrives (info), `applied` says whether it landed.
   * `forgetId`: the server lost the id's idempotency record, so a retry executes again.
   */
  update(
    id: string,
    delta: bigint,
    txid: string,
    opts: { lost?: boolean; applied?: boolean; forgetId?: boolean } = {},
  ) {
    const entry = opts.forgetId ? undefined : this.log.find((e) => e.transactionId === txid);
    const invokeNs = this.clock++;
    const base = { index: this.records.length, phase: 'p', group: 'g', caller: 0, op: 'update' as const };
    const args = { accountId: id, amount: delta, transactionId: txid };
    let result: Partial<OpRecord>;
    if (entry !== undefined) {
      const balance = entry.balancesAfter[0]!;
      result = { type: 'ok', replayed: true, accounts: [{ accountId: id, balance, version: 0n }] };
    } else if (opts.lost && !opts.applied) {
      result = { type: 'info', code: 'UNAVAILABLE', message: 'Connection dropped' };
    } else {
      const after = this.bump(id, delta);
      this.append('update', [id], delta, txid, [after.balance]);
      result = opts.lost
        ? { type: 'info', code: 'UNAVAILABLE', message: 'Connection dropped' }
        : { type: 'ok', accounts: [after], resultTransactionId: txid };
    }
    this.records.push({ ...base, args, invokeNs, completeNs: this.clock++, type: 'ok', ...result });
  }

  /** SIGKILL; a broken server forgets its last `lose` writes. */
  kill(lose = 0) {
    this.kills.push({ atNs: this.clock++ });
    for (const entry of this.log.splice(this.log.length - lose, lose)) {
      const id = entry.accountIds[0]!;
      this.bump(id, -entry.amount);
      const a = this.accounts.get(id)!;
      this.accounts.set(id, { ...a, version: a.version - 2n });
    }
  }

  observation(): RunObservation {
    const logEntries = new Map<string, LogEntryView | 'not-found'>();
    for (const r of this.records) {
      const txid = r.args.transactionId!;
      logEntries.set(txid, this.log.find((e) => e.transactionId === txid) ?? 'not-found');
    }
    const accounts = [...this.accounts.values()].sort((x, y) => (x.accountId < y.accountId ? -1 : 1));
    return {
      initialBalances: this.initial,
      initialLogPosition: this.initialLogPosition(),
      kills: this.kills,
      finalSnapshot: {
        totalBalance: accounts.reduce((s, a) => s + a.balance, 0n),
        accountCount: BigInt(accounts.length),
        logPosition: BigInt(this.log.length),
        accounts,
      },
      logEntries,
      records: this.records,
      stuckPhases: [],
    };
  }
}

/** Updates around two kills; one lost answer landed, one did not; both are retried after the restart. */
function crashRun(): CrashHistory {
  const h = new CrashHistory({ a: 100n, b: 100n });
  h.update('a', 5n, 'u1');
  h.update('b', 7n, 'u2', { lost: true, applied: true });
  h.update('a', 3n, 'u3', { lost: true, applied: false });
  h.kill();
  h.update('b', 7n, 'u2'); // replays: it had landed
  h.update('a', 3n, 'u3'); // executes: it had not
  h.update('a', -2n, 'u4');
  h.kill();
  h.update('b', 1n, 'u5');
  return h;
}

describe('durability checker', () => {
  it('passes a run where every acknowledged write survived each kill exactly once', () => {
    const v = checkDurability(crashRun().observation());
    expect(v.evidence).toEqual([]);
    expect(v.passed).toBe(true);
    expect(v.summary).toContain('after 2 kills');
    expect(v.summary).toContain('log replay reproduces all 5 entries');
  });

  it('fails when an acknowledged write is missing after the restart', () => {
    const h = new CrashHistory({ a: 100n, b: 100n });
    h.update('a', 5n, 'u1');
    h.update('b', 7n, 'u2');
    h.kill(1); // acknowledged u2 is gone
    h.update('a', 1n, 'u3');
    const v = checkDurability(h.observation());
    expect(v.passed).toBe(false);
    expect(v.evidence.join('\n')).toMatch(
      /tx u2: acknowledged at .*before kill #1.*missing after the last restart/,
    );
  });

  it('fails when a retried write is applied a second time after the restart', () => {
    const h = new CrashHistory({ a: 100n });
    h.update('a', 5n, 'u1', { lost: true, applied: true });
    h.kill();
    h.update('a', 5n, 'u1', { forgetId: true }); // executes again instead of replaying
    const v = checkDurability(h.observation());
    expect(v.passed).toBe(false);
    expect(v.evidence.join('\n')).toMatch(/entries belong to no write, e\.g\. one applied twice/);
  });

  it('fails when an acknowledged write is executed twice across a restart', () => {
    const h = new CrashHistory({ a: 100n });
    h.update('a', 5n, 'u1');
    h.kill();
    h.update('a', 5n, 'u1', { forgetId: true });
    const v = checkDurability(h.observation());
    expect(v.passed).toBe(false);
    expect(v.evidence[0]).toBe('tx u1: applied 2 times (a retried id must replay):');
  });

  it('fails when the final state is not what the log replays to (a half-applied write)', () => {
    const o = crashRun().observation();
    const final = o.finalSnapshot!;
    o.finalSnapshot = {
      ...final,
      accounts: final.accounts.map((a) => (a.accountId === 'a' ? { ...a, balance: a.balance + 1n } : a)),
    };
    const v = checkDurability(o);
    expect(v.passed).toBe(false);
    expect(v.evidence.join('\n')).toMatch(
      /account a: final balance 107 version 3, the log replays to balance 106 version 3/,
    );
  });

  it('fails when an entry disagrees with the balances acknowledged for it', () => {
    const o = crashRun().observation();
    const entry = o.logEntries.get('u1') as LogEntryView;
    o.logEntries.set('u1', { ...entry, balancesAfter: [999n] });
    const v = checkDurability(o);
    expect(v.passed).toBe(false);
    expect(v.evidence.join('\n')).toMatch(
      /tx u1: log entry 3 has balances_after \[999\], acknowledged \[105\]/,
    );
  });

  it('fails when the server did not come back after a kill', () => {
    const o = {
      ...crashRun().observation(),
      serverFailures: ['kill #2: the server did not come back: exited (code 2)'],
    };
    const v = checkDurability(o);
    expect(v.passed).toBe(false);
    expect(v.evidence).toContain('kill #2: the server did not come back: exited (code 2)');
  });
});
