import { Argument, type Command } from 'commander';
import { validateTransfer } from '../../domain/validate.js';
import { checkLocally } from '../check-locally.js';
import { withExamples } from '../help-examples.js';
import { int64Arg } from '../option-parsers.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';
import { addTxidOption, printWriteResult, resolveTxid, type TxidOptions } from '../write-result.js';

export function registerTransfer(program: Command): void {
  const command = program
    .command('transfer')
    .description('move an amount from one account to another, atomically')
    .addArgument(new Argument('<from>', 'account to debit'))
    .addArgument(new Argument('<to>', 'account to credit'))
    .addArgument(new Argument('<amount>', 'integer minor units, above 0').argParser(int64Arg));
  withExamples(addTxidOption(addConnectionOptions(command)), [
    'ledgerctl transfer alice bob 250 --txid pay-1',
    'ledgerctl transfer alice bob 250 --txid pay-1    # again: replayed, nothing moves twice',
    'ledgerctl transfer alice bob 250 --json',
  ]).action(
    async (fromId: string, toId: string, amount: bigint, options: ConnectionOptions & TxidOptions) => {
      const { txid, generated } = resolveTxid(options);
      checkLocally(() => validateTransfer({ fromId, toId, amount, transactionId: txid }));
      const reply = await withLedger(
        options,
        (client) => client.transferFunds(fromId, toId, amount, txid),
        txid,
      );
      printWriteResult(
        { txid, generated, replayed: reply.replayed, accounts: [reply.value.from, reply.value.to] },
        options.json,
        'from-to',
      );
    },
  );
}
