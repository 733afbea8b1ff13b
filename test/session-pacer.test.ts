import { readdirSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, test } from 'vitest';
import { CONNECTION_PREFACE, H2, H2FrameReader } from '../src/harness/h2-frames.js';
import { encodeHeaderBlock, HpackDecoder } from '../src/harness/hpack.js';
import { grpcFrame, MisbehavingClient } from '../src/harness/misbehaving-client.js';
import { startServeInMemory } from './cli-run.js';
import { h2Frame as frame } from './h2-raw-frame.js';
import { startTestServer, type TestServer } from './server-fixture.js';

const CHECK = '/grpc.health.v1.Health/Check';
const GET_BALANCE = '/ledger.v1.Ledger/GetBalance';

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Holds the event loop, so connects pile up in the kernel's accept queue as in a burst. First a
 * tick: net.connect to an IP address starts connecting on the next tick.
 */
async function blockLoop(ms: number): Promise<void> {
  await new Promise((r) => process.nextTick(r));
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* busy on purpose */
  }
}

let t: TestServer | undefined;
const sockets: Socket[] = [];
const clients: MisbehavingClient[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of clients.splice(0)) c.destroy();
  await t?.stop();
  t = undefined;
});

interface Speaker {
  socket: Socket;
  connected: Promise<unknown>;
  /** Writes everything in one write. */
  say(): void;
  /** The grpc-status of stream 1, or 'closed' if the connection ended without one. */
  outcome: Promise<number | 'closed'>;
}

/**
 * A raw HTTP/2 client that connects at once and, when told to `say()`, writes everything in one
 * write: its preface, SETTINGS, and one unary call (HEADERS, then the message in DATA frames of at
 * most 16 KiB, the last with END_STREAM). It reads the server's frames and decodes the answer's headers.
 */
function speaker(port: number, path: string, message: Uint8Array): Speaker {
  const socket = connectTcp({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => {});
  const headers = encodeHeaderBlock([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', `127.0.0.1:${port}`],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);
  const body = grpcFrame(message);
  const frames: Buffer[] = [CONNECTION_PREFACE, frame(H2.SETTINGS, 0, 0, Buffer.alloc(0))];
  frames.push(frame(H2.HEADERS, H2.END_HEADERS, 1, headers));
  for (let at = 0; at < body.length; at += H2.DEFAULT_MAX_FRAME) {
    const part = body.subarray(at, at + H2.DEFAULT_MAX_FRAME);
    frames.push(frame(H2.DATA, at + part.length >= body.length ? H2.END_STREAM : 0, 1, part));
  }
  const bytes = Buffer.concat(frames);
  const connected = new Promise((r) => socket.once('connect', r));
  const outcome = new Promise<number | 'closed'>((resolve) => {
    const reader = new H2FrameReader(1 << 20);
    const hpack = new HpackDecoder();
    socket.on('data', (chunk: Buffer) =>
      reader.read(chunk, (buf, type, flags, id, start, end) => {
        if (type !== H2.HEADERS) return true;
        let grpcStatus: number | undefined;
        hpack.decode(buf, start, end, {
          header: (name, value) => {
            if (name === 'grpc-status') grpcStatus = Number(value);
          },
        });
        if (id === 1 && (flags & H2.END_STREAM) !== 0 && grpcStatus !== undefined) resolve(grpcStatus);
        return true;
      }),
    );
    socket.once('close', () => resolve('closed'));
  });
  return { socket, connected, say: () => socket.write(bytes), outcome };
}

/**
 * `count` connections, held idle until the server has accepted every one (Node accepts one per
 * event-loop turn), then all speaking at once while the server's loop is held: their first bytes
 * are read in one poll phase, as when idle connections wake together.
 */
async function speakTogether(server: TestServer, speakers: Speaker[]): Promise<void> {
  const openBefore = server.server.connections.open;
  await Promise.all(speakers.map((s) => s.connected));
  await until(() => server.server.connections.open >= openBefore + speakers.length);
  for (const s of speakers) s.say();
  await blockLoop(100);
}

/** The most connections seen waiting for their session, sampled every turn until stopped. */
function sampleQueue(server: TestServer): { max: number; stop(): void } {
  const sample = { max: 0, stopped: false, stop: () => {} };
  const tick = () => {
    sample.max = Math.max(sample.max, server.server.connections.queued);
    if (!sample.stopped) setImmediate(tick);
  };
  sample.stop = () => {
    sample.stopped = true;
  };
  tick();
  return sample;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('session set-up waits for the client to speak, then is paced', () => {
  test('a connection that never speaks gets no HTTP/2 session (no SETTINGS), and is still closed by the preface timeout', async () => {
    t = await startTestServer({ server: { connectionPolicy: { prefaceTimeoutMs: 500 } } });
    const silent = connectTcp({ host: '127.0.0.1', port: t.server.port });
    sockets.push(silent);
    silent.on('error', () => {});
    let received = 0;
    silent.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    const closed = new Promise((r) => silent.once('close', r));
    const openBefore = t.server.connections.open;
    await new Promise((r) => silent.once('connect', r));
    await until(() => t!.server.connections.open === openBefore + 1);
    await sleep(200);
    // Without the wait for first bytes, the server's SETTINGS frame arrives at once.
    expect(received).toBe(0);
    await closed;
    expect(received).toBe(0);
    expect(t.server.connections.silent).toBe(1);
  });

  test('a burst of connections that each speak at once is all served, some of it after waiting in the queue', async () => {
    t = await startTestServer({ server: { transport: { sessionsPerTurn: 1, maxQueuedConnections: 1_000 } } });
    const burst = Array.from({ length: 300 }, () => speaker(t!.server.port, CHECK, new Uint8Array(0)));
    const queue = sampleQueue(t);
    await speakTogether(t, burst);
    const outcomes = await Promise.all(burst.map((s) => s.outcome));
    queue.stop();
    expect(outcomes.filter((o) => o === status.OK).length).toBe(300);
    // They did wait (the pacing was exercised), and the queue is empty again.
    expect(queue.max).toBeGreaterThan(100);
    expect(t.server.connections.queued).toBe(0);
    expect(t.server.connections.shed).toBe(0);
  });

  test("what a client sent before its session existed is all read: a 60 KiB request as a connection's first bytes is answered", async () => {
    t = await startTestServer({ server: { transport: { sessionsPerTurn: 1 } } });
    await t.client.createAccount('a', 5n);
    // Many speakers first, so the big one waits in the queue while its bytes pile up unread.
    const others = Array.from({ length: 50 }, () => speaker(t!.server.port, CHECK, new Uint8Array(0)));
    // GetBalanceRequest{account_id: "a"} then an unknown length-delimited field 15 of ~60 KiB, which protobuf skips.
    const filler = Buffer.alloc(60 * 1024, 0x61);
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    const big = Buffer.concat([
      Buffer.from('0a0161', 'hex'),
      Buffer.from([(15 << 3) | 2, ...varint(filler.length)]),
      filler,
    ]);
    const bigSpeaker = speaker(t.server.port, GET_BALANCE, big);
    await speakTogether(t, [...others, bigSpeaker]);
    expect(await bigSpeaker.outcome).toBe(status.OK);
    expect((await Promise.all(others.map((s) => s.outcome))).every((o) => o === status.OK)).toBe(true);
  });

  test('connections that speak while the queue is full are closed on arrival; the queued ones are served', async () => {
    t = await startTestServer({ server: { transport: { sessionsPerTurn: 1, maxQueuedConnections: 5 } } });
    const burst = Array.from({ length: 50 }, () => speaker(t!.server.port, CHECK, new Uint8Array(0)));
    await speakTogether(t, burst);
    const outcomes = await Promise.all(burst.map((s) => s.outcome));
    const served = outcomes.filter((o) => o === status.OK).length;
    expect(t.server.connections.shed).toBeGreaterThan(0);
    expect(served + t.server.connections.shed).toBe(50);
    expect(outcomes.filter((o) => o === 'closed').length).toBe(t.server.connections.shed);
    expect(served).toBeGreaterThanOrEqual(5);
    expect(
      t.logs.some(
        (l) => l.msg === 'connection refused: too many connections waiting for their HTTP/2 session',
      ),
    ).toBe(true);
  });

  test('an established client is answered again and again while a burst of set-ups is still queued', async () => {
    t = await startTestServer({ server: { transport: { sessionsPerTurn: 1 } } });
    const sentinel = await MisbehavingClient.connect(t.server.target);
    clients.push(sentinel);
    expect((await sentinel.call(CHECK, new Uint8Array(0))).grpcStatus).toBe(status.OK);

    const burst = Array.from({ length: 400 }, () => speaker(t!.server.port, CHECK, new Uint8Array(0)));
    await speakTogether(t, burst);
    // Calls one after another until the burst is set up: each answer that comes while sessions
    // still wait in the queue shows the loop served the established connection between set-ups.
    let answeredWhileQueued = 0;
    let maxQueuedSeen = 0;
    const sentinelLoop = (async () => {
      const deadline = Date.now() + 10_000;
      do {
        const outcome = await sentinel.call(CHECK, new Uint8Array(0));
        expect(outcome.grpcStatus).toBe(status.OK);
        const queued = t!.server.connections.queued;
        maxQueuedSeen = Math.max(maxQueuedSeen, queued);
        if (queued > 0) answeredWhileQueued++;
      } while (t!.server.connections.queued > 0 && Date.now() < deadline);
    })();
    const outcomes = await Promise.all(burst.map((s) => s.outcome));
    await sentinelLoop;
    expect(outcomes.every((o) => o === status.OK)).toBe(true);
    expect(maxQueuedSeen).toBeGreaterThan(0);
    // Set up all in one turn, the burst would leave no answer to come while it waited.
    expect(answeredWhileQueued).toBeGreaterThanOrEqual(3);
  });

  test('shutdown closes the connections still waiting for their session instead of setting them up', async () => {
    t = await startTestServer({ shutdownGraceMs: 8_000, server: { transport: { sessionsPerTurn: 1 } } });
    const burst = Array.from({ length: 300 }, () => speaker(t!.server.port, CHECK, new Uint8Array(0)));
    await speakTogether(t, burst);
    const start = Date.now();
    const stopping = t.server.shutdown();
    const outcomes = await Promise.all(burst.map((s) => s.outcome));
    await stopping;
    // Given sessions after grpc-js began to shut down, nobody would close them: shutdown would wait out its grace.
    expect(Date.now() - start).toBeLessThan(4_000);
    expect(outcomes.filter((o) => o === 'closed').length).toBeGreaterThan(0);
    expect(outcomes.every((o) => o === 'closed' || o === status.OK)).toBe(true);
  });

  test('a connection reset by its client before it speaks is just gone (the server lives on)', async () => {
    t = await startTestServer();
    const openBefore = t.server.connections.open;
    const doomed = Array.from({ length: 20 }, () => {
      const s = connectTcp({ host: '127.0.0.1', port: t!.server.port });
      sockets.push(s);
      s.on('error', () => {});
      return new Promise((r) => s.once('connect', r));
    });
    await Promise.all(doomed);
    await until(() => t!.server.connections.open >= openBefore + 20);
    // An RST, not a FIN: the server's read fails with ECONNRESET.
    for (const s of sockets) s.resetAndDestroy();
    await until(() => t!.server.connections.open === openBefore);
    expect((await t.client.getBalance('nobody').catch((e: { code: number }) => e.code)) as number).toBe(
      status.NOT_FOUND,
    );
  });

  test('serve --sessions-per-turn and --max-queued-connections reach the pacer', async () => {
    const { serve, port } = await startServeInMemory([
      '--sessions-per-turn',
      '1',
      '--max-queued-connections',
      '5',
    ]);
    try {
      const pid = serve.child.pid!;
      const openBefore = readdirSync(`/proc/${pid}/fd`).length;
      const burst = Array.from({ length: 50 }, () => speaker(port, CHECK, new Uint8Array(0)));
      await Promise.all(burst.map((s) => s.connected));
      await until(() => readdirSync(`/proc/${pid}/fd`).length >= openBefore + burst.length);
      // Stopped, the server reads every first request in one poll phase when it resumes.
      serve.child.kill('SIGSTOP');
      for (const s of burst) s.say();
      await sleep(100);
      serve.child.kill('SIGCONT');
      const outcomes = await Promise.all(burst.map((s) => s.outcome));
      const served = outcomes.filter((o) => o === status.OK).length;
      const closed = outcomes.filter((o) => o === 'closed').length;
      // The defaults (4 a turn, 1,000 waiting) would serve all 50.
      expect(closed).toBeGreaterThan(0);
      expect(served).toBeGreaterThanOrEqual(5);
      expect(served + closed).toBe(50);
    } finally {
      serve.child.kill('SIGCONT');
      serve.child.kill('SIGTERM');
      await serve.result;
    }
  });
});
