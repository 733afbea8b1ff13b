import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerClient } from '../src/client/ledger-client.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { type RunningServer, startLedgerServer } from '../src/server/ledger-server.js';
import { createLogger } from '../src/server/logger.js';
import { cleanEnv, closedPort, oneErrorLine, runCli } from './cli-run.js';

const ISO_NANOS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
/** Escape, the start of every ANSI colour sequence. */
const ESC = '\u001b';
const BEYOND_DOUBLE = 2n ** 53n + 1n;

let server: RunningServer;
let target: string;
let transferTimestampNs: bigint;

beforeAll(async () => {
  const engine = await LedgerEngine.open();
  server = await startLedgerServer({ host: '127.0.0.1', port: 0, engine, logger: createLogger('silent') });
  target = server.target;
  const client = new LedgerClient(target);
  try {
    await client.createAccount('bob', 500n, 'create-bob');
    await client.createAccount('alice', 1000n, 'create-alice');
    await client.transferFunds('alice', 'bob', 250n, 'pay-1');
    await client.createAccount('whale', BEYOND_DOUBLE);
    transferTimestampNs = (await client.getTransaction('pay-1')).value.timestampNs;
  } finally {
    client.close();
  }
});

afterAll(async () => {
  await server?.shutdown();
});

const at = () => ['--target', target];

describe('ledgerctl query-log', () => {
  it('prints the entry as a table with a nanosecond ISO timestamp and no colour when piped', async () => {
    const result = await runCli(['query-log', 'pay-1', ...at()]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toContain(ESC);
    const rows = Object.fromEntries(
      result.stdout
        .split('\n')
        .map((line) => line.split('│').map((cell) => cell.trim()))
        .filter((cells) => cells.length === 4)
        .map((cells) => [cells[1], cells[2]]),
    );
    expect(rows).toMatchObject({
      position: '3',
      'transaction id': 'pay-1',
      operation: 'transfer',
      accounts: 'alice, bob',
      amount: '250',
      'balances after': '750, 750',
      status: 'OK',
    });
    expect(rows.timestamp).toMatch(ISO_NANOS);
  });

  it('prints JSON with the contract field names and int64 as strings', async () => {
    const result = await runCli(['query-log', 'pay-1', '--json', ...at()]);
    expect(result.code).toBe(0);
    const entry = JSON.parse(result.stdout);
    expect(entry).toEqual({
      position: '3',
      transaction_id: 'pay-1',
      timestamp: expect.stringMatching(ISO_NANOS),
      operation: 'transfer',
      account_ids: ['alice', 'bob'],
      amount: '250',
      balances_after: ['750', '750'],
      status: 'OK',
      principal: '',
    });
    // Every digit of the server's timestamp survives, down to the nanosecond.
    const nanos = transferTimestampNs % 1_000_000_000n;
    expect(entry.timestamp.slice(20, 29)).toBe(nanos.toString().padStart(9, '0'));
    expect(Date.parse(entry.timestamp)).toBe(Number(transferTimestampNs / 1_000_000n));
  });

  it('exits 1 with the server message for an unknown id', async () => {
    const result = await runCli(['query-log', 'never-sent', ...at()]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(oneErrorLine(result.stderr)).toBe('ledgerctl: Transaction never-sent not found');
  });

  it('exits 2 naming the target when nothing listens there', async () => {
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const result = await runCli(['query-log', 'pay-1', '--target', nowhere]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toBe(
      `ledgerctl: cannot reach the ledger at ${nowhere}: connection refused (is \`ledgerctl serve\` running there?)`,
    );
  });

  it('exits 2 for an id the contract refuses, before connecting', async () => {
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const result = await runCli(['query-log', 'x'.repeat(129), '--target', nowhere]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toBe('ledgerctl: transaction_id is longer than 128 bytes');
  });

  it('exits 2 for a malformed target', async () => {
    const result = await runCli(['query-log', 'pay-1', '--target', 'localhost']);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/'--target <host:port>' argument 'localhost' is invalid/);
  });
});

describe('ledgerctl balance', () => {
  it('prints the account as a table', async () => {
    const result = await runCli(['balance', 'alice', ...at()]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/│ account │ balance │ version │/);
    expect(result.stdout).toMatch(/│ alice +│ +750 │ +1 │/);
  });

  it('prints JSON exactly beyond 2^53', async () => {
    const result = await runCli(['balance', 'whale', '--json', ...at()]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      account_id: 'whale',
      balance: BEYOND_DOUBLE.toString(),
      version: '0',
    });
  });

  it('finds the server through LEDGER_TARGET', async () => {
    const result = await runCli(['balance', 'bob', '--json'], cleanEnv({ LEDGER_TARGET: target }));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).balance).toBe('750');
  });

  it('exits 1 for a missing account', async () => {
    const result = await runCli(['balance', 'carol', ...at()]);
    expect(result.code).toBe(1);
    expect(oneErrorLine(result.stderr)).toBe('ledgerctl: Account carol not found');
  });

  it('exits 2 when the server is down', async () => {
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const result = await runCli(['balance', 'alice'], cleanEnv({ LEDGER_TARGET: nowhere }));
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toContain(`cannot reach the ledger at ${nowhere}`);
  });
});

describe('ledgerctl snapshot', () => {
  const total = (1000n + 500n + BEYOND_DOUBLE).toString();

  it('prints only the totals by default', async () => {
    const result = await runCli(['snapshot', ...at()]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`│ total balance │ ${total} │`));
    expect(result.stdout).toMatch(/│ accounts +│ 3 +│/);
    expect(result.stdout).toMatch(/│ log position +│ 4 +│/);
    expect(result.stdout).not.toMatch(/alice/);
  });

  it('lists the accounts sorted by id with the total', async () => {
    const result = await runCli(['snapshot', '--accounts', ...at()]);
    expect(result.code).toBe(0);
    const ids = [...result.stdout.matchAll(/^│ (alice|bob|whale) /gm)].map((m) => m[1]);
    expect(ids).toEqual(['alice', 'bob', 'whale']);
    expect(result.stdout).toMatch(new RegExp(`│ total \\(3 accounts, log position 4\\) │ ${total} │`));
  });

  it('prints JSON, with accounts only when asked', async () => {
    const [totals, full] = await Promise.all([
      runCli(['snapshot', '--json', ...at()]),
      runCli(['snapshot', '--json', '--accounts', ...at()]),
    ]);
    expect(JSON.parse(totals.stdout)).toEqual({
      total_balance: total,
      account_count: '3',
      log_position: '4',
    });
    expect(JSON.parse(full.stdout)).toEqual({
      total_balance: total,
      account_count: '3',
      log_position: '4',
      accounts: [
        { account_id: 'alice', balance: '750', version: '1' },
        { account_id: 'bob', balance: '750', version: '1' },
        { account_id: 'whale', balance: BEYOND_DOUBLE.toString(), version: '0' },
      ],
    });
  });
});
