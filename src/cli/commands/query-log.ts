import type { Command } from 'commander';
import type { LogEntryResult } from '../../client/ledger-client.js';
import { validateTransactionId } from '../../domain/validate.js';
import { checkLocally } from '../check-locally.js';
import { withExamples } from '../help-examples.js';
import { formatTimestampNs, printJson, printLine, recordTable } from '../output.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';

export function registerQueryLog(program: Command): void {
  withExamples(
    addConnectionOptions(
      program
        .command('query-log')
        .description('print the audit-log entry of one transaction id')
        .argument('<txid>', 'transaction id of a committed write'),
    ),
    ['ledgerctl query-log pay-1', 'ledgerctl query-log pay-1 --json --target dns:ledger.internal:50051'],
  ).action(async (txid: string, options: ConnectionOptions) => {
    checkLocally(() => validateTransactionId(txid));
    const { value: entry } = await withLedger(options, (client) => client.getTransaction(txid));
    if (options.json) printJson(logEntryJson(entry));
    else printLine(logEntryTable(entry));
  });
}

/** Field names as in ledger.v1 LogEntry, so the JSON reads like the contract. */
function logEntryJson(entry: LogEntryResult) {
  return {
    position: entry.position,
    transaction_id: entry.transactionId,
    timestamp: formatTimestampNs(entry.timestampNs),
    operation: entry.operation,
    account_ids: entry.accountIds,
    amount: entry.amount,
    balances_after: entry.balancesAfter,
    status: entry.status,
    principal: entry.principal,
  };
}

function logEntryTable(entry: LogEntryResult): string {
  return recordTable([
    ['position', entry.position.toString()],
    ['transaction id', entry.transactionId],
    ['timestamp', formatTimestampNs(entry.timestampNs)],
    ['operation', entry.operation],
    ['accounts', entry.accountIds.join(', ')],
    ['amount', entry.amount.toString()],
    ['balances after', entry.balancesAfter.map((b) => b.toString()).join(', ')],
    ['status', entry.status],
    ['principal', entry.principal === '' ? '(none: server without authentication)' : entry.principal],
  ]);
}
