import type { ClientSecurity } from '../../client/client-security.js';
import {
  type Account,
  type BatchItemResult,
  type BatchOperation,
  LedgerCallError,
  type LedgerClient,
  type LogEntryResult,
  type Reply,
  type SnapshotResult,
  type TransferResult,
  type UpdateResult,
} from '../../client/ledger-client.js';
import type { AccountView, OpArgs, OpKind, OpRecord } from '../history.js';

/** What one call gave back: the value, or the status code name and the server's exact message. */
export type Outcome<T> =
  | { ok: true; value: T; replayed: boolean }
  | { ok: false; code: string; message: string; replayed: boolean };

/** Shared by every rule of one run: the client, the run's unique id prefix, the recorded calls. */
export interface KitState {
  client: LedgerClient;
  target: string;
  security: ClientSecurity | undefined;
  prefix: string;
  deadlineMs: number;
  startNs: bigint;
  records: OpRecord[];
}

/** Ids and values in violation lines stay readable (a 10,000-char id is shown by its length). */
export function show(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') {
    return value.length > 60 ? `"${value.slice(0, 12)}…" (${value.length} chars)` : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${show(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

export function showOutcome(outcome: Outcome<unknown>): string {
  const replay = outcome.replayed ? ' [ledger-replayed: true]' : '';
  return outcome.ok ? `OK ${show(outcome.value)}${replay}` : `${outcome.code} '${outcome.message}'${replay}`;
}

const accountView = (a: Account): AccountView => ({
  accountId: a.accountId,
  balance: a.balance,
  version: a.version,
});

/**
 * One rule's view of the target: every call is recorded (for the run's history) and described
 * (for violation lines), and assertions collect violations instead of throwing, so one run
 * reports everything a rule finds.
 */
export class RuleContext {
  readonly violations: string[] = [];
  private last = '';

  constructor(
    private readonly kit: KitState,
    readonly rule: string,
    private readonly caller: number,
  ) {}

  /** A fresh id for this run and rule: unique on a shared server. */
  id(label: string): string {
    return `${this.kit.prefix}-${this.rule}-${label}`;
  }

  get target(): string {
    return this.kit.target;
  }

  /** How the kit's own clients connect (TLS for health and reflection too). */
  get security(): ClientSecurity | undefined {
    return this.kit.security;
  }

  get deadlineMs(): number {
    return this.kit.deadlineMs;
  }

  /** The description of the latest request, for violation lines. */
  get request(): string {
    return this.last;
  }

  private async call<T>(
    op: OpKind,
    args: OpArgs,
    description: string,
    run: () => Promise<Reply<T>>,
    view: (value: T) => Partial<OpRecord>,
  ): Promise<Outcome<T>> {
    this.last = description;
    const record: OpRecord = {
      index: this.kit.records.length,
      phase: 'conformance',
      group: this.rule,
      caller: this.caller,
      op,
      args,
      invokeNs: process.hrtime.bigint() - this.kit.startNs,
      completeNs: 0n,
      type: 'info',
    };
    this.kit.records.push(record);
    try {
      const reply = await run();
      Object.assign(record, { type: 'ok', replayed: reply.replayed, ...view(reply.value) });
      return { ok: true, value: reply.value, replayed: reply.replayed };
    } catch (err) {
      if (!(err instanceof LedgerCallError)) throw err;
      const code = err.codeName;
      const type = code === 'DEADLINE_EXCEEDED' || code === 'UNAVAILABLE' ? 'info' : 'fail';
      Object.assign(record, { type, code, message: err.details, replayed: err.replayed });
      return { ok: false, code, message: err.details, replayed: err.replayed };
    } finally {
      record.completeNs = process.hrtime.bigint() - this.kit.startNs;
    }
  }

  private get options() {
    return { deadlineMs: this.kit.deadlineMs };
  }

  create(accountId: string, initialBalance: bigint, transactionId = ''): Promise<Outcome<Account>> {
    const request = { account_id: accountId, initial_balance: initialBalance, transaction_id: transactionId };
    return this.call(
      'create',
      { accountId, amount: initialBalance, ...(transactionId ? { transactionId } : {}) },
      `CreateAccount${show(request)}`,
      () => this.kit.client.createAccount(accountId, initialBalance, transactionId, this.options),
      (a) => ({ accounts: [accountView(a)] }),
    );
  }

  get(accountId: string): Promise<Outcome<Account>> {
    return this.call(
      'get',
      { accountId },
      `GetBalance${show({ account_id: accountId })}`,
      () => this.kit.client.getBalance(accountId, this.options),
      (a) => ({ accounts: [accountView(a)] }),
    );
  }

  update(accountId: string, delta: bigint, transactionId: string): Promise<Outcome<UpdateResult>> {
    const request = { account_id: accountId, delta, transaction_id: transactionId };
    return this.call(
      'update',
      { accountId, amount: delta, transactionId },
      `UpdateBalance${show(request)}`,
      () => this.kit.client.updateBalance(accountId, delta, transactionId, this.options),
      (r) => ({ accounts: [accountView(r.account)], resultTransactionId: r.transactionId }),
    );
  }

  transfer(
    fromId: string,
    toId: string,
    amount: bigint,
    transactionId: string,
  ): Promise<Outcome<TransferResult>> {
    const request = { from_account_id: fromId, to_account_id: toId, amount, transaction_id: transactionId };
    return this.call(
      'transfer',
      { fromId, toId, amount, transactionId },
      `TransferFunds${show(request)}`,
      () => this.kit.client.transferFunds(fromId, toId, amount, transactionId, this.options),
      (r) => ({ accounts: [accountView(r.from), accountView(r.to)], resultTransactionId: r.transactionId }),
    );
  }

  snapshot(includeAccounts: boolean): Promise<Outcome<SnapshotResult>> {
    return this.call(
      'snapshot',
      { includeAccounts },
      `GetSnapshot${show({ include_accounts: includeAccounts })}`,
      () => this.kit.client.getSnapshot(includeAccounts, this.options),
      (s) => ({ snapshot: { ...s, accounts: s.accounts.map(accountView) } }),
    );
  }

  getTransaction(transactionId: string): Promise<Outcome<LogEntryResult>> {
    return this.call(
      'query',
      { transactionId },
      `GetTransaction${show({ transaction_id: transactionId })}`,
      () => this.kit.client.getTransaction(transactionId, this.options),
      (e) => ({ logEntry: e }),
    );
  }

  /**
   * ExecuteBatch. Each operation is recorded as the write it is (with the call's times and its
   * own outcome), so a history of batches reads like one of unary calls.
   */
  async batch(operations: readonly BatchOperation[]): Promise<Outcome<BatchItemResult[]>> {
    this.last = `ExecuteBatch[${operations.length} operations: ${operations
      .slice(0, 4)
      .map((op) => show(op))
      .join(', ')}${operations.length > 4 ? ', …' : ''}]`;
    const invokeNs = process.hrtime.bigint() - this.kit.startNs;
    const records: OpRecord[] = operations.map((op) => {
      const record: OpRecord = {
        index: this.kit.records.length,
        phase: 'conformance',
        group: this.rule,
        caller: this.caller,
        op: op.kind,
        args:
          op.kind === 'transfer'
            ? {
                fromId: op.fromAccountId,
                toId: op.toAccountId,
                amount: op.amount,
                transactionId: op.transactionId,
              }
            : {
                accountId: op.accountId,
                amount: op.kind === 'create' ? op.initialBalance : op.delta,
                ...(op.transactionId ? { transactionId: op.transactionId } : {}),
              },
        invokeNs,
        completeNs: 0n,
        type: 'info',
      };
      this.kit.records.push(record);
      return record;
    });
    try {
      const reply = await this.kit.client.executeBatch(operations, this.options);
      reply.value.forEach((item, i) => {
        const record = records[i];
        if (record === undefined) return;
        if (!item.ok) {
          Object.assign(record, {
            type: 'fail',
            code: item.codeName,
            message: item.message,
            replayed: item.replayed,
          });
        } else if (item.kind === 'create') {
          Object.assign(record, { type: 'ok', replayed: item.replayed, accounts: [accountView(item.value)] });
        } else if (item.kind === 'update') {
          const { account, transactionId } = item.value;
          Object.assign(record, {
            type: 'ok',
            replayed: item.replayed,
            accounts: [accountView(account)],
            resultTransactionId: transactionId,
          });
        } else {
          const { from, to, transactionId } = item.value;
          Object.assign(record, {
            type: 'ok',
            replayed: item.replayed,
            accounts: [accountView(from), accountView(to)],
            resultTransactionId: transactionId,
          });
        }
      });
      return { ok: true, value: reply.value, replayed: reply.replayed };
    } catch (err) {
      if (!(err instanceof LedgerCallError)) throw err;
      const code = err.codeName;
      const type = code === 'DEADLINE_EXCEEDED' || code === 'UNAVAILABLE' ? 'info' : 'fail';
      for (const record of records) Object.assign(record, { type, code, message: err.details });
      return { ok: false, code, message: err.details, replayed: err.replayed };
    } finally {
      const completeNs = process.hrtime.bigint() - this.kit.startNs;
      for (const record of records) record.completeNs = completeNs;
    }
  }

  /** Records a violation: the rule, the request, what came back and what the contract says. */
  violation(request: string, got: string, expected: string): void {
    this.violations.push(`${request} -> ${got}; expected ${expected}`);
  }

  /** The value of a successful call, or undefined (and a violation) otherwise. */
  expectOk<T>(outcome: Outcome<T>, request = this.last): T | undefined {
    if (outcome.ok) return outcome.value;
    this.violation(request, showOutcome(outcome), 'OK');
    return undefined;
  }

  /** A failed call with exactly this code and message (a RegExp where the contract leaves wording open). */
  expectError(outcome: Outcome<unknown>, code: string, message: string | RegExp, request = this.last): void {
    const matches =
      !outcome.ok &&
      outcome.code === code &&
      (typeof message === 'string' ? outcome.message === message : message.test(outcome.message));
    if (!matches) {
      const wanted = typeof message === 'string' ? `'${message}'` : `a message matching ${message}`;
      this.violation(request, showOutcome(outcome), `${code} ${wanted}`);
    }
  }

  /** The answer's ledger-replayed trailer is as the contract says. */
  expectReplayed(outcome: Outcome<unknown>, replayed: boolean, request = this.last): void {
    if (outcome.replayed !== replayed) {
      this.violation(
        request,
        showOutcome(outcome),
        replayed
          ? 'trailing metadata ledger-replayed: true'
          : 'no ledger-replayed trailer (a first execution)',
      );
    }
  }

  expectEqual(what: string, actual: unknown, expected: unknown, request = this.last): void {
    if (show(actual) !== show(expected))
      this.violation(request, `${what} ${show(actual)}`, `${what} ${show(expected)}`);
  }

  /** Creates an account the rule needs; a refusal is a violation and stops the rule. */
  async setupAccount(label: string, balance: bigint): Promise<string> {
    const id = this.id(label);
    const outcome = await this.create(id, balance);
    if (!outcome.ok) {
      this.violation(this.last, showOutcome(outcome), 'OK (setting up the rule)');
      throw new RuleAborted();
    }
    return id;
  }

  /** The account as the server holds it now (a violation and an abort when it cannot be read). */
  async current(accountId: string): Promise<Account> {
    const outcome = await this.get(accountId);
    if (!outcome.ok) {
      this.violation(this.last, showOutcome(outcome), 'OK');
      throw new RuleAborted();
    }
    return outcome.value;
  }

  /** Failures change nothing: the account still shows this balance and version. */
  async expectUnchanged(accountId: string, balance: bigint, version: bigint, after: string): Promise<void> {
    const a = await this.current(accountId);
    if (a.balance !== balance || a.version !== version) {
      this.violation(
        `${this.last} after ${after}`,
        `balance ${a.balance} version ${a.version}`,
        `balance ${balance} version ${version} (a failed request changes nothing)`,
      );
    }
  }
}

/** Thrown when a rule cannot go on (its setup failed); its violations so far are the verdict. */
export class RuleAborted extends Error {
  override readonly name = 'RuleAborted';
}
