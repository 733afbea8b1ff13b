import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RawCaller, type RawOutcome } from '../src/client/raw-call.js';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { fuzzMethods, mutate, referenceVerdict, validRequest } from '../src/harness/wire-fuzz.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import { strictService } from '../src/wire/strict-service.js';
import { messageRule, wireProblem } from '../src/wire/wire-check.js';
import { inParallel, PINO_ERROR, startTestServer, type TestServer } from './server-fixture.js';

const LEDGER = '/ledger.v1.Ledger';
const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const str = (s: string) => Buffer.from(s, 'latin1');

describe('strict decoding: the attacks of issue 10 are refused and change nothing', () => {
  let t: TestServer;
  let raw: RawCaller;
  beforeAll(async () => {
    t = await startTestServer();
    raw = new RawCaller(t.server.target);
    await t.client.createAccount('abc', 100n);
  });
  afterAll(async () => {
    raw.close();
    await t.stop();
  });

  type Row = [name: string, method: string, bytes: Buffer, message: string];
  const rows: Row[] = [
    [
      'a string whose length runs past the end',
      'CreateAccount',
      hex('0a 05 7a 7a'),
      'Malformed request: field account_id runs past the end of the message',
    ],
    [
      'a 4 GiB declared length',
      'CreateAccount',
      hex('0a ffffffff0f 7a'),
      'Malformed request: field account_id runs past the end of the message',
    ],
    [
      'an unterminated varint at the end (was applied as 268,435,455)',
      'UpdateBalance',
      Buffer.concat([hex('0a 03'), str('abc'), hex('1a 02'), str('t1'), hex('10 ffffffff')]),
      'Malformed request: unterminated varint at byte 10',
    ],
    [
      'a wrong wire type on a known field (0803616263 created "abc")',
      'CreateAccount',
      hex('0803616263'),
      'Malformed request: field account_id has wire type varint, expected length-delimited',
    ],
    [
      'invalid UTF-8 in an account id',
      'CreateAccount',
      hex('0a 01 ff'),
      'Malformed request: field account_id is not valid UTF-8',
    ],
    [
      'invalid UTF-8 in a transaction id (t-\\xfe was a replay of t-\\xff)',
      'UpdateBalance',
      Buffer.concat([hex('0a 03'), str('abc'), hex('10 01 1a 03'), str('t-'), hex('fe')]),
      'Malformed request: field transaction_id is not valid UTF-8',
    ],
    ['field number 0', 'GetSnapshot', hex('00 01'), 'Malformed request: field number 0 at byte 0'],
    [
      'an end-group tag with no group',
      'GetBalance',
      hex('0c'),
      'Malformed request: end-group tag of field 1 without a matching start-group at byte 0',
    ],
    ['an unclosed group', 'GetBalance', hex('5b 08 01'), 'Malformed request: group 11 is not closed'],
    ['wire type 7', 'GetTransaction', hex('0f'), 'Malformed request: invalid wire type 7 at byte 0'],
    [
      'a varint past 64 bits',
      'UpdateBalance',
      hex('10 ffffffffffffffffff02'),
      'Malformed request: varint longer than 64 bits at byte 1',
    ],
  ];

  test.each(rows)(
    '%s: INVALID_ARGUMENT, exact message, logged, nothing changed',
    async (_name, method, bytes, message) => {
      const before = await t.client.getSnapshot(true);
      const outcome = await raw.call(`${LEDGER}/${method}`, bytes, 5_000);
      expect(outcome).toEqual({ ok: false, code: status.INVALID_ARGUMENT, details: message });
      expect(await t.client.getSnapshot(true)).toEqual(before);
      expect(t.logs.some((l) => l.level === PINO_ERROR && l.msg === message && l.operation === method)).toBe(
        true,
      );
    },
  );

  test('the same bytes made well formed are served (the refusal is about the encoding only)', async () => {
    const ok = await raw.call(`${LEDGER}/GetBalance`, Buffer.concat([hex('0a 03'), str('abc')]), 5_000);
    expect(ok.ok).toBe(true);
    // A well-formed unknown field (number 100) is accepted, as every proto3 parser does.
    const unknown = await raw.call(
      `${LEDGER}/GetBalance`,
      Buffer.concat([hex('0a 03'), str('abc'), hex('a006 01')]),
      5_000,
    );
    expect(unknown.ok).toBe(true);
  });

  test('health Check decodes strictly too', async () => {
    const outcome = await raw.call('/grpc.health.v1.Health/Check', hex('0a 01 ff'), 5_000);
    expect(outcome).toEqual({
      ok: false,
      code: status.INVALID_ARGUMENT,
      details: 'Malformed request: field service is not valid UTF-8',
    });
    expect((await raw.call('/grpc.health.v1.Health/Check', hex(''), 5_000)).ok).toBe(true);
  });
});

describe('the server check agrees with an independent reference parser', () => {
  test('10,000 seeded mutations of valid requests per method, every method, judged in process', () => {
    const strict = strictService(ledgerServiceDefinition());
    const rng = new SeededRandom(10);
    let n = 0;
    const ids = { accounts: ['a', 'b', 'é€'], transactionId: () => `t${n++}` };
    let refused = 0;
    let total = 0;
    for (const method of fuzzMethods()) {
      const definition = Object.values(strict).find((m) => m.path === method.path)!;
      for (let i = 0; i < 10_000; i++) {
        let { bytes } = mutate(validRequest(method.requestType, rng, ids), rng);
        if (i % 3 === 0) bytes = mutate(bytes, rng).bytes;
        const reference = referenceVerdict(bytes, method.requestType);
        const decoded = definition.requestDeserialize(Buffer.from(bytes)) as object;
        const serverRefused = decoded.constructor.name === 'MalformedRequest';
        if (serverRefused !== !reference.accepted) {
          throw new Error(
            `${method.name} ${Buffer.from(bytes).toString('hex')}: reference ${JSON.stringify(reference)}, server ${serverRefused ? 'refused' : 'accepted'}`,
          );
        }
        if (!reference.accepted) refused++;
        total++;
      }
    }
    // The corpus exercises both sides (a fuzzer that only makes valid or only garbage proves little).
    expect(refused / total).toBeGreaterThan(0.3);
    expect(refused / total).toBeLessThan(0.9);
  });

  test('wireProblem names the field for nested messages', () => {
    const type = fuzzMethods().find((m) => m.name === 'GetTransaction')!.requestType;
    const logEntry = type.root.lookupType('ledger.v1.LogEntry');
    const rule = messageRule(logEntry);
    // LogEntry.timestamp (3) holding a Timestamp whose seconds (1) has a length-delimited wire type.
    expect(wireProblem(hex('1a 03 0a 01 00'), rule)).toBe(
      'field timestamp.seconds has wire type length-delimited, expected varint',
    );
    // Packed repeated int64 (balances_after = 7) that ends inside a varint.
    expect(wireProblem(hex('3a 02 01 80'), rule)).toBe('unterminated varint at byte 3');
    expect(wireProblem(hex('3a 02 01 02 2a 01 ff'), rule)).toBe('field account_ids is not valid UTF-8');
  });
});

describe('fuzzing a live server: nothing a strict parser refuses is accepted, refused requests change nothing', () => {
  let t: TestServer;
  let raw: RawCaller;
  const accounts = ['fa', 'fb', 'fc', 'fd'];
  beforeAll(async () => {
    t = await startTestServer({ logLevel: 'info' });
    raw = new RawCaller(t.server.target);
    for (const id of accounts) await t.client.createAccount(id, 1_000_000n);
  });
  afterAll(async () => {
    raw.close();
    await t.stop();
  });

  test('1,000 mutated requests per method, every method', async () => {
    const rng = new SeededRandom(2026);
    let n = 0;
    const ids = { accounts, transactionId: () => `fz${n++}` };
    const refusedCases: { path: string; bytes: Uint8Array; mutation: string; why: string }[] = [];
    const acceptedCases: { path: string; bytes: Uint8Array; mutation: string }[] = [];
    for (const method of fuzzMethods()) {
      for (let i = 0; i < 1_000; i++) {
        const { bytes, mutation } = mutate(validRequest(method.requestType, rng, ids), rng);
        const verdict = referenceVerdict(bytes, method.requestType);
        if (verdict.accepted) acceptedCases.push({ path: method.path, bytes, mutation });
        else refusedCases.push({ path: method.path, bytes, mutation, why: verdict.why });
      }
    }
    expect(refusedCases.length).toBeGreaterThan(1_000);
    expect(acceptedCases.length).toBeGreaterThan(1_000);

    // Phase 1: only requests a strict parser refuses. Every one must be refused, and the ledger
    // (every account, the total and the log position) must be exactly as before.
    const before = await t.client.getSnapshot(true);
    const wronglyServed: string[] = [];
    await inParallel(refusedCases, 32, async (c) => {
      const outcome: RawOutcome = await raw.call(c.path, c.bytes, 10_000);
      const refused =
        !outcome.ok &&
        outcome.code === status.INVALID_ARGUMENT &&
        outcome.details.startsWith('Malformed request: ');
      if (!refused) {
        wronglyServed.push(
          `${c.path} ${Buffer.from(c.bytes).toString('hex')} (${c.mutation}; ${c.why}) -> ${JSON.stringify(outcome)}`,
        );
      }
    });
    expect(wronglyServed.slice(0, 5)).toEqual([]);
    expect(await t.client.getSnapshot(true)).toEqual(before);

    // Phase 2: requests a strict parser accepts are never refused as malformed.
    const wronglyRefused: string[] = [];
    await inParallel(acceptedCases, 32, async (c) => {
      const outcome = await raw.call(c.path, c.bytes, 10_000);
      if (!outcome.ok && outcome.details.startsWith('Malformed request: ')) {
        wronglyRefused.push(
          `${c.path} ${Buffer.from(c.bytes).toString('hex')} (${c.mutation}) -> ${outcome.details}`,
        );
      }
    });
    expect(wronglyRefused.slice(0, 5)).toEqual([]);
  }, 60_000);
});
