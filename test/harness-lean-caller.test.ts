import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callOp } from '../src/harness/call-op.js';
import { frameMessage, grpcTimeout } from '../src/harness/grpc-wire.js';
import { h2CallOp } from '../src/harness/h2-call-op.js';
import { H2Channel, SERVER_TIME_KEY } from '../src/harness/h2-channel.js';
import { encodeRequest, METHOD_PATHS } from '../src/harness/ledger-messages.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import { startTestServer, type TestServer } from './server-fixture.js';

const channel = (target: string, maxResponseBytes = 64 << 20) =>
  new H2Channel(`http://${target}`, { maxResponseBytes, deadlineTickMs: 5 });

describe('lean HTTP/2 caller against the real ledger server (grpc-js)', () => {
  let t: TestServer;
  let ch: H2Channel;
  beforeAll(async () => {
    t = await startTestServer();
    ch = channel(t.server.target);
    await ch.connect(5_000);
    await t.client.createAccount('a', 1000n);
    await t.client.createAccount('b', 1000n);
    await t.client.createAccount('big-𝄞', 5n);
  });
  afterAll(async () => {
    ch.close();
    await t.stop();
  });

  it('gets the same outcome as the grpc-js client for every op, with the server time', async () => {
    const strip = (o: object) => {
      const { serverTimeUs: _s, ...rest } = o as { serverTimeUs?: number };
      return rest;
    };
    const cases = [
      ['get', { accountId: 'a' }],
      ['get', { accountId: 'big-𝄞' }],
      ['update', { accountId: 'a', amount: -7n, transactionId: 'u-1' }],
      ['update', { accountId: 'a', amount: -7n, transactionId: 'u-1' }], // replay
      ['transfer', { fromId: 'a', toId: 'b', amount: 5n, transactionId: 't-1' }],
      ['query', { transactionId: 't-1' }],
      ['snapshot', { includeAccounts: true }],
      ['create', { accountId: 'c', amount: 9n, transactionId: 'c-1' }],
    ] as const;
    for (const [op, args] of cases) {
      const lean = await h2CallOp(ch, op, args, 5_000);
      expect(lean.type, `${op} ${JSON.stringify(args, (_k, v) => String(v))}`).toBe('ok');
      expect(lean.serverTimeUs).toBeGreaterThanOrEqual(0);
      // The same read through grpc-js gives the same answer (reads only: a write would apply twice).
      if (op === 'get' || op === 'query')
        expect(strip(lean)).toEqual(strip(await callOp(t.client, op, args, 5_000)));
    }
    const replay = await h2CallOp(ch, 'update', { accountId: 'a', amount: -7n, transactionId: 'u-1' }, 5_000);
    expect(replay).toMatchObject({ type: 'ok', replayed: true, resultTransactionId: 'u-1' });
    expect(replay.accounts![0]).toMatchObject({ accountId: 'a', balance: 993n });
  });

  it('trailers-only errors: code and the exact (percent-decoded) message, replay flag kept', async () => {
    const missing = await h2CallOp(ch, 'get', { accountId: 'nobody-é%' }, 5_000);
    const viaGrpcJs = await callOp(t.client, 'get', { accountId: 'nobody-é%' }, 5_000);
    expect(missing).toMatchObject({ type: 'fail', code: 'NOT_FOUND', message: viaGrpcJs.message });
    expect(missing.message).toContain('nobody-é%');
    const broke = await h2CallOp(
      ch,
      'transfer',
      { fromId: 'a', toId: 'b', amount: 10_000n, transactionId: 't-2' },
      5_000,
    );
    expect(broke).toMatchObject({ type: 'fail', code: 'FAILED_PRECONDITION', replayed: false });
    const again = await h2CallOp(
      ch,
      'transfer',
      { fromId: 'a', toId: 'b', amount: 10_000n, transactionId: 't-2' },
      5_000,
    );
    expect(again).toMatchObject({ type: 'fail', code: 'FAILED_PRECONDITION', replayed: true });
  });

  it('flow control: a snapshot far beyond the 64 KiB initial window arrives whole', async () => {
    for (let i = 0; i < 3_000; i++) await t.client.createAccount(`fc-${i}-${'x'.repeat(40)}`, 1n);
    const r = await h2CallOp(ch, 'snapshot', { includeAccounts: true }, 10_000);
    expect(r.type).toBe('ok');
    expect(r.snapshot!.accounts.length).toBeGreaterThan(3_000);
  });

  it('an answer above the response limit is cut off: RESOURCE_EXHAUSTED', async () => {
    const small = channel(t.server.target, 1_000);
    try {
      const r = await h2CallOp(small, 'snapshot', { includeAccounts: true }, 10_000);
      expect(r).toMatchObject({ type: 'fail', code: 'RESOURCE_EXHAUSTED' });
    } finally {
      small.close();
    }
  });
});

describe('lean caller edge cases against hand-made servers', () => {
  it('deadline: sent as grpc-timeout, enforced by the grpc-js server and locally', async () => {
    expect(grpcTimeout(250)).toBe('250m');
    expect(grpcTimeout(200_000_000)).toBe('200000S');
    const server = new grpc.Server();
    const seenTimeouts: string[] = [];
    server.addService(ledgerServiceDefinition(), {
      GetBalance: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seenTimeouts.push(String(call.metadata.get('grpc-timeout')[0] ?? call.getDeadline()));
        setTimeout(() => cb(null, { account_id: 'late', balance: '1', version: '1' }), 500);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const ch = channel(`127.0.0.1:${port}`);
    try {
      // The handler answers OK after 500 ms: DEADLINE_EXCEEDED means the 100 ms deadline held.
      const r = await h2CallOp(ch, 'get', { accountId: 'a' }, 100);
      expect(r).toMatchObject({ type: 'info', code: 'DEADLINE_EXCEEDED' });
      expect(seenTimeouts).toHaveLength(1);
    } finally {
      ch.close();
      server.forceShutdown();
    }
  });

  it('no grpc-status, HTTP errors and RST_STREAM map to the gRPC codes; GOAWAY moves to a new connection', async () => {
    let mode = 'ok';
    const server = http2.createServer();
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        switch (mode) {
          case 'no-status':
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
            stream.once('wantTrailers', () => stream.sendTrailers({ 'x-other': '1' }));
            stream.end(frameMessage(encodeRequest('get', { accountId: 'z' }).subarray(5)));
            return;
          case 'http-503':
            stream.respond({ ':status': 503 }, { endStream: true });
            return;
          case 'refused':
            stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
            return;
          case 'percent':
            stream.respond(
              {
                ':status': 200,
                'content-type': 'application/grpc',
                'grpc-status': '5',
                'grpc-message': 'caf%C3%A9 %25 gone',
              },
              { endStream: true },
            );
            return;
          case 'bad-frame':
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
            stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
            stream.end(Buffer.from([0, 0, 0, 0, 9, 1]));
            return;
          default:
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
            stream.once('wantTrailers', () =>
              stream.sendTrailers({ 'grpc-status': '0', [SERVER_TIME_KEY]: '42' }),
            );
            stream.end(frameMessage(encodeRequest('get', { accountId: 'z' }).subarray(5)));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const ch = channel(`127.0.0.1:${port}`);
    const get = () => h2CallOp(ch, 'get', { accountId: 'a' }, 2_000);
    try {
      expect(await get()).toMatchObject({ type: 'ok', serverTimeUs: 42, accounts: [{ accountId: 'z' }] });
      mode = 'no-status';
      expect(await get()).toMatchObject({ type: 'info', code: 'INTERNAL' });
      mode = 'http-503';
      expect(await get()).toMatchObject({ type: 'info', code: 'UNAVAILABLE' });
      mode = 'refused';
      expect(await get()).toMatchObject({ type: 'info', code: 'UNAVAILABLE' });
      mode = 'percent';
      expect(await get()).toMatchObject({ type: 'fail', code: 'NOT_FOUND', message: 'café % gone' });
      mode = 'bad-frame';
      expect(await get()).toMatchObject({ type: 'info', code: 'INTERNAL' });
      mode = 'ok';
      const before = sessions.length;
      for (const s of sessions) s.goaway();
      // Once the GOAWAY has arrived (a busy machine may take a while), calls go to a new connection.
      let after = await get();
      for (let i = 0; i < 40 && sessions.length === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        after = await get();
      }
      expect(after).toMatchObject({ type: 'ok' });
      expect(sessions.length).toBe(before + 1);
    } finally {
      ch.close();
      for (const s of sessions) s.destroy();
      server.close();
    }
  });

  it('a lost connection fails calls in flight as UNAVAILABLE (indeterminate), never as a hang', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.session?.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const ch = channel(`127.0.0.1:${port}`);
    try {
      const r = await h2CallOp(ch, 'update', { accountId: 'a', amount: 1n, transactionId: 'x' }, 2_000);
      expect(r.type).toBe('info');
      expect(['UNAVAILABLE', 'INTERNAL', 'CANCELLED']).toContain(r.code);
    } finally {
      ch.close();
      server.close();
    }
  });

  it('encodes requests that protobufjs decodes to the same message (zero fields omitted, as proto3 allows)', () => {
    const def = ledgerServiceDefinition();
    const check = (op: keyof typeof METHOD_PATHS, args: object, wire: object) => {
      const method = METHOD_PATHS[op].split('/').pop()!;
      const d = def[method]!;
      const framed = encodeRequest(op, args);
      expect(framed.readUInt32BE(1)).toBe(framed.length - 5);
      expect(d.requestDeserialize(framed.subarray(5))).toEqual(
        d.requestDeserialize(d.requestSerialize(wire)),
      );
    };
    check('get', { accountId: 'a-é' }, { account_id: 'a-é' });
    check(
      'update',
      { accountId: 'a', amount: -5n, transactionId: 't' },
      { account_id: 'a', delta: '-5', transaction_id: 't' },
    );
    check(
      'transfer',
      { fromId: 'a', toId: 'b', amount: 9_223_372_036_854_775_807n, transactionId: 't' },
      { from_account_id: 'a', to_account_id: 'b', amount: '9223372036854775807', transaction_id: 't' },
    );
    check(
      'create',
      { accountId: 'c', amount: 0n, transactionId: '' },
      { account_id: 'c', initial_balance: '0', transaction_id: '' },
    );
    check('snapshot', { includeAccounts: true }, { include_accounts: true });
    check('query', { transactionId: 'q' }, { transaction_id: 'q' });
  });
});
