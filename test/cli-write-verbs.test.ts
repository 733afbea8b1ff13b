import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, cleanEnv, closedPort, oneErrorLine, runCli } from './cli-run.js';

/** The README walkthrough, through the real CLI against a real `ledgerctl serve`. */
let serve: CliProcess;
let target: string;

beforeAll(async () => {
  serve = new CliProcess(['serve', '--port', '0', '--in-memory', '--log-level', 'silent']);
  target = /listening on (\S+) /.exec(await serve.firstLine())![1]!;
});

afterAll(async () => {
  serve.child.kill('SIGTERM');
  await serve.result;
});

const cli = (...args: string[]) => runCli([...args, '--target', target]);
const json = async (...args: string[]) => {
  const result = await cli(...args, '--json');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('write verbs', () => {
  it('creates two accounts, transfers, finds it in the log, and replays the same transfer', async () => {
    expect(await json('create-account', 'w-alice', '--initial', '1000', '--txid', 'w-create-alice')).toEqual({
      transaction_id: 'w-create-alice',
      transaction_id_generated: false,
      replayed: false,
      account: { account_id: 'w-alice', balance: '1000', version: '0' },
    });
    const bob = await json('create-account', 'w-bob');
    expect(bob.transaction_id).toMatch(UUID);
    expect(bob.transaction_id_generated).toBe(true);

    const first = await json('transfer', 'w-alice', 'w-bob', '250', '--txid', 'w-pay-1');
    expect(first).toEqual({
      transaction_id: 'w-pay-1',
      transaction_id_generated: false,
      replayed: false,
      from: { account_id: 'w-alice', balance: '750', version: '1' },
      to: { account_id: 'w-bob', balance: '250', version: '1' },
    });
    const entry = await json('query-log', 'w-pay-1');
    expect(entry).toMatchObject({ operation: 'transfer', account_ids: ['w-alice', 'w-bob'], amount: '250' });

    const again = await json('transfer', 'w-alice', 'w-bob', '250', '--txid', 'w-pay-1');
    expect(again).toEqual({ ...first, replayed: true });
    // The replay changed nothing: the balance is still the one after the first transfer.
    expect((await json('balance', 'w-alice')).balance).toBe('750');
  });

  it('shows the replay and the generated id in the table', async () => {
    await json('create-account', 't-acct', '--initial', '10');
    const generated = await cli('update', 't-acct', '5');
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/│ transaction id │ [0-9a-f-]{36} \(generated\) │/);
    expect(generated.stdout).toMatch(/│ replayed +│ no +│/);
    const once = await cli('update', 't-acct', '-3', '--txid', 't-withdraw');
    const twice = await cli('update', 't-acct', '-3', '--txid', 't-withdraw');
    expect(once.stdout).toMatch(/│ t-acct +│ +12 │ +2 │/);
    expect(twice.stdout).toMatch(/│ replayed +│ yes: the recorded outcome/);
    expect(twice.stdout).toMatch(/│ t-acct +│ +12 │ +2 │/);
  });

  it('deposits and withdraws exactly beyond 2^53', async () => {
    const big = (2n ** 53n + 1n).toString();
    await json('create-account', 'big', '--initial', big);
    expect((await json('update', 'big', '-1')).account.balance).toBe((2n ** 53n).toString());
  });

  it("refuses with the server's message and exit 1, and says a refusal was replayed", async () => {
    await json('create-account', 'r-poor', '--initial', '5');
    await json('create-account', 'r-rich');
    const first = await cli('transfer', 'r-poor', 'r-rich', '50', '--txid', 'r-too-much');
    expect(first.code).toBe(1);
    expect(oneErrorLine(first.stderr)).toBe(
      'ledgerctl: Insufficient balance in account r-poor: current=5, required=50',
    );
    const replay = await cli('transfer', 'r-poor', 'r-rich', '50', '--txid', 'r-too-much');
    expect(replay.code).toBe(1);
    expect(oneErrorLine(replay.stderr)).toBe(
      'ledgerctl: Insufficient balance in account r-poor: current=5, required=50 (replayed: the outcome recorded for transaction r-too-much)',
    );
    const conflict = await cli('transfer', 'r-poor', 'r-rich', '1', '--txid', 'r-too-much');
    expect(conflict.code).toBe(1);
    expect(oneErrorLine(conflict.stderr)).toMatch(/r-too-much already exists with different parameters/);
    const exists = await cli('create-account', 'r-poor');
    expect(exists.code).toBe(1);
    expect(oneErrorLine(exists.stderr)).toMatch(/r-poor already exists/);
  });

  it.each([
    [['transfer', 'a', 'b', '1.5'], /argument 'amount'.*Expected an integer amount/],
    [['transfer', 'a', 'b', '9223372036854775808'], /argument 'amount'.*within int64/],
    [['transfer', 'a', 'a', '1'], /Cannot transfer to the same account/],
    [['transfer', 'a', 'b', '0'], /Transfer amount must be positive/],
    [['update', 'a', '1', '--txid', 'x'.repeat(129)], /transaction_id is longer than 128 bytes/],
    [['create-account', 'a', '--initial', '-1'], /Initial balance cannot be negative/],
  ])('refuses %j before connecting, exit 2', async (args, message) => {
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const result = await runCli([...args, '--target', nowhere], cleanEnv());
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(message);
  });

  it('says a write to an unreachable server was never sent', async () => {
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const result = await runCli(['update', 'a', '1', '--txid', 'u-1', '--target', nowhere]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toBe(
      `ledgerctl: cannot reach the ledger at ${nowhere}: connection refused (is \`ledgerctl serve\` running there?)`,
    );
  });
});
