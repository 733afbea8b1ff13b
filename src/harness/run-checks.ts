import { LedgerCallError, type LedgerClient } from '../client/ledger-client.js';
import { checkInvariants } from './checkers/index.js';
import type { FaultInjector } from './fault-injector.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { InvariantVerdict, LogEntryView, OpRecord, RunObservation } from './history.js';
import { isTransferOnly } from './load-plan.js';
import { WRITE_OP_KINDS } from './op-kinds.js';
import type { RunContext } from './run-context.js';
import type { RunRecorder } from './run-recorder.js';
import { type InitialState, snapshotOrUndefined } from './run-setup.js';
import type { ServerSource } from './server-source.js';

export const WRITE_OPS: ReadonlySet<string> = new Set(WRITE_OP_KINDS);

/** After the load: reads the final state and the log back, and runs the invariant checkers. */
export async function checkRun(
  ctx: RunContext,
  initial: InitialState,
  recorder: RunRecorder,
  stuckPhases: RunObservation['stuckPhases'],
  injector: FaultInjector | undefined,
): Promise<InvariantVerdict[]> {
  const { scenario, pool, deadlineMs, notes } = ctx;
  let why = '';
  const finalSnapshot = await snapshotOrUndefined(pool.first, deadlineMs, true, (w) => (why = w));
  if (finalSnapshot === undefined)
    notes.push(`final snapshot unavailable (${why}): balance checks have no final state`);
  const wantsLog = scenario.expect.invariants.some(
    (n) => n === 'audit-log' || n === 'idempotency' || n === 'durability',
  );
  const logEntries = wantsLog
    ? await fetchLogEntries(pool.clients, recorder.records, deadlineMs, notes)
    : new Map<string, LogEntryView | 'not-found'>();
  const observation: RunObservation = {
    initialBalances: initial.balances,
    initialVersions: initial.versions,
    initialLogPosition: initial.logPosition,
    kills: injector?.killTimesNs.map((atNs) => ({ atNs })),
    serverFailures: serverFailuresOf(ctx.server, injector),
    finalSnapshot,
    logEntries,
    records: recorder.records,
    stuckPhases,
  };
  const finalBalances =
    scenario.expect.final_balances === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(scenario.expect.final_balances).map(([id, b]) => [ctx.ids.account(id), b]),
        );
  return checkInvariants(observation, {
    invariants: scenario.expect.invariants,
    finalBalances,
    allowedErrorCodes: scenario.expect.allowed_errors,
    transferOnlyPhases: scenario.phases.filter(isTransferOnly).map((p) => p.name),
  });
}

/**
 * What the durability verdict reports of the servers (with faults only): restarts that did not
 * come back, and exits nobody asked for of *every* spawned instance (a PostgreSQL scenario's second
 * `serve` that died used to show only as "not SERVING ... (last: UNREACHABLE)").
 */
export function serverFailuresOf(
  server: Pick<ServerSource, 'spawned' | 'instances'>,
  injector: Pick<FaultInjector, 'restartFailures'> | undefined,
): string[] | undefined {
  if (injector === undefined) return undefined;
  const spawned = server.instances ?? (server.spawned === undefined ? [] : [server.spawned]);
  return [...injector.restartFailures, ...spawned.flatMap((s) => s.unexpectedExits)];
}

/** The log entry of every write transaction id in the history (bounded concurrency). */
async function fetchLogEntries(
  clients: readonly LedgerClient[],
  records: readonly OpRecord[],
  deadlineMs: number,
  notes: string[],
): Promise<Map<string, LogEntryView | 'not-found'>> {
  const txids = new Set<string>();
  for (const r of records) {
    if (!WRITE_OPS.has(r.op)) continue;
    const txid = r.resultTransactionId ?? r.args.transactionId;
    if (txid !== undefined) txids.add(txid);
  }
  const pending = [...txids];
  const entries = new Map<string, LogEntryView | 'not-found'>();
  let unknown = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(HARNESS_LIMITS.logFetchConcurrency, pending.length) }, async (_, w) => {
      const client = clients[w % clients.length]!;
      while (next < pending.length) {
        const txid = pending[next++]!;
        try {
          entries.set(txid, (await client.getTransaction(txid, { deadlineMs })).value);
        } catch (err) {
          if (err instanceof LedgerCallError && err.codeName === 'NOT_FOUND') entries.set(txid, 'not-found');
          else unknown++;
        }
      }
    }),
  );
  if (unknown > 0)
    notes.push(`${unknown} log entries could not be fetched (left out of the audit-log check)`);
  return entries;
}
