import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../src/client/bulk-import.js';
import { derivedTransactionId, readImportRecords } from '../src/client/import-records.js';
import { LedgerClient } from '../src/client/ledger-client.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { type RunningServer, startLedgerServer } from '../src/server/ledger-server.js';
import { createLogger } from '../src/server/logger.js';
import { closedPort, runCli } from './cli-run.js';

let server: RunningServer;
let dir: string;

beforeAll(async () => {
  const engine = await LedgerEngine.open();
  server = await startLedgerServer({ host: '127.0.0.1', port: 0, engine, logger: createLogger('silent') });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-import-'));
});

afterAll(async () => {
  await server?.shutdown();
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const at = () => ['--target', server.target];

async function balances(ids: string[]): Promise<Record<string, string>> {
  const client = new LedgerClient(server.target);
  try {
    const out: Record<string, string> = {};
    for (const id of ids) out[id] = (await client.getBalance(id)).value.balance.toString();
    return out;
  } finally {
    client.close();
  }
}

describe('ledgerctl import', () => {
  it('loads JSON Lines in batches; the same file again replays every record and changes nothing', async () => {
    const lines = [
      JSON.stringify({ type: 'account', account_id: 'j-alice', initial_balance: 1000 }),
      JSON.stringify({ type: 'account', account_id: 'j-bob', initial_balance: '9007199254740993' }),
      '',
      // The same transfer twice on purpose: two lines, two ids, two effects.
      JSON.stringify({ type: 'transfer', from_account_id: 'j-alice', to_account_id: 'j-bob', amount: 100 }),
      JSON.stringify({ type: 'transfer', from_account_id: 'j-alice', to_account_id: 'j-bob', amount: 100 }),
      JSON.stringify({
        type: 'transfer',
        from_account_id: 'j-alice',
        to_account_id: 'j-bob',
        amount: 5,
        transaction_id: 'j-t',
      }),
    ];
    const file = write('ledger.jsonl', `${lines.join('\n')}\n`);
    const first = await runCli(['import', file, ...at(), '--batch-size', '2', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      records: 5,
      applied: 5,
      replayed: 0,
      failed: 0,
      batches: 3,
    });
    expect(await balances(['j-alice', 'j-bob'])).toEqual({ 'j-alice': '795', 'j-bob': '9007199254741198' });

    const again = await runCli(['import', file, ...at(), '--batch-size', '3']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(
      /^imported .*ledger\.jsonl: 5 records in 2 batches, .*: 0 applied, 5 replayed, 0 failed/,
    );
    expect(await balances(['j-alice', 'j-bob'])).toEqual({ 'j-alice': '795', 'j-bob': '9007199254741198' });
  });

  it('resumes an interrupted import: records already sent replay, the rest apply once', async () => {
    const rows = ['type,account_id,initial_balance,from_account_id,to_account_id,amount,transaction_id'];
    rows.push('account,r-a,100000,,,,', 'account,r-b,0,,,,');
    for (let i = 0; i < 40; i++) rows.push(`transfer,,,r-a,r-b,${i + 1},`);
    const file = write('resume.csv', `${rows.join('\r\n')}\r\n`);
    // The first 22 records reach the ledger, as if the import had been killed after them.
    const client = new LedgerClient(server.target);
    try {
      const partial = (async function* () {
        let n = 0;
        for await (const record of readImportRecords(file, 'csv', 'resume.csv')) if (n++ < 22) yield record;
      })();
      const done = await runImport(client, partial, { batchSize: 10 });
      expect([done.applied, done.failed]).toEqual([22, 0]);
    } finally {
      client.close();
    }
    const rerun = await runCli(['import', file, ...at(), '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ records: 42, applied: 20, replayed: 22, failed: 0 });
    const moved = (40 * 41) / 2;
    expect(await balances(['r-a', 'r-b'])).toEqual({ 'r-a': String(100000 - moved), 'r-b': String(moved) });
  });

  it('reports failed records with their line, exit 1, and replays the same failures on a re-run', async () => {
    const file = write(
      'fail.jsonl',
      [
        JSON.stringify({ type: 'account', account_id: 'f-a', initial_balance: 10 }),
        JSON.stringify({ type: 'transfer', from_account_id: 'f-a', to_account_id: 'f-nobody', amount: 1 }),
      ].join('\n'),
    );
    const first = await runCli(['import', file, ...at()]);
    expect(first.code).toBe(1);
    expect(first.stderr).toBe(`ledgerctl: ${file}:2: NOT_FOUND Account f-nobody not found\n`);
    const again = await runCli(['import', file, ...at()]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${file}:2: NOT_FOUND Account f-nobody not found (replayed`);
  });

  it('refuses a bad file with one line naming the line and what is wrong; nothing is imported', async () => {
    const cases: [string, string, string][] = [
      [
        'bad-json.jsonl',
        '{"type":"account","account_id":"b-x","initial_balance":1}\n{nope\n',
        ':2: not valid JSON',
      ],
      [
        'bad-float.jsonl',
        '{"type":"account","account_id":"b-y","initial_balance":1.5}\n',
        ':1: initial_balance is not an integer a JSON number holds exactly',
      ],
      [
        'bad-type.jsonl',
        '{"type":"refund","account_id":"b-z"}\n',
        ':1: type must be "account" or "transfer", got "refund"',
      ],
      [
        'bad-field.jsonl',
        '{"type":"account","account_id":"b-w","initial_balance":1,"memo":"x"}\n',
        ':1: unknown field "memo"',
      ],
      [
        'bad-same.jsonl',
        '{"type":"transfer","from_account_id":"q","to_account_id":"q","amount":1}\n',
        ':1: Cannot transfer to the same account',
      ],
      ['bad-column.csv', 'type,account,initial_balance\naccount,b-v,1\n', ':1: unknown column "account"'],
      [
        'bad-amount.csv',
        'type,account_id,initial_balance\naccount,b-u,12abc\n',
        ':2: initial_balance must be an integer',
      ],
    ];
    for (const [name, text, reason] of cases) {
      const file = write(name, text);
      const result = await runCli(['import', file, ...at()]);
      expect(result.code, name).toBe(2);
      expect(result.stderr, name).toContain(`ledgerctl: ${file}${reason}`);
      expect(result.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(result.stderr, name).toMatch(/nothing was imported\n$/);
    }
    const client = new LedgerClient(server.target);
    try {
      expect((await client.getSnapshot(true)).value.accounts.map((a) => a.accountId)).not.toContain('b-x');
    } finally {
      client.close();
    }
    const unknown = await runCli(['import', write('data.txt', 'x'), ...at()]);
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      `ledgerctl: cannot tell the format of ${path.join(dir, 'data.txt')}: name it .jsonl, .ndjson or .csv, or pass --format\n`,
    ]);
    const missing = await runCli(['import', path.join(dir, 'missing.csv'), ...at()]);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      `ledgerctl: ${path.join(dir, 'missing.csv')}: no such file; nothing was imported\n`,
    ]);
    const size = await runCli(['import', path.join(dir, 'ledger.jsonl'), '--batch-size', '8191', ...at()]);
    expect(size.code).toBe(2);
    expect(size.stderr).toContain('Expected an integer from 1 to 8190');
  });

  it('fails with exit 2 and one line when the ledger cannot be reached', async () => {
    const file = write('unreachable.jsonl', '{"type":"account","account_id":"u","initial_balance":1}\n');
    const result = await runCli([
      'import',
      file,
      '--target',
      `127.0.0.1:${await closedPort()}`,
      '--timeout',
      '1s',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^ledgerctl: cannot reach the ledger at 127\.0\.0\.1:\d+/);
  });

  it('derives ids from the namespace, the line number and the line text', () => {
    const a = derivedTransactionId('f.csv', 3, 'transfer,,,a,b,1,');
    expect(a).toMatch(/^imp-[0-9a-f]{40}$/);
    expect(derivedTransactionId('f.csv', 3, 'transfer,,,a,b,1,')).toBe(a);
    expect(derivedTransactionId('f.csv', 4, 'transfer,,,a,b,1,')).not.toBe(a);
    expect(derivedTransactionId('g.csv', 3, 'transfer,,,a,b,1,')).not.toBe(a);
    expect(derivedTransactionId('f.csv', 3, 'transfer,,,a,b,2,')).not.toBe(a);
  });
});
