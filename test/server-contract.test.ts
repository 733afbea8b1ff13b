import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LedgerCallError } from '../src/client/ledger-client.js';
import { INT64_MAX } from '../src/domain/money.js';
import { PINO_ERROR, startTestServer, type TestServer } from './server-fixture.js';

async function failure(call: Promise<unknown>): Promise<LedgerCallError> {
  const outcome = await call.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value, bigintJson)}`);
  expect(outcome.err).toBeInstanceOf(LedgerCallError);
  return outcome.err as LedgerCallError;
}

const bigintJson = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
const long = (bytes: number) => 'x'.repeat(bytes);
/** 43 three-byte characters: 43 UTF-16 units but 129 UTF-8 bytes. */
const longMultiByte = '€'.repeat(43);

describe('rules table: code, exact message, first failing check wins, nothing changes', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await t.client.createAccount('rich', 100n);
    await t.client.createAccount('poor', 0n);
    await t.client.createAccount(long(128), 1n);
  });
  afterAll(() => t.stop());

  type Row = [
    name: string,
    call: (t: TestServer) => Promise<unknown>,
    code: status,
    message: string,
    op: string,
  ];
  const rows: Row[] = [
    // CreateAccount
    [
      'create: empty id',
      (t) => t.client.createAccount('', 5n),
      status.INVALID_ARGUMENT,
      'account_id is required',
      'CreateAccount',
    ],
    [
      'create: empty id wins over negative balance',
      (t) => t.client.createAccount('', -5n, 'c1'),
      status.INVALID_ARGUMENT,
      'account_id is required',
      'CreateAccount',
    ],
    [
      'create: id of 129 bytes',
      (t) => t.client.createAccount(long(129), 5n),
      status.INVALID_ARGUMENT,
      'account_id is longer than 128 bytes',
      'CreateAccount',
    ],
    [
      'create: id of 129 UTF-8 bytes in 43 characters',
      (t) => t.client.createAccount(longMultiByte, 5n),
      status.INVALID_ARGUMENT,
      'account_id is longer than 128 bytes',
      'CreateAccount',
    ],
    [
      'create: transaction id of 129 bytes',
      (t) => t.client.createAccount('new', 5n, long(129)),
      status.INVALID_ARGUMENT,
      'transaction_id is longer than 128 bytes',
      'CreateAccount',
    ],
    [
      'create: negative balance',
      (t) => t.client.createAccount('new', -1n),
      status.INVALID_ARGUMENT,
      'Initial balance cannot be negative',
      'CreateAccount',
    ],
    [
      'create: negative balance wins over a taken id',
      (t) => t.client.createAccount('rich', -1n),
      status.INVALID_ARGUMENT,
      'Initial balance cannot be negative',
      'CreateAccount',
    ],
    [
      'create: id taken',
      (t) => t.client.createAccount('rich', 1n),
      status.ALREADY_EXISTS,
      'Account rich already exists',
      'CreateAccount',
    ],
    [
      'create: 128-byte id taken (the limit itself is allowed)',
      (t) => t.client.createAccount(long(128), 1n),
      status.ALREADY_EXISTS,
      `Account ${long(128)} already exists`,
      'CreateAccount',
    ],
    // GetBalance
    [
      'get: empty id',
      (t) => t.client.getBalance(''),
      status.INVALID_ARGUMENT,
      'account_id is required',
      'GetBalance',
    ],
    [
      'get: id of 129 bytes',
      (t) => t.client.getBalance(long(129)),
      status.INVALID_ARGUMENT,
      'account_id is longer than 128 bytes',
      'GetBalance',
    ],
    [
      'get: missing',
      (t) => t.client.getBalance('ghost'),
      status.NOT_FOUND,
      'Account ghost not found',
      'GetBalance',
    ],
    // UpdateBalance
    [
      'update: empty id wins over empty transaction id',
      (t) => t.client.updateBalance('', 1n, ''),
      status.INVALID_ARGUMENT,
      'account_id is required',
      'UpdateBalance',
    ],
    [
      'update: empty transaction id',
      (t) => t.client.updateBalance('rich', 1n, ''),
      status.INVALID_ARGUMENT,
      'transaction_id is required',
      'UpdateBalance',
    ],
    [
      'update: empty transaction id wins over a missing account',
      (t) => t.client.updateBalance('ghost', 1n, ''),
      status.INVALID_ARGUMENT,
      'transaction_id is required',
      'UpdateBalance',
    ],
    [
      'update: transaction id of 129 bytes',
      (t) => t.client.updateBalance('rich', 1n, long(129)),
      status.INVALID_ARGUMENT,
      'transaction_id is longer than 128 bytes',
      'UpdateBalance',
    ],
    [
      'update: missing account',
      (t) => t.client.updateBalance('ghost', 1n, 'u1'),
      status.NOT_FOUND,
      'Account ghost not found',
      'UpdateBalance',
    ],
    [
      'update: insufficient balance',
      (t) => t.client.updateBalance('rich', -101n, 'u2'),
      status.FAILED_PRECONDITION,
      'Insufficient balance: current=100, delta=-101',
      'UpdateBalance',
    ],
    [
      'update: int64 minimum delta',
      (t) => t.client.updateBalance('poor', -(2n ** 63n), 'u3'),
      status.FAILED_PRECONDITION,
      `Insufficient balance: current=0, delta=${-(2n ** 63n)}`,
      'UpdateBalance',
    ],
    // TransferFunds
    [
      'transfer: empty from wins',
      (t) => t.client.transferFunds('', '', 0n, ''),
      status.INVALID_ARGUMENT,
      'from_account_id is required',
      'TransferFunds',
    ],
    [
      'transfer: empty to',
      (t) => t.client.transferFunds('rich', '', 0n, ''),
      status.INVALID_ARGUMENT,
      'to_account_id is required',
      'TransferFunds',
    ],
    [
      'transfer: to of 129 bytes',
      (t) => t.client.transferFunds('rich', long(129), 1n, 't0'),
      status.INVALID_ARGUMENT,
      'to_account_id is longer than 128 bytes',
      'TransferFunds',
    ],
    [
      'transfer: empty transaction id',
      (t) => t.client.transferFunds('rich', 'rich', 0n, ''),
      status.INVALID_ARGUMENT,
      'transaction_id is required',
      'TransferFunds',
    ],
    [
      'transfer: same account wins over amount',
      (t) => t.client.transferFunds('rich', 'rich', 0n, 't1'),
      status.INVALID_ARGUMENT,
      'Cannot transfer to the same account',
      'TransferFunds',
    ],
    [
      'transfer: zero amount',
      (t) => t.client.transferFunds('rich', 'poor', 0n, 't2'),
      status.INVALID_ARGUMENT,
      'Transfer amount must be positive',
      'TransferFunds',
    ],
    [
      'transfer: negative amount wins over missing accounts',
      (t) => t.client.transferFunds('ghost', 'phantom', -5n, 't3'),
      status.INVALID_ARGUMENT,
      'Transfer amount must be positive',
      'TransferFunds',
    ],
    [
      'transfer: both missing, from first',
      (t) => t.client.transferFunds('ghost', 'phantom', 5n, 't4'),
      status.NOT_FOUND,
      'Account ghost not found',
      'TransferFunds',
    ],
    [
      'transfer: to missing',
      (t) => t.client.transferFunds('rich', 'phantom', 5n, 't5'),
      status.NOT_FOUND,
      'Account phantom not found',
      'TransferFunds',
    ],
    [
      'transfer: from missing wins over insufficient',
      (t) => t.client.transferFunds('ghost', 'poor', 500n, 't6'),
      status.NOT_FOUND,
      'Account ghost not found',
      'TransferFunds',
    ],
    [
      'transfer: insufficient balance',
      (t) => t.client.transferFunds('rich', 'poor', 101n, 't7'),
      status.FAILED_PRECONDITION,
      'Insufficient balance in account rich: current=100, required=101',
      'TransferFunds',
    ],
    // GetTransaction
    [
      'log: empty id',
      (t) => t.client.getTransaction(''),
      status.INVALID_ARGUMENT,
      'transaction_id is required',
      'GetTransaction',
    ],
    [
      'log: unknown id',
      (t) => t.client.getTransaction('nope'),
      status.NOT_FOUND,
      'Transaction nope not found',
      'GetTransaction',
    ],
    [
      'log: a failed outcome never enters the log',
      (t) => t.client.getTransaction('u2'),
      status.NOT_FOUND,
      'Transaction u2 not found',
      'GetTransaction',
    ],
  ];

  test.each(rows)('%s', async (_name, call, code, message, op) => {
    const before = await t.client.getSnapshot(true);
    const err = await failure(call(t));
    expect({ code: err.codeName, details: err.details, replayed: err.replayed }).toEqual({
      code: status[code],
      details: message,
      replayed: false,
    });
    expect(await t.client.getSnapshot(true)).toEqual(before);
    const line = t.logs.findLast((l) => l.level === PINO_ERROR);
    expect(line).toMatchObject({ operation: op, code: status[code], msg: message });
    expect(typeof line?.time).toBe('string');
    expect(Array.isArray(line?.accountIds)).toBe(true);
  });

  test('the failure log line names the accounts and the transaction id', async () => {
    await failure(t.client.transferFunds('rich', 'poor', 1000n, 'logged-tx'));
    expect(t.logs.findLast((l) => l.level === PINO_ERROR)).toMatchObject({
      operation: 'TransferFunds',
      accountIds: ['rich', 'poor'],
      transactionId: 'logged-tx',
      code: 'FAILED_PRECONDITION',
      msg: 'Insufficient balance in account rich: current=100, required=1000',
    });
  });
});

describe('idempotency through gRPC', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine: {}, delayedCommitMaxMs: 2 });
    await t.client.createAccount('a', 100n);
    await t.client.createAccount('b', 0n);
  });
  afterAll(() => t.stop());

  test('a repeated success replays the same body with the trailer and changes nothing', async () => {
    const first = await t.client.transferFunds('a', 'b', 10n, 'pay-1');
    const before = await t.client.getSnapshot(true);
    const again = await t.client.transferFunds('a', 'b', 10n, 'pay-1');
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ value: first.value, replayed: true });
    expect(await t.client.getSnapshot(true)).toEqual(before);
  });

  test('a recorded error replays the same code and message with the trailer, even once state allows it', async () => {
    const first = await failure(t.client.updateBalance('b', -1000n, 'drain-1'));
    expect([first.codeName, first.details, first.replayed]).toEqual([
      'FAILED_PRECONDITION',
      'Insufficient balance: current=10, delta=-1000',
      false,
    ]);
    await t.client.updateBalance('b', 5000n, 'refill-1');
    const before = await t.client.getSnapshot(true);
    const again = await failure(t.client.updateBalance('b', -1000n, 'drain-1'));
    expect([again.codeName, again.details, again.replayed]).toEqual([
      'FAILED_PRECONDITION',
      'Insufficient balance: current=10, delta=-1000',
      true,
    ]);
    expect(await t.client.getSnapshot(true)).toEqual(before);
  });

  test('NOT_FOUND is recorded: the id keeps its outcome after the account appears', async () => {
    const first = await failure(t.client.updateBalance('late', 1n, 'late-1'));
    expect(first.details).toBe('Account late not found');
    await t.client.createAccount('late', 0n);
    const again = await failure(t.client.updateBalance('late', 1n, 'late-1'));
    expect([again.codeName, again.details, again.replayed]).toEqual([
      'NOT_FOUND',
      'Account late not found',
      true,
    ]);
    expect((await t.client.getBalance('late')).value.balance).toBe(0n);
  });

  test('the same id with other parameters or another method: ALREADY_EXISTS, nothing changes', async () => {
    await t.client.updateBalance('a', 1n, 'dup-1');
    const before = await t.client.getSnapshot(true);
    const message = 'Transaction dup-1 already exists with different parameters';
    const otherDelta = await failure(t.client.updateBalance('a', 2n, 'dup-1'));
    const otherAccount = await failure(t.client.updateBalance('b', 1n, 'dup-1'));
    const otherMethod = await failure(t.client.transferFunds('a', 'b', 1n, 'dup-1'));
    const create = await failure(t.client.createAccount('dup-account', 1n, 'dup-1'));
    for (const err of [otherDelta, otherAccount, otherMethod, create]) {
      expect([err.codeName, err.details]).toEqual(['ALREADY_EXISTS', message]);
    }
    expect(await t.client.getSnapshot(true)).toEqual(before);
  });

  test('INVALID_ARGUMENT is not recorded: the id stays usable', async () => {
    const refused = await failure(t.client.transferFunds('a', 'a', 1n, 'fresh-1'));
    expect(refused.details).toBe('Cannot transfer to the same account');
    const ok = await t.client.transferFunds('a', 'b', 1n, 'fresh-1');
    expect(ok.replayed).toBe(false);
    expect(ok.value.transactionId).toBe('fresh-1');
  });

  test('CreateAccount with a transaction id replays; without one a repeat is ALREADY_EXISTS', async () => {
    const first = await t.client.createAccount('c', 7n, 'create-c');
    await t.client.updateBalance('c', 3n, 'bump-c');
    const again = await t.client.createAccount('c', 7n, 'create-c');
    expect(again).toEqual({ value: first.value, replayed: true });
    expect(first.value).toEqual({ accountId: 'c', balance: 7n, version: 0n });
    const entry = await t.client.getTransaction('create-c');
    expect(entry.value).toMatchObject({
      operation: 'create',
      accountIds: ['c'],
      amount: 7n,
      balancesAfter: [7n],
    });

    await t.client.createAccount('d', 1n);
    const repeat = await failure(t.client.createAccount('d', 1n));
    expect([repeat.codeName, repeat.details, repeat.replayed]).toEqual([
      'ALREADY_EXISTS',
      'Account d already exists',
      false,
    ]);
  });
});

describe('responses, versions and the audit log', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ logLevel: 'debug' });
  });
  afterAll(() => t.stop());

  test('versions: 0 at creation, +1 on each committed change of that account', async () => {
    expect((await t.client.createAccount('v1', 50n)).value.version).toBe(0n);
    expect((await t.client.createAccount('v2', 0n)).value.version).toBe(0n);
    expect((await t.client.updateBalance('v1', 5n, 'v-u1')).value.account).toEqual({
      accountId: 'v1',
      balance: 55n,
      version: 1n,
    });
    const transfer = await t.client.transferFunds('v1', 'v2', 20n, 'v-t1');
    expect(transfer.value).toEqual({
      transactionId: 'v-t1',
      from: { accountId: 'v1', balance: 35n, version: 2n },
      to: { accountId: 'v2', balance: 20n, version: 1n },
    });
    await failure(t.client.updateBalance('v2', -100n, 'v-fail'));
    expect((await t.client.getBalance('v2')).value.version).toBe(1n);
  });

  test('a CreateAccount without transaction id gets a generated one that its log entry carries', async () => {
    await t.client.createAccount('gen', 12n);
    const line = t.logs.findLast((l) => l.operation === 'CreateAccount' && l.msg === 'ok');
    const generated = line?.transactionId;
    expect(typeof generated).toBe('string');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const entry = await t.client.getTransaction(generated as string);
    expect(entry.value).toMatchObject({
      transactionId: generated,
      operation: 'create',
      accountIds: ['gen'],
      amount: 12n,
      balancesAfter: [12n],
      status: 'OK',
    });
  });

  test('log entries: dense 1-based positions, every field, nanosecond timestamps', async () => {
    const startNs = BigInt(Date.now()) * 1_000_000n;
    await t.client.createAccount('la', 1000n, 'log-create-a');
    await t.client.createAccount('lb', 0n, 'log-create-b');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push(`log-t${i}`);
      await t.client.transferFunds('la', 'lb', BigInt(i + 1), `log-t${i}`);
    }
    const endNs = BigInt(Date.now() + 1) * 1_000_000n;
    const snapshot = (await t.client.getSnapshot(false)).value;

    const entries = await Promise.all(ids.map(async (id) => (await t.client.getTransaction(id)).value));
    const createB = (await t.client.getTransaction('log-create-b')).value;
    let balanceA = 1000n;
    let balanceB = 0n;
    entries.forEach((entry, i) => {
      balanceA -= BigInt(i + 1);
      balanceB += BigInt(i + 1);
      expect(entry).toEqual({
        position: createB.position + BigInt(i + 1),
        transactionId: `log-t${i}`,
        timestampNs: entry.timestampNs,
        operation: 'transfer',
        accountIds: ['la', 'lb'],
        amount: BigInt(i + 1),
        balancesAfter: [balanceA, balanceB],
        status: 'OK',
        principal: '',
      });
      expect(entry.timestampNs).toBeGreaterThanOrEqual(startNs);
      expect(entry.timestampNs).toBeLessThanOrEqual(endNs);
    });
    expect(entries.at(-1)?.position).toBe(snapshot.logPosition);
    // Real nanoseconds: 20 timestamps that are all whole milliseconds would mean ms precision.
    expect(entries.some((e) => e.timestampNs % 1_000_000n !== 0n)).toBe(true);
    const timestamps = entries.map((e) => e.timestampNs);
    expect([...timestamps].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(timestamps);
  });

  test('snapshot: accounts sorted by id (code units) and only when asked', async () => {
    for (const id of ['zeta', 'Alpha', 'alpha', 'beta', '0-first']) await t.client.createAccount(id, 1n);
    const without = (await t.client.getSnapshot(false)).value;
    expect(without.accounts).toEqual([]);
    const full = (await t.client.getSnapshot(true)).value;
    const ids = full.accounts.map((a) => a.accountId);
    expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(ids.indexOf('0-first')).toBeLessThan(ids.indexOf('Alpha'));
    expect(ids.indexOf('Alpha')).toBeLessThan(ids.indexOf('alpha'));
    expect(full.accountCount).toBe(BigInt(ids.length));
    expect(without.accountCount).toBe(full.accountCount);
    expect(full.totalBalance).toBe(full.accounts.reduce((sum, a) => sum + a.balance, 0n));
    expect(without.totalBalance).toBe(full.totalBalance);
  });
});

describe('int64 edges', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());

  test('2^53 + 1 round-trips exactly', async () => {
    const big = 2n ** 53n + 1n;
    expect((await t.client.createAccount('exact', big)).value.balance).toBe(big);
    expect((await t.client.getBalance('exact')).value.balance).toBe(big);
    const updated = await t.client.updateBalance('exact', 2n, 'exact-1');
    expect(updated.value.account.balance).toBe(big + 2n);
    expect((await t.client.getTransaction('exact-1')).value.balancesAfter).toEqual([big + 2n]);
    expect((await t.client.getSnapshot(false)).value.totalBalance).toBe(big + 2n);
  });

  test('a balance that would leave int64 is refused with OUT_OF_RANGE naming the account', async () => {
    const room = INT64_MAX - (2n ** 53n + 3n);
    await t.client.createAccount('edge', room);
    const total = (await t.client.getSnapshot(false)).value.totalBalance;
    expect(total).toBe(INT64_MAX);

    const update = await failure(t.client.updateBalance('edge', 1n, 'over-1'));
    expect(update.codeName).toBe('OUT_OF_RANGE');
    expect(update.details).toContain('edge');
    const create = await failure(t.client.createAccount('more', 1n, 'over-2'));
    expect(create.codeName).toBe('OUT_OF_RANGE');
    expect(create.details).toContain('more');
    // Recorded outcomes: the replay says the same.
    const replay = await failure(t.client.updateBalance('edge', 1n, 'over-1'));
    expect([replay.codeName, replay.details, replay.replayed]).toEqual([
      'OUT_OF_RANGE',
      update.details,
      true,
    ]);
    expect((await t.client.getSnapshot(false)).value.totalBalance).toBe(INT64_MAX);
    expect((await t.client.getBalance('edge')).value.balance).toBe(room);
  });
});
