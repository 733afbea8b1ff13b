import type { Command } from 'commander';
import type { SnapshotResult } from '../../client/ledger-client.js';
import { accountJson, accountsTable } from '../account-view.js';
import { withExamples } from '../help-examples.js';
import { printJson, printLine, recordTable } from '../output.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';

interface SnapshotOptions extends ConnectionOptions {
  accounts: boolean;
}

export function registerSnapshot(program: Command): void {
  withExamples(
    addConnectionOptions(
      program
        .command('snapshot')
        .description('print a consistent snapshot: the total, the account count and the log position')
        .option('--accounts', 'also list every account (sorted by id) with its balance', false),
    ),
    ['ledgerctl snapshot', 'ledgerctl snapshot --accounts --json --target 127.0.0.1:50052'],
  ).action(async (options: SnapshotOptions) => {
    const { value: snapshot } = await withLedger(options, (client) => client.getSnapshot(options.accounts));
    if (options.json) printJson(snapshotJson(snapshot, options.accounts));
    else printLine(options.accounts ? accountsWithTotal(snapshot) : totals(snapshot));
  });
}

function snapshotJson(snapshot: SnapshotResult, withAccounts: boolean) {
  return {
    total_balance: snapshot.totalBalance,
    account_count: snapshot.accountCount,
    log_position: snapshot.logPosition,
    ...(withAccounts ? { accounts: snapshot.accounts.map(accountJson) } : {}),
  };
}

function totals(snapshot: SnapshotResult): string {
  return recordTable([
    ['total balance', snapshot.totalBalance.toString()],
    ['accounts', snapshot.accountCount.toString()],
    ['log position', snapshot.logPosition.toString()],
  ]);
}

function accountsWithTotal(snapshot: SnapshotResult): string {
  const table = accountsTable(snapshot.accounts);
  table.push([
    `total (${snapshot.accountCount} accounts, log position ${snapshot.logPosition})`,
    snapshot.totalBalance.toString(),
    '',
  ]);
  return table.toString();
}
