import { describe, expect, it } from 'vitest';
import {
  checkInvariants,
  INVARIANT_NAMES,
  type InvariantExpectations,
} from '../src/harness/checkers/index.js';
import type {
  AccountView,
  InvariantVerdict,
  LogEntryView,
  OpArgs,
  OpKind,
  OpRecord,
  RunObservation,
} from '../src/harness/history.js';

interface CallOpts {
  tx?: string;
  caller?: number;
  phase?: string;
  /** Record the call as timed out; `applied` says whether the model applies it anyway. */
  info?: boolean;
  applied?: boolean;
}

/**
 * A tiny correct ledger that records every call it serves as the harness would. Tests build a
 * correct history with it, then tamper with one thing and expect exactly that to be caught.
 */
class History {
  readonly records: OpRecord[] = [];
  readonly accounts = new Map<string, AccountView>();
  readonly log = new Map<string, LogEntryView>();
  readonly outcomes = new Map<string, OpRecord>();
  readonly initial: Map<string, bigint>;
  private nextPosition = 1n;
  private nextTx = 1;
  private clock = 0n;

  constructor(initial: Record<string, bigint>) {
    this.initial = new Map(Object.entries(initial));
    for (const [id, balance] of this.initial) this.commit('create', [id], balance, `setup-${id}`, [balance]);
    for (const [id, balance] of this.initial) this.accounts.set(id, { accountId: id, balance, version: 0n });
    this.log.clear(); // set-up entries are outside the history (they only consume positions 1..n)
  }

  private commit(operation: string, ids: string[], amount: bigint, txid: string, after: bigint[]) {
    const position = this.nextPosition++;
    const timestampNs = 1_700_000_000_000_000_000n + position;
    this.log.set(txid, {
      position,
      transactionId: txid,
      timestampNs,
      operation,
      accountIds: ids,
      amount,
      balancesAfter: after,
      status: 'OK',
      principal: '',
    });
  }

  private record(op: OpKind, args: OpArgs, opts: CallOpts, result: Partial<OpRecord>): OpRecord {
    const invokeNs = this.clock;
    this.clock += 10n;
    const r: OpRecord = {
      index: this.records.length,
      phase: opts.phase ?? 'main',
      group: 'g',
      caller: opts.caller ?? 0,
      op,
      args,
      invokeNs,
      completeNs: invokeNs + 5n,
      type: 'ok',
      ...result,
    };
    this.records.push(r);
    return r;
  }

  private write(op: OpKind, args: OpArgs, opts: CallOpts, run: () => Partial<OpRecord>): OpRecord {
    const txid = args.transactionId;
    const previous = txid ? this.outcomes.get(txid) : undefined;
    if (previous !== undefined) {
      const { type, code, message, accounts, resultTransactionId } = previous;
      return this.record(op, args, opts, {
        type,
        code,
        message,
        accounts,
        resultTransactionId,
        replayed: true,
      });
    }
    if (opts.info) {
      if (opts.applied) run();
      return this.record(op, args, opts, {
        type: 'info',
        code: 'DEADLINE_EXCEEDED',
        message: 'Deadline exceeded',
      });
    }
    const r = this.record(op, args, opts, run());
    if (txid) this.outcomes.set(txid, r);
    return r;
  }

  private bump(id: string, delta: bigint): AccountView {
    const a = this.accounts.get(id)!;
    const next = { accountId: id, balance: a.balance + delta, version: a.version + 1n };
    this.accounts.set(id, next);
    return next;
  }

  create(id: string, amount: bigint, opts: CallOpts = {}): OpRecord {
    const args = { accountId: id, amount, ...(opts.tx ? { transactionId: opts.tx } : {}) };
    return this.write('create', args, opts, () => {
      if (this.accounts.has(id))
        return { type: 'fail', code: 'ALREADY_EXISTS', message: `Account ${id} already exists` };
      const txid = opts.tx ?? `gen-${this.nextTx++}`;
      const a = { accountId: id, balance: amount, version: 0n };
      this.accounts.set(id, a);
      this.commit('create', [id], amount, txid, [amount]);
      return { accounts: [a], resultTransactionId: txid };
    });
  }

  update(id: string, delta: bigint, opts: CallOpts = {}): OpRecord {
    const txid = opts.tx ?? `t${this.nextTx++}`;
    return this.write('update', { accountId: id, amount: delta, transactionId: txid }, opts, () => {
      const a = this.accounts.get(id);
      if (a === undefined) return { type: 'fail', code: 'NOT_FOUND', message: `Account ${id} not found` };
      if (a.balance + delta < 0n) {
        const message = `Insufficient balance: current=${a.balance}, delta=${delta}`;
        return { type: 'fail', code: 'FAILED_PRECONDITION', message };
      }
      const after = this.bump(id, delta);
      this.commit('update', [id], delta, txid, [after.balance]);
      return { accounts: [after], resultTransactionId: txid };
    });
  }

  transfer(from: string, to: string, amount: bigint, opts: CallOpts = {}): OpRecord {
    const txid = opts.tx ?? `t${this.nextTx++}`;
    return this.write('transfer', { fromId: from, toId: to, amount, transactionId: txid }, opts, () => {
      const a = this.accounts.get(from)!;
      if (a.balance < amount) {
        const message = `Insufficient balance in account ${from}: current=${a.balance}, required=${amount}`;
        return { type: 'fail', code: 'FAILED_PRECONDITION', message };
      }
      const f = this.bump(from, -amount);
      const t = this.bump(to, amount);
      this.commit('transfer', [from, to], amount, txid, [f.balance, t.balance]);
      return { accounts: [f, t], resultTransactionId: txid };
    });
  }

  get(id: string, opts: CallOpts = {}): OpRecord {
    const a = this.accounts.get(id);
    if (a === undefined) {
      return this.record('get', { accountId: id }, opts, {
        type: 'fail',
        code: 'NOT_FOUND',
        message: `Account ${id} not found`,
      });
    }
    return this.record('get', { accountId: id }, opts, { accounts: [{ ...a }] });
  }

  snapshot(opts: CallOpts = {}): OpRecord {
    return this.record('snapshot', { includeAccounts: true }, opts, { snapshot: this.state() });
  }

  state() {
    const accounts = [...this.accounts.values()].sort((x, y) => (x.accountId < y.accountId ? -1 : 1));
    const totalBalance = accounts.reduce((s, a) => s + a.balance, 0n);
    const logPosition = this.nextPosition - 1n;
    return {
      totalBalance,
      accountCount: BigInt(accounts.length),
      logPosition,
      accounts: accounts.map((a) => ({ ...a })),
    };
  }

  /** What the harness hands the checkers: final state, and the log looked up for every write id. */
  observation(): RunObservation {
    const logEntries = new Map<string, LogEntryView | 'not-found'>();
    for (const r of this.records) {
      const txid = r.args.transactionId || r.resultTransactionId;
      if (txid && r.op !== 'query') logEntries.set(txid, this.log.get(txid) ?? 'not-found');
    }
    return {
      initialBalances: this.initial,
      initialLogPosition: BigInt(this.initial.size),
      finalSnapshot: this.state(),
      logEntries,
      records: this.records,
      stuckPhases: [],
    };
  }
}

// Durability overlaps several of these on purpose (a lost or doubled write breaks the log
// replay too); it has its own violations in checkers-durability.test.ts, so each case here pins
// the per-run invariants only.
const ALL: InvariantExpectations = {
  invariants: INVARIANT_NAMES.filter((n) => n !== 'durability'),
  allowedErrorCodes: ['FAILED_PRECONDITION', 'NOT_FOUND', 'ALREADY_EXISTS'],
  transferOnlyPhases: ['storm'],
};

function verdicts(
  o: RunObservation,
  overrides: Partial<InvariantExpectations> = {},
): Map<string, InvariantVerdict> {
  return new Map(checkInvariants(o, { ...ALL, ...overrides }).map((v) => [v.name, v]));
}

/** The named checkers failed, every other one passed: a violation is pinned on the right invariant. */
function expectFailures(
  o: RunObservation,
  failing: string[],
  overrides: Partial<InvariantExpectations> = {},
) {
  const result = verdicts(o, overrides);
  const failed = [...result.values()].filter((v) => !v.passed).map((v) => v.name);
  expect(failed.sort()).toEqual([...failing].sort());
  for (const name of failing) expect(result.get(name)!.evidence.length).toBeGreaterThan(0);
  return result;
}

/** A correct run touching every kind of call: creates, updates, transfers, reads, replays, a refusal. */
function correctHistory(): History {
  const h = new History({ a: 1000n, b: 500n });
  h.create('c', 50n, { caller: 1 });
  h.create('d', 0n, { caller: 1, tx: 'create-d' });
  h.update('a', 10n, { caller: 0, tx: 'u1' });
  h.update('a', 10n, { caller: 2, tx: 'u1' }); // a concurrent duplicate: replayed
  h.update('b', -600n, { caller: 1, tx: 'overdraft' }); // refused, recorded
  h.update('b', -600n, { caller: 2, tx: 'overdraft' }); // the refusal replayed
  h.get('a', { caller: 0 });
  h.transfer('a', 'b', 100n, { caller: 3, phase: 'storm' });
  h.snapshot({ caller: 3, phase: 'storm' });
  h.transfer('b', 'c', 25n, { caller: 0, phase: 'storm' });
  h.snapshot({ caller: 0, phase: 'storm' });
  h.get('b', { caller: 3 });
  return h;
}

describe('checkInvariants on a correct history', () => {
  it('passes every invariant, one verdict per name in the requested order', () => {
    const o = correctHistory().observation();
    const result = checkInvariants(o, { ...ALL, invariants: [...INVARIANT_NAMES] });
    expect(result.map((v) => v.name)).toEqual([...INVARIANT_NAMES]);
    for (const v of result)
      expect(v, `${v.name}: ${v.evidence.join('\n')}`).toMatchObject({ passed: true, evidence: [] });
  });

  it('checks only what is asked for', () => {
    const o = correctHistory().observation();
    expect(
      checkInvariants(o, { ...ALL, invariants: ['audit-log', 'conservation'] }).map((v) => v.name),
    ).toEqual(['audit-log', 'conservation']);
  });
});

describe('each violation fails the right checker', () => {
  it('a lost update fails conservation and exact-balances', () => {
    const h = new History({ acc: 1000n });
    for (let i = 0; i < 5; i++) h.update('acc', 10n, { caller: i });
    const o = h.observation();
    // The server acknowledged five +10 but ends at 1040 with version 4: one update was lost.
    o.finalSnapshot = {
      ...o.finalSnapshot!,
      totalBalance: 1040n,
      accounts: [{ accountId: 'acc', balance: 1040n, version: 4n }],
    };
    const result = expectFailures(o, ['conservation', 'exact-balances']);
    expect(result.get('exact-balances')!.evidence[0]).toContain(
      'account acc: final balance 1040 version 4; expected balance 1050',
    );
  });

  it('the scenario exact final balance is enforced', () => {
    const h = new History({ acc: 0n });
    h.update('acc', 1n);
    expectFailures(h.observation(), ['exact-balances'], { finalBalances: { acc: 2n } });
    expectFailures(h.observation(), [], { finalBalances: { acc: 1n } });
  });

  it('a torn snapshot (total != sum of its accounts) fails no-torn-snapshot', () => {
    const h = correctHistory();
    const snap = h.records.find((r) => r.op === 'snapshot')!;
    snap.snapshot!.accounts[0] = {
      ...snap.snapshot!.accounts[0]!,
      balance: snap.snapshot!.accounts[0]!.balance - 100n,
    };
    const result = expectFailures(h.observation(), ['no-torn-snapshot']);
    expect(result.get('no-torn-snapshot')!.evidence[0]).toMatch(
      /total_balance=1560 but its 4 accounts sum to 1460/,
    );
  });

  it('a half-moved transfer seen consistently in a transfer-only phase fails no-torn-snapshot', () => {
    const h = correctHistory();
    const snap = h.records.find((r) => r.op === 'snapshot')!.snapshot!;
    // Debited but not yet credited: self-consistent, yet money is missing mid-phase.
    snap.accounts = snap.accounts.map((a) => (a.accountId === 'b' ? { ...a, balance: a.balance - 100n } : a));
    snap.totalBalance -= 100n;
    const result = expectFailures(h.observation(), ['no-torn-snapshot']);
    expect(result.get('no-torn-snapshot')!.evidence[0]).toContain(
      "transfer-only phase 'storm' total 1460, expected 1560",
    );
    // Outside a transfer-only phase only internal consistency is required.
    expectFailures(h.observation(), [], { transferOnlyPhases: [] });
  });

  it('a snapshot whose account_count disagrees with its accounts fails no-torn-snapshot', () => {
    const h = correctHistory();
    h.records.find((r) => r.op === 'snapshot')!.snapshot!.accountCount = 5n;
    expectFailures(h.observation(), ['no-torn-snapshot']);
  });

  it('a double-applied transaction id fails idempotency, exact-balances, conservation and audit-log', () => {
    const h = new History({ acc: 100n });
    const first = h.update('acc', 5n, { tx: 'dup' });
    // The server executed the duplicate again instead of replaying it.
    h.outcomes.delete('dup');
    const log = h.log.get('dup')!;
    h.update('acc', 5n, { tx: 'dup', caller: 1 });
    h.log.set('dup', log); // GetTransaction finds one entry; the second one sits at position 3
    const o = h.observation();
    const result = expectFailures(o, ['idempotency', 'exact-balances', 'conservation', 'audit-log']);
    expect(result.get('idempotency')!.evidence[0]).toBe(
      'tx dup: executed 2 times (expected once, the rest replayed)',
    );
    expect(first.accounts![0]!.version).toBe(1n);
  });

  it('a zero-amount double application is still caught by the version count', () => {
    const h = new History({ acc: 100n });
    h.update('acc', 0n, { tx: 'zero' });
    const o = h.observation();
    o.finalSnapshot!.accounts[0]!.version = 2n;
    expectFailures(o, ['exact-balances']);
  });

  it('a missing log entry fails audit-log', () => {
    const h = correctHistory();
    const o = h.observation();
    o.logEntries.set('u1', 'not-found');
    const result = expectFailures(o, ['audit-log']);
    expect(result.get('audit-log')!.evidence[0]).toMatch(
      /^tx u1: acknowledged but no log entry \(NOT_FOUND\)/,
    );
  });

  it('a log entry with the wrong fields fails audit-log', () => {
    const o = correctHistory().observation();
    const entry = o.logEntries.get('u1') as LogEntryView;
    o.logEntries.set('u1', { ...entry, balancesAfter: [999n] });
    const result = expectFailures(o, ['audit-log']);
    expect(result.get('audit-log')!.evidence[0]).toContain(
      'balances_after [999] (expected [1010] as returned)',
    );
  });

  it('a log entry for a failed write fails audit-log', () => {
    const o = correctHistory().observation();
    o.logEntries.set('overdraft', {
      position: 99n,
      transactionId: 'overdraft',
      timestampNs: 1n,
      operation: 'update',
      accountIds: ['b'],
      amount: -600n,
      balancesAfter: [-100n],
      status: 'OK',
      principal: '',
    });
    // The phantom entry also leaves a gap and shows a negative balance.
    const result = expectFailures(o, ['audit-log', 'no-negative-balance']);
    expect(result.get('audit-log')!.evidence[0]).toMatch(/^tx overdraft: failed write has log entry 99/);
  });

  it('non-dense log positions fail audit-log, duplicated positions too', () => {
    const o = correctHistory().observation();
    const entry = o.logEntries.get('u1') as LogEntryView;
    o.logEntries.set('u1', { ...entry, position: entry.position + 100n });
    expect(verdicts(o).get('audit-log')!.evidence.join('\n')).toMatch(/log positions not dense: \d+ missing/);
    o.logEntries.set('u1', { ...entry, position: entry.position + 1n });
    expect(verdicts(o).get('audit-log')!.evidence.join('\n')).toMatch(/log position \d+ held by both/);
    expectFailures(o, ['audit-log', 'idempotency']);
  });

  it('a negative balance anywhere fails no-negative-balance', () => {
    const h = correctHistory();
    h.records.find((r) => r.op === 'get')!.accounts![0]!.balance = -1n;
    const result = expectFailures(h.observation(), ['no-negative-balance']);
    expect(result.get('no-negative-balance')!.evidence[0]).toContain('account a balance -1');
  });

  it('a version going backwards for one caller fails monotonic-reads', () => {
    const h = new History({ acc: 100n });
    h.update('acc', 1n, { caller: 1 });
    h.get('acc', { caller: 0 });
    h.update('acc', 1n, { caller: 1 });
    h.get('acc', { caller: 0 });
    h.get('acc', { caller: 0 }).accounts![0]!.version = 1n; // a stale replica answered
    const result = expectFailures(h.observation(), ['monotonic-reads']);
    expect(result.get('monotonic-reads')!.evidence[0]).toMatch(
      /^caller 0, account acc: version 1 seen after version 2 \(#3\)/,
    );
  });

  it("a snapshot's log position going backwards for one caller fails monotonic-reads", () => {
    const h = new History({ acc: 100n });
    h.snapshot();
    h.update('acc', 1n, { caller: 1 });
    h.snapshot();
    h.snapshot().snapshot!.logPosition = 1n;
    expectFailures(h.observation(), ['monotonic-reads']);
  });

  it('a replayed answer with older versions is not a read going backwards', () => {
    const h = new History({ acc: 100n });
    h.update('acc', 1n, { tx: 'x' });
    h.update('acc', 1n);
    h.update('acc', 1n, { tx: 'x' }); // replay carries version 1 after the caller saw 2
    expectFailures(h.observation(), []);
  });

  it("a read not seeing the caller's own write fails read-your-writes", () => {
    const h = new History({ acc: 100n });
    h.update('acc', 5n, { caller: 4 });
    const read = h.get('acc', { caller: 4 });
    read.accounts = [{ accountId: 'acc', balance: 100n, version: 0n }];
    // The caller's own write answer showed version 1, so monotonic-reads sees it too.
    const result = expectFailures(h.observation(), ['read-your-writes', 'monotonic-reads']);
    expect(result.get('read-your-writes')!.evidence[0]).toMatch(
      /caller 4, account acc: own write #0 returned version 1/,
    );
  });

  it('a NOT_FOUND after the caller created the account fails read-your-writes', () => {
    const h = new History({});
    h.create('n', 1n, { caller: 2 });
    const read = h.get('n', { caller: 2 });
    Object.assign(read, {
      type: 'fail',
      code: 'NOT_FOUND',
      message: 'Account n not found',
      accounts: undefined,
    });
    expectFailures(h.observation(), ['read-your-writes']);
  });

  it('a replay with a different body fails idempotency', () => {
    const h = correctHistory();
    const replay = h.records.find((r) => r.replayed && r.type === 'ok')!;
    replay.accounts = [{ accountId: 'a', balance: 1020n, version: 2n }];
    const result = expectFailures(h.observation(), ['idempotency']);
    expect(result.get('idempotency')!.evidence[0]).toMatch(/^tx u1: #3 .* differs from the original #2/);
  });

  it('a replayed error with a different message fails idempotency', () => {
    const h = correctHistory();
    const replay = h.records.find((r) => r.replayed && r.type === 'fail')!;
    replay.message = 'Insufficient balance: current=400, delta=-600';
    expectFailures(h.observation(), ['idempotency']);
  });

  it('a duplicate answered as executed instead of replayed fails idempotency', () => {
    const h = correctHistory();
    h.records.find((r) => r.replayed && r.type === 'ok')!.replayed = false;
    expectFailures(h.observation(), ['idempotency']);
  });

  it('a reused id with other parameters must get ALREADY_EXISTS with the exact message', () => {
    const h = new History({ acc: 100n, b: 0n });
    h.update('acc', 5n, { tx: 'same' });
    const reuse = h.transfer('acc', 'b', 5n, { tx: 'same' });
    Object.assign(reuse, {
      type: 'fail',
      code: 'ALREADY_EXISTS',
      message: 'Transaction same already exists with different parameters',
      accounts: undefined,
      replayed: false,
    });
    expectFailures(h.observation(), []);
    reuse.message = 'Transaction same already exists';
    expectFailures(h.observation(), ['idempotency']);
    Object.assign(reuse, { type: 'ok', accounts: [{ accountId: 'acc', balance: 95n, version: 2n }] });
    expect(verdicts(h.observation()).get('idempotency')!.evidence[0]).toBe(
      'tx same: outcomes decided for 2 different parameter sets',
    );
  });

  it('a stuck call fails no-deadlock and names the stuck ops', () => {
    const h = new History({ A: 10n, B: 10n });
    const ab = h.transfer('A', 'B', 1n, { info: true });
    const ba = h.transfer('B', 'A', 1n, { info: true, caller: 1 });
    const o = h.observation();
    o.stuckPhases = [{ phase: 'main', timeoutMs: 5000, pending: [ab, ba] }];
    const result = expectFailures(o, ['no-deadlock']);
    expect(result.get('no-deadlock')!.evidence).toEqual([
      "phase 'main' hit its 5000 ms timeout with 2 calls pending",
      '  stuck: #0 caller 0 [g] transfer(A -> B, amount=1, tx=t1)',
      '  stuck: #1 caller 1 [g] transfer(B -> A, amount=1, tx=t2)',
    ]);
  });

  it('an unexpected error code fails expected-errors; deadlines are counted, not failed', () => {
    const h = correctHistory();
    h.update('a', 1n, { info: true });
    const o = h.observation();
    const ok = verdicts(o).get('expected-errors')!;
    expect(ok.passed).toBe(true);
    expect(ok.summary).toContain('indeterminate: 1 DEADLINE_EXCEEDED');
    const result = expectFailures(o, ['expected-errors'], { allowedErrorCodes: ['NOT_FOUND'] });
    expect(result.get('expected-errors')!.evidence[0]).toMatch(/^unexpected FAILED_PRECONDITION: #4 /);
  });
});

describe('indeterminate (timed-out) writes', () => {
  for (const applied of [true, false]) {
    it(`are accepted ${applied ? 'applied' : 'not applied'}, by every checker`, () => {
      const h = new History({ a: 100n, b: 100n });
      h.update('a', 7n, { info: true, applied });
      h.create('n', 30n, { info: true, applied, tx: 'maybe-create' });
      h.transfer('a', 'b', 50n, { info: true, applied, caller: 1 });
      h.update('b', 1n);
      expectFailures(h.observation(), []);
    });
  }

  it('a retry replaying the timed-out write settles it as applied', () => {
    const h = new History({ a: 100n });
    h.update('a', 7n, { info: true, applied: false, tx: 'retry' });
    h.update('a', 7n, { tx: 'retry' }); // first executed here (the timed-out one never arrived)
    h.update('a', 7n, { tx: 'retry', caller: 1 });
    expectFailures(h.observation(), []);
  });

  it('a total unreachable by any subset of them fails conservation (exact subset-sum)', () => {
    const h = new History({ a: 100n });
    h.update('a', 7n, { info: true, applied: true });
    h.update('a', 20n, { info: true, applied: false });
    const o = h.observation();
    const ok = verdicts(o).get('conservation')!;
    expect(ok.passed).toBe(true);
    expect(ok.summary).toContain('exact subset-sum over 2 indeterminate writes');
    // 100 + {0,7} + {0,20} = {100, 107, 120, 127}: 110 is within the bounds yet reachable by no subset.
    o.finalSnapshot = {
      ...o.finalSnapshot!,
      totalBalance: 110n,
      accounts: [{ accountId: 'a', balance: 110n, version: 1n }],
    };
    const result = expectFailures(o, ['conservation', 'exact-balances']);
    expect(result.get('conservation')!.evidence[0]).toContain('expected one of {100, 107, 120, 127}');
  });

  it('many of them fall back to bounds and say so', () => {
    const h = new History({ a: 0n });
    for (let i = 0; i < 16; i++) h.update('a', 3n ** BigInt(i), { info: true, applied: i % 2 === 0 });
    const o = h.observation();
    const v = verdicts(o).get('conservation')!;
    expect(v.passed).toBe(true);
    expect(v.summary).toMatch(/bounds only \[0, \d+\] over 16 indeterminate writes/);
    o.finalSnapshot = {
      ...o.finalSnapshot!,
      totalBalance: -1n,
      accounts: [{ accountId: 'a', balance: -1n, version: 1n }],
    };
    expect(verdicts(o).get('conservation')!.passed).toBe(false);
  });
});

describe('audit-log with entries that cannot be fetched', () => {
  it('creates without a transaction id (no id in the answer) may fill positions', () => {
    const h = new History({ a: 1n });
    h.update('a', 1n);
    h.create('anon', 5n).resultTransactionId = undefined; // CreateAccount answers only the Account
    h.update('a', 1n);
    const o = h.observation();
    expect([...o.logEntries.keys()]).toEqual(['t1', 't3']);
    const v = verdicts(o).get('audit-log')!;
    expect(v.passed).toBe(true);
    expect(v.summary).toContain('1 creates without an id');
  });
});
