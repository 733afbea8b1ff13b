import type { Command } from 'commander';
import { validateAccountId } from '../../domain/validate.js';
import { accountJson, accountsTable } from '../account-view.js';
import { checkLocally } from '../check-locally.js';
import { withExamples } from '../help-examples.js';
import { printJson, printLine } from '../output.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';

export function registerBalance(program: Command): void {
  withExamples(
    addConnectionOptions(
      program
        .command('balance')
        .description("print one account's balance (integer minor units) and version")
        .argument('<account-id>', 'the account to read'),
    ),
    ['ledgerctl balance alice', 'LEDGER_TARGET=[::1]:50051 ledgerctl balance alice --json'],
  ).action(async (accountId: string, options: ConnectionOptions) => {
    checkLocally(() => validateAccountId(accountId));
    const { value: account } = await withLedger(options, (client) => client.getBalance(accountId));
    if (options.json) printJson(accountJson(account));
    else printLine(accountsTable([account]).toString());
  });
}
