import { constants as http2constants } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { LedgerCallError } from '../src/client/ledger-client.js';
import { CONNECTION_PREFACE, H2, H2FrameReader } from '../src/harness/h2-frames.js';
import { encodeHeaderBlock } from '../src/harness/hpack.js';
import { MisbehavingClient, outcomeOf } from '../src/harness/misbehaving-client.js';
import { SnapshotReads } from '../src/server/snapshot-reads.js';
import { grpcTimeoutMs } from '../src/server/transport-limits.js';
import { oneErrorLine, runCli } from './cli-run.js';
import { h2Frame } from './h2-raw-frame.js';
import { PINO_ERROR, startTestServer, type TestServer } from './server-fixture.js';
import { TestPki } from './tls-fixture.js';

const LEDGER = '/ledger.v1.Ledger';
const WATCH = '/grpc.health.v1.Health/Watch';
/** GetBalanceRequest{account_id: "a"} */
const GET_A = Buffer.from('0a0161', 'hex');

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let t: TestServer | undefined;
const clients: MisbehavingClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await t?.stop();
  t = undefined;
});

async function misbehaving(server: TestServer): Promise<MisbehavingClient> {
  const c = await MisbehavingClient.connect(server.server.target);
  clients.push(c);
  return c;
}

describe('calls in flight include calls still waiting for their request and streaming calls', () => {
  test('header-only streams wait in their own bound: the oldest is ended when it is full, they end after the request timeout, and real calls still pass', async () => {
    t = await startTestServer({
      maxInFlightCalls: 5,
      server: { maxPendingCalls: 20, requestMessageTimeoutMs: 600 },
    });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    const streams = Array.from({ length: 30 }, () => c.open(`${LEDGER}/GetBalance`));
    const outcomes = streams.map(outcomeOf);
    await until(() => t!.server.pendingCalls === 20);
    // They hold no in-flight slot: a well-behaved client is served at once, again and again.
    expect(t.server.inFlightCalls).toBe(0);
    for (let i = 0; i < 10; i++) expect((await t.client.getBalance('a')).value.balance).toBe(1n);
    const ended = await Promise.all(outcomes);
    const messages = ended.map((o) => `${o.grpcStatus} ${o.grpcMessage}`);
    // Oldest first: the first 10 were pushed out by the last 10 streams, one more by the first real
    // call (it waits for its request for a moment too, then frees its place); the 19 left timed out.
    expect(messages.slice(0, 11)).toEqual(
      Array(11).fill(
        `${status.RESOURCE_EXHAUSTED} Too many calls waiting for their request (limit 20); this one waited longest`,
      ),
    );
    expect(messages.slice(11)).toEqual(
      Array(19).fill(
        `${status.DEADLINE_EXCEEDED} Request message not received within 600 ms of the call's headers`,
      ),
    );
    await until(() => t!.server.pendingCalls === 0 && t!.server.inFlightCalls === 0);
    // A flood is logged once a second per message, not once per refused stream.
    const logged = (prefix: string) =>
      t!.logs.filter((l) => l.level === PINO_ERROR && String(l.msg).startsWith(prefix)).length;
    expect(logged('Too many calls waiting')).toBeGreaterThanOrEqual(1);
    expect(logged('Too many calls waiting')).toBeLessThanOrEqual(2);
    expect(logged('Request message not received')).toBeGreaterThanOrEqual(1);
    expect(logged('Request message not received')).toBeLessThanOrEqual(2);
    // The server also resets the streams the client never ended, so they stop holding stream slots.
    await until(() => streams.every((s) => s.closed));
  });

  test('health Watch streams are counted in flight and bounded on their own; unary calls still pass', async () => {
    t = await startTestServer({ server: { maxOpenStreams: 3 } });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    const watches = Array.from({ length: 3 }, () => c.open(WATCH));
    for (const w of watches) {
      w.end(Buffer.from('0000000000', 'hex'));
      w.on('data', () => {});
    }
    await until(() => t!.server.openStreams === 3);
    expect(t.server.inFlightCalls).toBe(3);
    const fourth = await c.call(WATCH, Buffer.alloc(0));
    expect(fourth).toEqual({
      grpcStatus: status.RESOURCE_EXHAUSTED,
      grpcMessage: 'Too many streaming calls open (limit 3); retry later',
    });
    expect((await t.client.getBalance('a')).value.balance).toBe(1n);
    for (const w of watches) w.close();
    await until(() => t!.server.inFlightCalls === 0 && t!.server.openStreams === 0);
  });

  test('a call already cancelled when its handler would start is not served', async () => {
    t = await startTestServer({ logLevel: 'debug' });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    // Headers and body, then a reset before the server reads them: nobody waits for an answer.
    for (let i = 0; i < 50; i++) {
      const stream = c.open(`${LEDGER}/GetBalance`);
      stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, GET_A.length]), GET_A]));
      stream.close();
    }
    await until(() => t!.server.inFlightCalls === 0);
    // A call still served gets a debug 'ok' line; abandoned ones mostly do not (the reset races the read).
    const served = t.logs.filter((l) => l.msg === 'ok' && l.operation === 'GetBalance').length;
    expect(served).toBeLessThan(50);
  });
});

describe('connection-level bounds', () => {
  test('connections beyond the limit are closed as they arrive', async () => {
    t = await startTestServer({ server: { transport: { maxConnections: 3 } } });
    const sockets = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const s = connectTcp(t!.server.port, '127.0.0.1', () => resolve(s));
            s.on('error', () => {});
          }),
      ),
    );
    await until(() => t!.server.connections.refused === 2);
    expect(t.server.connections.open).toBe(3);
    for (const s of sockets) s.destroy();
    await until(() => t!.server.connections.open === 0);
  });

  test('an idle connection is closed after the idle timeout', async () => {
    t = await startTestServer({ server: { transport: { connectionIdleMs: 200 } } });
    const c = await misbehaving(t);
    const closed = new Promise<number>((resolve) => {
      const start = Date.now();
      c.session.once('close', () => resolve(Date.now() - start));
    });
    expect(await closed).toBeLessThan(3_000);
  });

  test('metadata above the header limit is refused; below it is served', async () => {
    t = await startTestServer({ server: { transport: { maxHeaderListBytes: 4 * 1024 } } });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    const small = await c.call(`${LEDGER}/GetBalance`, GET_A, { 'x-pad': 'p'.repeat(1024) });
    expect(small.grpcStatus).toBe(status.OK);
    const big = await c.call(`${LEDGER}/GetBalance`, GET_A, { 'x-pad': 'p'.repeat(8 * 1024) });
    expect(big.grpcStatus).toBeUndefined();
    expect(big.error).toMatch(/stream|ENHANCE_YOUR_CALM|closed/i);
  });
});

describe('per-connection policing', () => {
  test('a connection whose calls are refused too fast is sent GOAWAY (ENHANCE_YOUR_CALM) and closed; others are served', async () => {
    t = await startTestServer({
      server: { maxPendingCalls: 10, connectionPolicy: { maxRefusalsPerSecond: 20 } },
    });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    const goaway = new Promise<number>((resolve) => c.session.once('goaway', (code) => resolve(code)));
    c.session.on('error', () => {});
    // Headers only: past 10 pending, each new stream pushes the oldest out (a refusal of this connection).
    const streams = Array.from({ length: 200 }, () => c.open(`${LEDGER}/GetBalance`));
    for (const s of streams) s.on('error', () => {});
    expect(await goaway).toBe(http2constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await until(() => c.session.destroyed || c.session.closed);
    expect(t.server.connections.expelled).toBe(1);
    // Everything it held is gone with it; a well-behaved client on its own connection is served.
    await until(() => t!.server.pendingCalls === 0);
    expect((await t.client.getBalance('a')).value.balance).toBe(1n);
  });

  test('refusals below the rate leave the connection open', async () => {
    t = await startTestServer({ server: { connectionPolicy: { maxRefusalsPerSecond: 20 } } });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    // 20 malformed requests (field 1 sent as a varint) in well under a second: refused, not expelled.
    for (let i = 0; i < 20; i++) {
      expect((await c.call(`${LEDGER}/GetBalance`, Buffer.from('0801', 'hex'))).grpcStatus).toBe(
        status.INVALID_ARGUMENT,
      );
    }
    expect((await c.call(`${LEDGER}/GetBalance`, GET_A)).grpcStatus).toBe(status.OK);
    expect(t.server.connections.expelled).toBe(0);
    expect(c.session.closed).toBe(false);
  });

  test('streaming calls are bounded per connection too', async () => {
    t = await startTestServer({ server: { connectionPolicy: { maxWatchesPerConnection: 2 } } });
    const [c, d] = [await misbehaving(t), await misbehaving(t)];
    for (const w of [c.open(WATCH), c.open(WATCH)]) {
      w.end(Buffer.from('0000000000', 'hex'));
      w.on('data', () => {});
    }
    await until(() => t!.server.openStreams === 2);
    expect(await c.call(WATCH, Buffer.alloc(0))).toEqual({
      grpcStatus: status.RESOURCE_EXHAUSTED,
      grpcMessage: 'Too many streaming calls open on this connection (limit 2); retry later',
    });
    // Another connection has its own two.
    const other = d.open(WATCH);
    other.end(Buffer.from('0000000000', 'hex'));
    other.on('data', () => {});
    await until(() => t!.server.openStreams === 3);
  });

  test('after an expulsion, new connections from that address are on probation: nghttp2 refuses their streams past a few; other addresses are not touched', async () => {
    t = await startTestServer({
      server: {
        maxPendingCalls: 10,
        connectionPolicy: { maxRefusalsPerSecond: 20, probationStreams: 2, probationMs: 60_000 },
      },
    });
    await t.client.createAccount('a', 1n);
    // The attacker is another host as far as the server can tell (127.0.0.2; the fixture client is 127.0.0.1).
    const flood = await MisbehavingClient.connect(t.server.target, '127.0.0.2');
    clients.push(flood);
    flood.session.on('error', () => {});
    for (const s of Array.from({ length: 200 }, () => flood.open(`${LEDGER}/GetBalance`)))
      s.on('error', () => {});
    await until(() => flood.session.destroyed || flood.session.closed);
    expect(t.server.connections.expelled).toBe(1);
    await until(() => t!.server.pendingCalls === 0);

    // Back at once, ignoring SETTINGS: preface, then 10 header-only streams without waiting.
    const raw = connectTcp({ host: '127.0.0.1', port: t.server.port, localAddress: '127.0.0.2' });
    raw.on('error', () => {});
    const resets: number[] = [];
    let maxStreams: number | undefined;
    const reader = new H2FrameReader(1 << 20);
    raw.on('data', (chunk: Buffer) =>
      reader.read(chunk, (buf, type, _flags, _id, start, end) => {
        if (type === H2.RST_STREAM) resets.push(buf.readUInt32BE(start));
        if (type === H2.SETTINGS)
          for (let at = start; at + 6 <= end; at += 6)
            if (buf.readUInt16BE(at) === H2.SETTINGS_MAX_CONCURRENT_STREAMS)
              maxStreams = buf.readUInt32BE(at + 2);
        return true;
      }),
    );
    await new Promise((r) => raw.once('connect', r));
    const headers = encodeHeaderBlock([
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', `${LEDGER}/GetBalance`],
      [':authority', t.server.target],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
    ]);
    const frames: Buffer[] = [CONNECTION_PREFACE, h2Frame(H2.SETTINGS, 0, 0, Buffer.alloc(0))];
    for (let i = 0; i < 10; i++) frames.push(h2Frame(H2.HEADERS, H2.END_HEADERS, 1 + 2 * i, headers));
    raw.write(Buffer.concat(frames));
    await until(() => resets.length >= 8);
    expect(maxStreams).toBe(2);
    expect(resets.slice(0, 8)).toEqual(Array(8).fill(H2.REFUSED_STREAM));
    // Only the two it may hold reached the call gate.
    await new Promise((r) => setTimeout(r, 100));
    expect(t.server.pendingCalls).toBe(2);
    expect(t.server.connections.probation).toBe(1);
    raw.destroy();

    // Another address (the fixture's client reconnecting, say) starts with the full allowance.
    const other = await misbehaving(t);
    expect((await other.remoteSettings).maxConcurrentStreams).toBe(100);
    expect((await t.client.getBalance('a')).value.balance).toBe(1n);
    expect(t.server.connections.probation).toBe(1);
  });

  test('a connection that never starts HTTP/2 is closed after the preface timeout; an idle HTTP/2 one is not', async () => {
    t = await startTestServer({ server: { connectionPolicy: { prefaceTimeoutMs: 300 } } });
    const h2 = await misbehaving(t);
    const silent = await new Promise<import('node:net').Socket>((resolve) => {
      const s = connectTcp(t!.server.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
    });
    const start = Date.now();
    await new Promise((r) => silent.once('close', r));
    expect(Date.now() - start).toBeLessThan(3_000);
    expect(t.server.connections.silent).toBe(1);
    expect(h2.session.closed).toBe(false);
    expect((await h2.call(WATCH.replace('Watch', 'Check'), Buffer.alloc(0))).grpcStatus).toBe(status.OK);
  });
});

describe('the preface timeout on a TLS listener', () => {
  const pki = new TestPki('preface-ca');
  afterAll(() => pki.remove());

  test('a TLS connection that handshakes and sends no preface, or never finishes the handshake, is closed; an idle HTTP/2 one is not', async () => {
    const cert = pki.issue('server-preface', 'server');
    t = await startTestServer({
      tls: { certFile: cert.certFile, keyFile: cert.keyFile },
      clientSecurity: { tls: { caPem: pki.ca.cert } },
      server: { connectionPolicy: { prefaceTimeoutMs: 300 } },
    });
    await t.client.createAccount('a', 1n);
    // A real handshake (h2 by ALPN, certificate checked), then silence.
    const handshaken = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connectTls(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port: t!.server.port,
          ca: pki.ca.cert,
          ALPNProtocols: ['h2'],
        },
        () => resolve(s),
      );
      s.once('error', reject);
    });
    expect(handshaken.authorized).toBe(true);
    expect(handshaken.alpnProtocol).toBe('h2');
    // TCP only: the ClientHello never comes.
    const noHandshake = await new Promise<Socket>((resolve) => {
      const s = connectTcp(t!.server.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
    });
    handshaken.on('error', () => {});
    const start = Date.now();
    await Promise.all([
      new Promise((r) => handshaken.once('close', r)),
      new Promise((r) => noHandshake.once('close', r)),
    ]);
    expect(Date.now() - start).toBeLessThan(3_000);
    expect(t.server.connections.silent).toBe(2);
    // The fixture's own TLS client started HTTP/2 and is still served after the timeout.
    await new Promise((r) => setTimeout(r, 400));
    expect((await t.client.getBalance('a')).value.balance).toBe(1n);
    expect(t.server.connections.silent).toBe(2);
  });
});

describe('durations past what timers hold', () => {
  test.each([
    ['serve', '--shutdown-grace', '30d'],
    ['serve', '--idle-timeout', '25d'],
    ['balance', 'a', '--timeout', '25d'],
    ['serve', '--db-connect-timeout', '30d'],
  ])('%s %s %s is refused with one line, exit 2', async (...args) => {
    const out = await runCli(args);
    expect(out.code).toBe(2);
    expect(oneErrorLine(out.stderr)).toBe(
      `ledgerctl: option '${args[args.length - 2]} <duration>' argument '${args[args.length - 1]}' is invalid. Longer than a timer can hold: at most 2147483647 ms (about 24.8 days, e.g. 24d). (see --help)`,
    );
  });

  test('load --duration 30d is refused before connecting (it ran one call and ended: the run timer fired after 1 ms)', async () => {
    const out = await runCli(['load', '--target', '127.0.0.1:1', '--duration', '30d', '--rate', '10']);
    expect(out.code).toBe(2);
    expect(oneErrorLine(out.stderr)).toBe(
      'ledgerctl: --duration: longer than a timer can hold: at most 2147483647 ms (about 24.8 days, e.g. 24d)',
    );
  });

  test('grpc-timeout parsing', () => {
    expect(grpcTimeoutMs('100m')).toBe(100);
    expect(grpcTimeoutMs('2160000S')).toBe(2_160_000_000);
    expect(grpcTimeoutMs('600H')).toBe(2_160_000_000);
    expect(grpcTimeoutMs(undefined)).toBeUndefined();
    expect(grpcTimeoutMs('12x')).toBeUndefined();
  });

  test('a 25-day call deadline is capped to ~24.8 days, not wrapped to 1 ms (the write answers OK)', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 30 });
    await t.client.createAccount('a', 1n);
    const c = await misbehaving(t);
    // UpdateBalanceRequest{account_id: "a", delta: 1, transaction_id: "t"}
    const update = Buffer.from('0a016110011a0174', 'hex');
    for (const timeout of ['600H', '2160000S', '99999999S']) {
      const outcome = await c.call(`${LEDGER}/UpdateBalance`, update, { 'grpc-timeout': timeout });
      expect(outcome, timeout).toMatchObject({ grpcStatus: status.OK });
    }
    expect((await t.client.getBalance('a')).value.balance).toBe(2n);
  });
});

describe('snapshot reads with accounts have their own limit', () => {
  test('more concurrent large snapshot reads than the limit get RESOURCE_EXHAUSTED with the exact message', async () => {
    t = await startTestServer({ server: { maxSnapshotReads: 2 } });
    for (let i = 0; i < 1_100; i++) await t.client.createAccount(`s${String(i).padStart(5, '0')}`, 1n);
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => t!.client.getSnapshot(true)));
    const ok = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as LedgerCallError] : []));
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect([r.codeName, r.details]).toEqual([
        'RESOURCE_EXHAUSTED',
        'Too many snapshot reads with accounts in flight (limit 2 calls, 500000 accounts); retry later',
      ]);
    }
    // The slices make one exact snapshot: sorted, complete, summing to the total.
    const full = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<TestServer['client']['getSnapshot']>>>)
      .value.value;
    expect(full.accounts).toHaveLength(1_100);
    expect(full.totalBalance).toBe(1_100n);
    expect(full.accounts.map((a) => a.accountId)).toEqual([...full.accounts.map((a) => a.accountId)].sort());
    expect(t.logs.some((l) => l.level === PINO_ERROR && l.code === 'RESOURCE_EXHAUSTED')).toBe(true);
    // Small ledgers' snapshots (one slice) are never refused.
    expect(t.server.inFlightCalls).toBe(0);
  });

  test('a connection flooding snapshot reads past their bound is sent GOAWAY and closed', async () => {
    t = await startTestServer({
      server: { maxSnapshotReads: 1, connectionPolicy: { maxRefusalsPerSecond: 5 } },
    });
    const operations = Array.from({ length: 1_100 }, (_, i) => ({
      create_account: { account_id: `s${i}`, initial_balance: '1' },
    }));
    await t.client.raw('ExecuteBatch', { operations });
    const c = await misbehaving(t);
    c.session.on('error', () => {});
    const goaway = new Promise<number>((resolve) => c.session.once('goaway', (code) => resolve(code)));
    // GetSnapshotRequest{include_accounts: true}, 30 at once on one connection.
    const outcomes = Array.from({ length: 30 }, () =>
      c.call(`${LEDGER}/GetSnapshot`, Buffer.from('0801', 'hex')),
    );
    expect(await goaway).toBe(http2constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await Promise.all(outcomes);
    expect(t.server.connections.expelled).toBe(1);
    expect((await t.client.getSnapshot(false)).value.totalBalance).toBe(1_100n);
  });

  test('an abandoned read is dropped before it copies anything', async () => {
    t = await startTestServer();
    for (let i = 0; i < 1_100; i++) await t.client.createAccount(`s${i}`, 1n);
    const reads = new SnapshotReads({ maxCalls: 1, budgetAccounts: 10_000, sliceAccounts: 100 });
    expect(await reads.read(t.server.engine, () => true)).toBeUndefined();
    let checks = 0;
    // Cancelled after three slices: stops there.
    expect(await reads.read(t.server.engine, () => ++checks > 3)).toBeUndefined();
    expect(checks).toBe(4);
    expect(reads.inFlight).toBe(0);
  });
});
