import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from 'vitest';
import { LIMITS } from '../src/domain/limits.js';
import { startTestServer, type TestServer } from './server-fixture.js';

let t: TestServer | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await t?.stop();
  t = undefined;
});

const varint = (n: number): Buffer => {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
};
/** A length-delimited field (wire type 2). */
const field = (fieldNumber: number, payload: Buffer): Buffer =>
  Buffer.concat([varint((fieldNumber << 3) | 2), varint(payload.length), payload]);

/** A well-formed request of exactly `totalBytes`: `wrap` nests a string of the right length. */
function exactly(totalBytes: number, wrap: (inner: Buffer) => Buffer): Buffer {
  for (let len = totalBytes; len > 0; len--) {
    const bytes = wrap(Buffer.alloc(len, 0x61));
    if (bytes.length === totalBytes) return bytes;
  }
  throw new Error(`no request of ${totalBytes} bytes`);
}

const getBalance = (total: number) => exactly(total, (id) => field(1, id));
/** One create_account operation whose account id fills the request. */
const batchOfOne = (total: number) => exactly(total, (id) => field(1, field(1, field(1, id))));

interface Answer {
  err: grpc.ServiceError | null;
  response: Buffer | undefined;
}

async function send(path: string, payload: Buffer): Promise<Answer> {
  const raw = new grpc.Client(t!.server.target, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
  });
  closers.push(() => raw.close());
  return new Promise((resolve) => {
    raw.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      payload,
      (err, response) => resolve({ err, response }),
    );
  });
}

describe('request size, per method', () => {
  test('a unary call takes a request of exactly the unary limit and refuses one byte more', async () => {
    t = await startTestServer();
    const at = await send('/ledger.v1.Ledger/GetBalance', getBalance(LIMITS.maxRequestBytes));
    // Past the size check: refused by the id rule instead.
    expect([at.err?.code, at.err?.details]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      `account_id is longer than ${LIMITS.maxAccountIdBytes} bytes`,
    ]);
    const over = await send('/ledger.v1.Ledger/GetBalance', getBalance(LIMITS.maxRequestBytes + 1));
    expect([over.err?.code, over.err?.details]).toEqual([
      grpc.status.RESOURCE_EXHAUSTED,
      `Request of ${LIMITS.maxRequestBytes + 1} bytes is larger than GetBalance accepts (${LIMITS.maxRequestBytes} bytes)`,
    ]);
    const refusal = t.logs.find((l) => l.operation === 'GetBalance' && l.code === 'RESOURCE_EXHAUSTED');
    expect(refusal?.msg).toBe(over.err?.details);
  });

  test('the standard services are held to the unary limit too', async () => {
    t = await startTestServer();
    const path = '/grpc.health.v1.Health/Check';
    const at = await send(path, getBalance(LIMITS.maxRequestBytes));
    expect(at.err?.code).toBe(grpc.status.NOT_FOUND); // no such service name: past the size check
    const over = await send(path, getBalance(LIMITS.maxRequestBytes + 1));
    expect([over.err?.code, over.err?.details]).toEqual([
      grpc.status.RESOURCE_EXHAUSTED,
      `Request of ${LIMITS.maxRequestBytes + 1} bytes is larger than Check accepts (${LIMITS.maxRequestBytes} bytes)`,
    ]);
  });

  test('ExecuteBatch takes a request of exactly the batch limit and refuses one byte more', async () => {
    t = await startTestServer();
    const path = '/ledger.v1.Ledger/ExecuteBatch';
    // Well above the unary limit: the batch has its own.
    expect(LIMITS.maxBatchRequestBytes).toBeGreaterThan(LIMITS.maxRequestBytes);
    const at = await send(path, batchOfOne(LIMITS.maxBatchRequestBytes));
    expect(at.err).toBeNull();
    // The one operation is answered on its own (its id is too long): the call itself was taken.
    expect(at.response?.toString('latin1')).toContain(
      `account_id is longer than ${LIMITS.maxAccountIdBytes} bytes`,
    );
    const over = await send(path, batchOfOne(LIMITS.maxBatchRequestBytes + 1));
    // grpc-js itself refuses it, before the message is read (its server-wide bound is the batch's).
    expect([over.err?.code, over.err?.details]).toEqual([
      grpc.status.RESOURCE_EXHAUSTED,
      `Received message larger than max (${LIMITS.maxBatchRequestBytes + 1} vs ${LIMITS.maxBatchRequestBytes})`,
    ]);
    expect((await t.client.getSnapshot(false)).value.logPosition).toBe(0n);
  });
});
