import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { afterEach, describe, expect, test } from 'vitest';
import { HealthClient, type ServingStatus } from '../src/client/health-client.js';
import { LedgerCallError } from '../src/client/ledger-client.js';
import { ReflectionCallError, ReflectionClient } from '../src/client/reflection-client.js';
import { InvariantViolation } from '../src/domain/errors.js';
import { LIMITS } from '../src/domain/limits.js';
import { type CommitBatch, MemoryStorage } from '../src/engine/storage.js';
import { ListenError, startLedgerServer } from '../src/server/ledger-server.js';
import { INTERNAL_ERROR_MESSAGE } from '../src/server/status-codes.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import { PINO_ERROR, PINO_FATAL, startTestServer, type TestServer } from './server-fixture.js';

/** Storage whose commits wait while the gate is closed: holds writes in flight on purpose. */
class GatedStorage extends MemoryStorage {
  private waiting: (() => void)[] = [];
  closed = false;
  override commit(_batch: CommitBatch): Promise<void> | undefined {
    if (!this.closed) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  get held(): number {
    return this.waiting.length;
  }
  open(): void {
    this.closed = false;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

/** Polls `condition` every millisecond or so, at most `maxTurns` times (a bound, not a timing margin). */
async function until(condition: () => boolean, maxTurns = 20_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('condition never became true');
}

async function failure(call: Promise<unknown>): Promise<LedgerCallError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LedgerCallError);
  return err as LedgerCallError;
}

let t: TestServer | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await t?.stop();
  t = undefined;
});

describe('health', () => {
  test('service "" and ledger.v1.Ledger are SERVING; unknown services are NOT_FOUND', async () => {
    t = await startTestServer();
    const health = new HealthClient(t.server.target);
    closers.push(() => health.close());
    expect(await health.check('')).toBe('SERVING');
    expect(await health.check('ledger.v1.Ledger')).toBe('SERVING');
    await expect(health.check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  test('shutdown with an open Watch: watchers see NOT_SERVING, the in-flight call completes, shutdown ends', async () => {
    const storage = new GatedStorage();
    // A grace far beyond the test timeout: only the drain logic can end this shutdown in time.
    t = await startTestServer({ engine: { storage }, shutdownGraceMs: 10 * 60_000 });
    await t.client.createAccount('acc', 0n);
    const health = new HealthClient(t.server.target);
    closers.push(() => health.close());
    const seen: ServingStatus[] = [];
    const watch = health.watch('ledger.v1.Ledger', (s) => seen.push(s));
    const ended = watch.ended.then(
      () => 'ended',
      () => 'ended',
    );
    await until(() => seen.length === 1);
    expect(seen).toEqual(['SERVING']);

    storage.closed = true;
    const inFlight = t.client.updateBalance('acc', 5n, 'during-drain');
    await until(() => storage.held === 1);
    const stopping = t.server.shutdown();
    expect(t.server.shutdown()).toBe(stopping);
    await until(() => seen.length === 2);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    storage.open();
    expect((await inFlight).value.account.balance).toBe(5n);
    await stopping;
    expect(await ended).toBe('ended');
    // The engine is closed too: it refuses writes.
    await expect(
      t.server.engine.updateBalance({ accountId: 'acc', delta: 1n, transactionId: 'after' }),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});

describe('reflection', () => {
  test.each(['v1', 'v1alpha'] as const)(
    '%s: lists services and serves real files with dependencies',
    async (version) => {
      t = await startTestServer();
      const reflection = new ReflectionClient(t.server.target, version);
      closers.push(() => reflection.close());

      expect(await reflection.listServices()).toEqual(
        expect.arrayContaining(['ledger.v1.Ledger', 'grpc.health.v1.Health']),
      );

      const files = await reflection.fileContainingSymbol('ledger.v1.Ledger');
      const ledger = files[0]!;
      expect(ledger.name).toBe('ledger/v1/ledger.proto');
      expect(ledger.package).toBe('ledger.v1');
      expect(ledger.dependency).toEqual(['google/protobuf/timestamp.proto']);
      expect(ledger.service.map((s) => s.name)).toEqual(['Ledger']);
      expect(ledger.service[0]!.method.map((m) => [m.name, m.inputType, m.outputType])).toContainEqual([
        'TransferFunds',
        '.ledger.v1.TransferFundsRequest',
        '.ledger.v1.TransferFundsResponse',
      ]);
      const logEntry = ledger.messageType.find((m) => m.name === 'LogEntry')!;
      expect(logEntry.field.find((f) => f.name === 'timestamp')?.typeName).toBe('.google.protobuf.Timestamp');
      expect(files.map((f) => f.name)).toContain('google/protobuf/timestamp.proto');

      const [timestamp] = await reflection.fileByFilename('google/protobuf/timestamp.proto');
      expect(timestamp?.package).toBe('google.protobuf');
      expect(timestamp?.messageType.map((m) => [m.name, m.field.map((f) => f.name)])).toEqual([
        ['Timestamp', ['seconds', 'nanos']],
      ]);

      const [byType] = await reflection.fileContainingSymbol('ledger.v1.LogEntry');
      expect(byType?.name).toBe('ledger/v1/ledger.proto');
      const [healthFile] = await reflection.fileContainingSymbol('grpc.health.v1.Health');
      expect(healthFile?.name).toBe('grpc/health/v1/health.proto');

      await expect(reflection.fileContainingSymbol('no.such.Symbol')).rejects.toBeInstanceOf(
        ReflectionCallError,
      );
    },
  );

  test('the reflected descriptors resolve into a complete schema, as grpcurl builds it', async () => {
    t = await startTestServer();
    const reflection = new ReflectionClient(t.server.target);
    closers.push(() => reflection.close());
    // Fetch like a reflection client: the symbol's file, then every dependency by file name.
    const files = new Map<string, unknown>();
    const queue = ['ledger/v1/ledger.proto'];
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (files.has(name)) continue;
      const [file] = await reflection.fileByFilename(name);
      files.set(name, file);
      queue.push(...(file?.dependency ?? []));
    }
    expect([...files.keys()].sort()).toEqual(['google/protobuf/timestamp.proto', 'ledger/v1/ledger.proto']);
    const set = descriptor.FileDescriptorSet.fromObject({ file: [...files.values()] });
    const root = (protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root }).fromDescriptor(
      set,
    );
    root.resolveAll();
    const LogEntry = root.lookupType('ledger.v1.LogEntry');
    expect(LogEntry.fields.timestamp?.resolvedType?.fullName).toBe('.google.protobuf.Timestamp');
    // And it decodes what the server sends.
    await t.client.createAccount('r', 1n, 'reflect-1');
    const raw = await t.client.raw<{ timestamp: { seconds: string; nanos: number } }>('GetTransaction', {
      transaction_id: 'reflect-1',
    });
    const bytes = LogEntry.encode(LogEntry.fromObject(raw.value)).finish();
    const decoded = LogEntry.toObject(LogEntry.decode(bytes), { longs: String });
    expect(decoded.timestamp).toEqual({
      seconds: raw.value.timestamp.seconds,
      nanos: raw.value.timestamp.nanos,
    });
  });
});

describe('robustness', () => {
  test('garbage bytes as a request payload: an error status, and the server stays up', async () => {
    t = await startTestServer();
    await t.client.createAccount('still-here', 3n);
    const raw = new grpc.Client(t.server.target, grpc.credentials.createInsecure());
    closers.push(() => raw.close());
    const send = (method: string, payload: Buffer) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        raw.makeUnaryRequest(
          `/ledger.v1.Ledger/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          payload,
          (err) => resolve(err),
        );
      });
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x08, 0xde, 0xad, 0xbe, 0xef]);
    const methods = Object.keys(ledgerServiceDefinition());
    expect(methods).toHaveLength(7);
    for (const method of methods) {
      const err = await send(method, garbage);
      expect(err, method).not.toBeNull();
      expect([grpc.status.INTERNAL, grpc.status.INVALID_ARGUMENT]).toContain(err!.code);
    }
    const tooBig = await send('GetBalance', Buffer.alloc(LIMITS.maxBatchRequestBytes + 1, 0x0a));
    expect(tooBig?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await t.client.getBalance('still-here')).value.balance).toBe(3n);
    expect((await t.client.getSnapshot(false)).value.accountCount).toBe(1n);
  });

  test('an unexpected error answers INTERNAL with a generic message; the cause goes only to the log', async () => {
    t = await startTestServer();
    t.server.engine.getBalance = () => {
      throw new TypeError('disk on fire at /secret/path');
    };
    const err = await failure(t.client.getBalance('any'));
    expect([err.codeName, err.details]).toEqual(['INTERNAL', INTERNAL_ERROR_MESSAGE]);
    expect(err.details).not.toContain('disk');
    const line = t.logs.findLast((l) => l.level === PINO_ERROR);
    expect(line).toMatchObject({ operation: 'GetBalance', accountIds: ['any'], code: 'INTERNAL' });
    expect(String((line?.err as { stack?: string })?.stack)).toContain('disk on fire');
    expect(t.violations).toEqual([]);
    // The server keeps serving.
    expect((await t.client.getSnapshot(false)).value.accountCount).toBe(0n);
  });

  test('an InvariantViolation answers INTERNAL, logs at fatal and calls the crash hook', async () => {
    t = await startTestServer();
    const violation = new InvariantViolation('invariant violated: total drifted');
    t.server.engine.getSnapshot = () => {
      throw violation;
    };
    const err = await failure(t.client.getSnapshot(true));
    expect([err.codeName, err.details]).toEqual(['INTERNAL', INTERNAL_ERROR_MESSAGE]);
    await until(() => t!.violations.length === 1);
    expect(t.violations).toEqual([violation]);
    expect(t.logs.findLast((l) => l.level === PINO_FATAL)).toMatchObject({
      operation: 'GetSnapshot',
      code: 'INTERNAL',
      msg: 'invariant violated: total drifted',
    });
  });

  test('calls beyond the in-flight limit get RESOURCE_EXHAUSTED with a clear message', async () => {
    const storage = new GatedStorage();
    t = await startTestServer({ engine: { storage }, maxInFlightCalls: 5 });
    await Promise.all([0, 1, 2, 3, 4].map((i) => t!.client.createAccount(`f-${i}`, 0n)));
    storage.closed = true;
    const held = [0, 1, 2, 3, 4].map((i) => t!.client.updateBalance(`f-${i}`, 1n, `held-${i}`));
    await until(() => storage.held === 5);
    expect(t.server.inFlightCalls).toBe(5);
    const refused = await failure(t.client.getBalance('f-0'));
    expect([refused.codeName, refused.details]).toEqual([
      'RESOURCE_EXHAUSTED',
      'Too many calls in flight (limit 5); retry later',
    ]);
    expect(t.logs.findLast((l) => l.level === PINO_ERROR)).toMatchObject({
      operation: 'GetBalance',
      code: 'RESOURCE_EXHAUSTED',
    });
    storage.open();
    expect((await Promise.all(held)).map((r) => r.value.account.balance)).toEqual([1n, 1n, 1n, 1n, 1n]);
    expect(t.server.inFlightCalls).toBe(0);
    expect((await t.client.getBalance('f-0')).value.balance).toBe(1n);
  });

  test('a port in use is a ListenError naming the address', async () => {
    t = await startTestServer();
    const engine = t.server.engine;
    const attempt = startLedgerServer({
      host: '127.0.0.1',
      port: t.server.port,
      engine,
      logger: pino({ level: 'silent' }),
    });
    await expect(attempt).rejects.toBeInstanceOf(ListenError);
    await expect(attempt).rejects.toThrow(
      `cannot listen on 127.0.0.1:${t.server.port}: address already in use`,
    );
  });
});
