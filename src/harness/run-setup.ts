import * as grpc from '@grpc/grpc-js';
import { LedgerCallError, type LedgerClient } from '../client/ledger-client.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { SnapshotView } from './history.js';
import type { RunContext } from './run-context.js';
import { RunSetupError } from './run-setup-error.js';

export interface SetupAccount {
  id: string;
  balance: bigint;
}

/** The state before any phase ran: what the checkers compare the end against. */
export interface InitialState {
  accounts: SetupAccount[];
  balances: Map<string, bigint>;
  /** Undefined when the initial snapshot was unavailable (checkers then assume version 0). */
  versions: Map<string, bigint> | undefined;
  logPosition: bigint | undefined;
}

/** Creates the scenario's accounts, then reads the initial state back. */
export async function setUpAccounts(ctx: RunContext): Promise<InitialState> {
  const accounts = expandAccounts(ctx);
  await createAccounts(ctx.pool.clients, accounts, ctx.deadlineMs);
  const initial = await snapshotOrUndefined(ctx.pool.first, ctx.deadlineMs);
  const logPosition =
    initial?.logPosition ?? (await snapshotOrUndefined(ctx.pool.first, ctx.deadlineMs, false))?.logPosition;
  const balances = new Map<string, bigint>();
  const versions = new Map<string, bigint>();
  if (initial !== undefined) {
    for (const a of initial.accounts) {
      balances.set(a.accountId, a.balance);
      versions.set(a.accountId, a.version);
    }
  } else {
    ctx.notes.push('initial snapshot too large: initial balances are the scenario setup only');
    for (const a of accounts) balances.set(a.id, a.balance);
  }
  return { accounts, balances, versions: initial === undefined ? undefined : versions, logPosition };
}

function expandAccounts({ scenario, ids }: RunContext): SetupAccount[] {
  const accounts: SetupAccount[] = [];
  for (const spec of scenario.accounts) {
    if (spec.id !== undefined) accounts.push({ id: ids.account(spec.id), balance: spec.balance });
    else
      for (let i = 0; i < spec.count!; i++)
        accounts.push({ id: ids.account(`${spec.prefix}${i}`), balance: spec.balance });
  }
  if (accounts.length > HARNESS_LIMITS.maxSetupAccounts) {
    throw new RunSetupError(
      `${accounts.length} setup accounts exceed the limit of ${HARNESS_LIMITS.maxSetupAccounts}`,
    );
  }
  return accounts;
}

async function createAccounts(
  clients: readonly LedgerClient[],
  accounts: readonly SetupAccount[],
  deadlineMs: number,
): Promise<void> {
  let next = 0;
  const workers = Array.from(
    { length: Math.min(HARNESS_LIMITS.setupConcurrency, accounts.length) },
    async (_, w) => {
      const client = clients[w % clients.length]!;
      while (next < accounts.length) {
        const account = accounts[next++]!;
        try {
          await client.createAccount(account.id, account.balance, '', { deadlineMs });
        } catch (err) {
          const why = err instanceof LedgerCallError ? `${err.codeName} ${err.details}` : String(err);
          throw new RunSetupError(`setup: creating account ${account.id} failed: ${why}`);
        }
      }
    },
  );
  await Promise.all(workers);
}

export async function snapshotOrUndefined(
  client: LedgerClient,
  deadlineMs: number,
  includeAccounts = true,
  onGiveUp?: (why: string) => void,
): Promise<SnapshotView | undefined> {
  const giveUpAt = Date.now() + HARNESS_LIMITS.snapshotUnavailableRetryMs;
  for (;;) {
    try {
      const { value } = await client.getSnapshot(includeAccounts, { deadlineMs });
      return value;
    } catch (err) {
      const unavailable = err instanceof LedgerCallError && err.code === grpc.status.UNAVAILABLE;
      if (!unavailable || Date.now() >= giveUpAt) {
        onGiveUp?.(err instanceof LedgerCallError ? `${err.codeName} ${err.details}` : String(err));
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
