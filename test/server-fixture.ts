import { Writable } from 'node:stream';
import pino from 'pino';
import type { ClientSecurity } from '../src/client/client-security.js';
import { LedgerClient } from '../src/client/ledger-client.js';
import type { InvariantViolation } from '../src/domain/errors.js';
import { type EngineOptions, LedgerEngine } from '../src/engine/ledger-engine.js';
import { DelayedCommitStorage } from '../src/engine/storage.js';
import {
  type LedgerServerOptions,
  type RunningServer,
  startLedgerServer,
} from '../src/server/ledger-server.js';
import type { TlsFiles } from '../src/server/tls-credentials.js';
import type { CallObserver } from '../src/server/unary-handler.js';

/** One parsed pino line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string; time: string };

export interface TestServer {
  server: RunningServer;
  client: LedgerClient;
  logs: LogLine[];
  violations: InvariantViolation[];
  stop(): Promise<void>;
}

export interface TestServerOptions {
  engine?: EngineOptions;
  /** Commit with random 0..maxMs delays so concurrent calls interleave at the commit await. */
  delayedCommitMaxMs?: number;
  maxInFlightCalls?: number;
  shutdownGraceMs?: number;
  logLevel?: 'debug' | 'info';
  tls?: TlsFiles;
  authTokensFile?: string;
  /** How the fixture's own client connects (default: plaintext, no token). */
  clientSecurity?: ClientSecurity;
  observer?: CallObserver;
  /** Any other server option (limits, timeouts). */
  server?: Partial<Omit<LedgerServerOptions, 'host' | 'port' | 'engine' | 'logger'>>;
}

export const PINO_ERROR = 50;
export const PINO_FATAL = 60;

/** A real server on 127.0.0.1 with an ephemeral port, its log captured line by line. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: options.logLevel ?? 'info', timestamp: pino.stdTimeFunctions.isoTime }, sink);
  const storage =
    options.delayedCommitMaxMs === undefined
      ? undefined
      : new DelayedCommitStorage({ minMs: 0, maxMs: options.delayedCommitMaxMs });
  const engine = await LedgerEngine.open({ ...(storage ? { storage } : {}), ...options.engine });
  const violations: InvariantViolation[] = [];
  const server = await startLedgerServer({
    host: '127.0.0.1',
    port: 0,
    engine,
    logger,
    onInvariantViolation: (err) => violations.push(err),
    ...(options.maxInFlightCalls === undefined ? {} : { maxInFlightCalls: options.maxInFlightCalls }),
    ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
    tls: options.tls,
    authTokensFile: options.authTokensFile,
    observer: options.observer,
    ...options.server,
  });
  const client = new LedgerClient(server.target, { deadlineMs: 30_000, security: options.clientSecurity });
  return {
    server,
    client,
    logs,
    violations,
    stop: async () => {
      client.close();
      await server.shutdown();
    },
  };
}

/** Runs `task` for every item with at most `width` in flight (a bounded load loop). */
export async function inParallel<T, R>(
  items: readonly T[],
  width: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}
