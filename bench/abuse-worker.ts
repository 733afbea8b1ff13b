/**
 * The misbehaving client of bench/abuse-bench.ts. Either its own process (the default: started
 * under `nice`, its order as JSON in argv[2], talking over IPC), as a remote attacker is not
 * scheduled by the server's kernel; or a worker thread of the bench process (`--attacker thread`,
 * the first two passes' set-up). Loopback only. Reports counts when done.
 */
import type { ClientHttp2Stream, Settings } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { grpcFrame, MisbehavingClient } from '../src/harness/misbehaving-client.js';

export type AbuseKind = 'header-only' | 'watch' | 'idle' | 'snapshot';

export interface AbuseOrder {
  kind: AbuseKind;
  target: string;
  /** Streams or connections to attempt in all. */
  total: number;
  /** Connections to spread them over. */
  connections: number;
  /** Stop after this long even if `total` is not reached. */
  maxDurationMs: number;
}

export interface AbuseReport {
  attempted: number;
  /** Answers by grpc-status (string keys), 'reset' for streams closed without a status. */
  outcomes: Record<string, number>;
  durationMs: number;
}

/** The bench at the other end: the worker thread's parent port, or the parent process over IPC. */
const parent: { postMessage(m: unknown): void; once(event: 'message', f: (m: unknown) => void): void } =
  parentPort ?? {
    postMessage: (m) => process.send!(m),
    once: (event, f) => process.once(event, f),
  };
const order = (parentPort === null ? JSON.parse(process.argv[2]!) : workerData) as AbuseOrder;
const outcomes: Record<string, number> = {};
const count = (key: string) => {
  outcomes[key] = (outcomes[key] ?? 0) + 1;
};
/** The server's HTTP/2 settings (they follow its preface; 1 s at most, else node:http2's defaults). */
function remoteSettings(c: MisbehavingClient): Promise<Settings> {
  return Promise.race([c.remoteSettings, sleep(1_000).then(() => c.session.remoteSettings)]);
}
/**
 * The attacker's source address: another host as far as the server can tell (the sentinel and the
 * bench's other clients connect from 127.0.0.1), as in the threat.
 */
const ATTACKER_ADDRESS = '127.0.0.2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Keeps up to `perConnection` streams in progress on each of `connections` connections (no more
 * than the server's SETTINGS_MAX_CONCURRENT_STREAMS: node:http2 would queue the rest in this
 * process, never sent, and count them as attempts), opening a new one as each settles, until
 * `total` or the time is up. A connection the server closes (GOAWAY,
 * or Node's own rapid-reset guard) is replaced by a new one, as a determined attacker would.
 */
async function streamFlood(open: (c: MisbehavingClient) => ClientHttp2Stream, perConnection: number) {
  const start = Date.now();
  let attempted = 0;
  let pending = 0;
  let reconnects = 0;
  const clients: MisbehavingClient[] = [];
  const over = () => attempted >= order.total || Date.now() - start >= order.maxDurationMs;
  const progress = setInterval(
    () =>
      console.error(
        `[abuse] ${order.kind}: ${attempted} attempted, ${pending} in progress, ${reconnects} reconnects, ${JSON.stringify(outcomes)}`,
      ),
    5_000,
  );
  await new Promise<void>((done) => {
    let slotsLive = order.connections;
    const slotDone = () => {
      if (--slotsLive === 0) done();
    };
    const runSlot = async (): Promise<void> => {
      while (!over()) {
        let c: MisbehavingClient;
        try {
          c = await MisbehavingClient.connect(order.target, ATTACKER_ADDRESS);
        } catch {
          count('connect failed');
          await sleep(10);
          continue;
        }
        clients.push(c);
        c.session.on('error', () => {});
        const settings = await remoteSettings(c);
        const inFlight = Math.min(perConnection, settings.maxConcurrentStreams ?? perConnection);
        let inSlot = 0;
        /** Watches answered and still open: they count against the server's stream limit too. */
        let held = 0;
        await new Promise<void>((slotClosed) => {
          const gone = () => c.session.closed || c.session.destroyed;
          c.session.once('close', () => {
            if (inSlot === 0) slotClosed();
          });
          const openOne = (): void => {
            if (over() || gone()) {
              if (inSlot === 0) slotClosed();
              return;
            }
            // A later SETTINGS may lower the limit (probation): honour it as node:http2 would, but
            // without queueing streams here that the server never sees.
            if (inSlot + held >= (c.session.remoteSettings.maxConcurrentStreams ?? inFlight)) return;
            attempted++;
            pending++;
            inSlot++;
            let stream: ClientHttp2Stream;
            try {
              stream = open(c);
            } catch {
              pending--;
              inSlot--;
              count('client could not open');
              if (inSlot === 0) slotClosed();
              return;
            }
            let settled = false;
            const settle = (key: string) => {
              if (settled) return;
              settled = true;
              pending--;
              inSlot--;
              count(key);
              setImmediate(openOne);
            };
            stream.on('response', (h) => {
              const status = h['grpc-status'];
              if (typeof status === 'string') {
                settle(`status ${status}`);
                stream.close();
              } else if (order.kind === 'watch') {
                // A Watch answer: the attacker holds it and opens the next.
                held++;
                stream.once('close', () => held--);
                settle('held open');
              }
            });
            stream.on('trailers', (h) => settle(`status ${String(h['grpc-status'])}`));
            stream.on('close', () => settle(`reset ${stream.rstCode}`));
            stream.on('error', () => {});
            stream.on('data', () => {});
          };
          for (let i = 0; i < inFlight; i++) openOne();
        });
        if (!over()) reconnects++;
      }
      slotDone();
    };
    for (let i = 0; i < order.connections; i++) void runSlot();
    // The flood ends on time: streams still open then (watches held, header-only calls the server
    // has not timed out yet) are counted, not waited for.
    setTimeout(() => {
      outcomes['still open at the end'] = pending;
      done();
    }, order.maxDurationMs).unref();
  });
  clearInterval(progress);
  outcomes.reconnects = reconnects;
  parent.postMessage({ type: 'flooded', attempted, outcomes, durationMs: Date.now() - start });
  await new Promise((r) => parent.once('message', r));
  for (const c of clients) c.destroy();
  return { attempted, durationMs: Date.now() - start };
}

async function idleConnections() {
  const start = Date.now();
  const sockets: Socket[] = [];
  for (let i = 0; i < order.total && Date.now() - start < order.maxDurationMs; i++) {
    const s = connectTcp({
      host: order.target.split(':')[0],
      port: Number(order.target.split(':')[1]),
      localAddress: ATTACKER_ADDRESS,
    });
    s.on('error', () => {});
    s.on('close', () => count('closed by server'));
    sockets.push(s);
    if (i % 200 === 199) await sleep(5);
  }
  await sleep(1_000);
  parent.postMessage({
    type: 'flooded',
    attempted: sockets.length,
    outcomes,
    durationMs: Date.now() - start,
  });
  await new Promise((r) => parent.once('message', r));
  outcomes['still open'] = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  for (const s of sockets) s.destroy();
  return { attempted: sockets.length, durationMs: Date.now() - start };
}

async function abandonedSnapshots() {
  const start = Date.now();
  const c = await MisbehavingClient.connect(order.target, ATTACKER_ADDRESS);
  // GetSnapshotRequest{include_accounts: true}: seven bytes on the wire with the gRPC prefix.
  const frame = grpcFrame(Buffer.from('0801', 'hex'));
  for (let i = 0; i < order.total; i++) {
    const stream = c.open('/ledger.v1.Ledger/GetSnapshot');
    stream.on('error', () => {});
    stream.on('response', (h) =>
      count(typeof h['grpc-status'] === 'string' ? `status ${h['grpc-status']}` : 'answer started'),
    );
    stream.on('data', () => {});
    stream.end(frame);
  }
  await sleep(500);
  c.destroy();
  parent.postMessage({
    type: 'flooded',
    attempted: order.total,
    outcomes,
    durationMs: Date.now() - start,
  });
  await new Promise((r) => parent.once('message', r));
  return { attempted: order.total, durationMs: Date.now() - start };
}

const WATCH_REQUEST = grpcFrame(new Uint8Array(0));
const run = async () => {
  switch (order.kind) {
    case 'header-only':
      return streamFlood((c) => c.open('/ledger.v1.Ledger/GetBalance'), 1_000);
    case 'watch':
      return streamFlood((c) => {
        const s = c.open('/grpc.health.v1.Health/Watch');
        s.end(WATCH_REQUEST);
        return s;
      }, 1_000);
    case 'idle':
      return idleConnections();
    case 'snapshot':
      return abandonedSnapshots();
  }
};
const result = await run();
parent.postMessage({ type: 'done', ...result, outcomes } satisfies AbuseReport & { type: string });
// Over IPC the channel would keep the process alive.
if (parentPort === null) process.disconnect();
