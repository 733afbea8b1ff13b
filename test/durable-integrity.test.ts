import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import {
  DamagedRecordError,
  decodeAccount,
  encodeAccount,
  encodeLogEntry,
} from '../src/engine/durable-codec.js';
import { DataDirError } from '../src/engine/durable-errors.js';
import { DURABLE_FORMAT_VERSION, FORMAT_FILE } from '../src/engine/durable-format.js';
import { checkDataFile } from '../src/engine/durable-verify.js';
import { DATA_FILE, LmdbStorage } from '../src/engine/lmdb-storage.js';
import { openDurable, removeDir, runNode, tempDir } from './durable-fixture.js';
import { rejection } from './ledger-rejection.js';

const V1_FIXTURE = new URL('./fixtures/durable-v1/', import.meta.url);

async function refusal(work: () => Promise<unknown>): Promise<DataDirError> {
  try {
    await work();
  } catch (err) {
    if (err instanceof DataDirError) return err;
    throw err;
  }
  throw new Error('expected a DataDirError');
}

async function populated(dir: string, accounts = 50): Promise<void> {
  const engine = await openDurable(dir);
  for (let i = 0; i < accounts; i++)
    await engine.createAccount({ accountId: `acct-${i}`, initialBalance: 100n, transactionId: `c-${i}` });
  for (let i = 0; i < 20; i++)
    await engine.transferFunds({
      fromId: `acct-${i}`,
      toId: `acct-${i + 1}`,
      amount: 7n,
      transactionId: `t-${i}`,
    });
  await engine.close();
}

/** Runs `body` on the raw sub-databases of a closed data dir, in a child (a second LMDB env). */
async function tamper(dir: string, body: string): Promise<void> {
  const child = await runNode(
    `import { openDataRoot, openSubDatabases } from ${JSON.stringify(
      new URL('../dist/src/engine/durable-root.js', import.meta.url).href,
    )};
     const root = openDataRoot(process.argv[2] + '/ledger.mdb');
     const dbs = openSubDatabases(root);
     ${body}
     await root.close();`,
    [dir],
  );
  expect(child.stderr).toBe('');
  expect(child.code).toBe(0);
}

describe('checksummed records', () => {
  it('refuses a value that fails its checksum, and one moved under another key', () => {
    const stored = encodeAccount({ id: 'a', balance: 10n, version: 1 });
    expect(decodeAccount('a', stored)).toEqual({ id: 'a', balance: 10n, version: 1 });
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 1]! ^= 0x01;
    expect(() => decodeAccount('a', flipped)).toThrow(DamagedRecordError);
    expect(() => decodeAccount('a', flipped)).toThrow(/account "a" fails its checksum/);
    // The same bytes under another id: the checksum covers the key.
    expect(() => decodeAccount('b', stored)).toThrow(/account "b" fails its checksum/);
    // Another kind of record with a valid frame of its own: the checksum covers the kind.
    const entry = encodeLogEntry({
      position: 1,
      transactionId: 'x',
      timestampNs: 1n,
      operation: 'create',
      accountIds: ['a'],
      amount: 1n,
      balancesAfter: [1n],
      status: 'OK',
      principal: '',
    });
    expect(() => decodeAccount('1', entry)).toThrow(/fails its checksum/);
  });
});

describe('durable integrity', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it(`migrates a format version 1 data dir to version ${DURABLE_FORMAT_VERSION}, keeping every record`, async () => {
    fs.cpSync(V1_FIXTURE, dir, { recursive: true });
    const engine = await openDurable(dir);
    try {
      // The fixture was written by ledgerctl's format 1 (see test/fixtures/durable-v1/README.md).
      expect(engine.getSnapshot(false)).toEqual({
        totalBalance: 20_188n,
        accountCount: 20,
        logPosition: 42,
        accounts: undefined,
      });
      expect(engine.getBalance('v1-3')).toMatchObject({ balance: 995n, version: 3 });
      expect(await engine.getTransaction('xfer-5')).toMatchObject({ position: 26, amount: 6n });
      // Idempotency records came along: a success and a recorded error replay.
      const replay = await engine.updateBalance({ accountId: 'v1-4', delta: 5n, transactionId: 'upd-2' });
      expect(replay.replayed).toBe(true);
      const refused = await rejection(
        engine.updateBalance({ accountId: 'v1-3', delta: -1_000_000n, transactionId: 'upd-fail' }),
      );
      expect(refused).toBeInstanceOf(LedgerError);
      expect(refused.replayed).toBe(true);
      await engine.createAccount({ accountId: 'after-migration', initialBalance: 12n });
    } finally {
      await engine.close();
    }
    expect(JSON.parse(fs.readFileSync(path.join(dir, FORMAT_FILE), 'utf8')).version).toBe(
      DURABLE_FORMAT_VERSION,
    );
    expect(fs.existsSync(path.join(dir, `${DATA_FILE}.v1`))).toBe(true);
    const report = checkDataFile(path.join(dir, DATA_FILE), 'full');
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ accounts: 21, totalBalance: 20_200n, lastPosition: 43 });
  });

  it('refuses a data dir whose data file is missing beside its FORMAT marker', async () => {
    await populated(dir);
    fs.rmSync(path.join(dir, DATA_FILE));
    const err = await refusal(() => LmdbStorage.open(dir));
    expect(err.problem).toBe('corrupt');
    expect(err.message).toMatch(/data file ledger\.mdb is missing; refusing to start an empty ledger/);
    expect(fs.existsSync(path.join(dir, DATA_FILE))).toBe(false);
  });

  it('refuses records lost without a checksum failure: the head disagrees with the scan', async () => {
    await populated(dir);
    await tamper(dir, `dbs.accounts.removeSync('acct-7'); dbs.accounts.removeSync('acct-40');`);
    const err = await refusal(() => LmdbStorage.open(dir));
    expect(err.problem).toBe('corrupt');
    expect(err.message).toMatch(/is damaged: head says 50 accounts, the accounts database holds 48/);
  });

  it('refuses a record that fails its checksum, naming the key and the file', async () => {
    await populated(dir);
    await tamper(
      dir,
      `const v = Buffer.from(dbs.accounts.get('acct-3')); v[v.length - 1] ^= 1; dbs.accounts.putSync('acct-3', v);`,
    );
    const err = await refusal(() => LmdbStorage.open(dir));
    expect(err.message).toContain(
      `data file ${path.join(dir, DATA_FILE)} is damaged: account "acct-3" fails its checksum`,
    );
    expect(err.message).not.toContain('\n');
  });

  it('cross-checks at recovery too: an account whose balance disagrees with its newest log entry', async () => {
    await populated(dir);
    const storage = await LmdbStorage.open(dir);
    try {
      // Damage that passes every checksum (a valid record with another balance, and a head that
      // agrees), made after the start-up check: recovery's own cross-check must refuse it.
      await tamper(
        dir,
        `import { encodeAccount, encodeHead, decodeHead } from ${JSON.stringify(
          new URL('../dist/src/engine/durable-codec.js', import.meta.url).href,
        )};
         const head = decodeHead(dbs.meta.get('head'));
         dbs.accounts.putSync('acct-2', encodeAccount({ id: 'acct-2', balance: 200n, version: 2 }));
         dbs.meta.putSync('head', encodeHead({ ...head, totalBalance: head.totalBalance + 100n }));`,
      );
      const err = await refusal(() => storage.recover(1000));
      expect(err.message).toMatch(/account "acct-2" holds 200, but its newest log entry \(\d+\) says 100/);
    } finally {
      await storage.close();
    }
  });
});
