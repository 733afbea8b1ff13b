import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { InvariantViolation } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import type { Ledger } from '../engine/ledger.js';
import type { StorageFailure } from '../engine/storage.js';
import {
  LEDGER_PROTO_FILE,
  LEDGER_SERVICE_NAME,
  ledgerServiceDefinition,
  protoRoot,
} from '../wire/ledger-proto.js';
import { strictServices } from '../wire/strict-service.js';
import { AccessControl, readAccessTable } from './access-control.js';
import { withBatchCodec } from './batch-handler.js';
import { callGate } from './call-gate.js';
import { ConnectionPolice, type ConnectionPolicy } from './connection-police.js';
import { buildFileDescriptorProtos } from './file-descriptors.js';
import { GuessingGuard, type GuessingPolicy, type GuessingStats } from './guessing-guard.js';
import { InFlightLimiter } from './in-flight-limiter.js';
import { ledgerHandlers, withUnaryCodecs } from './ledger-handlers.js';
import type { Logger } from './logger.js';
import { requestSizeLimit, SERVER_MAX_RECEIVE_BYTES } from './request-size.js';
import { DEFAULT_SNAPSHOT_READ_LIMITS, SnapshotReads } from './snapshot-reads.js';
import { StreamTracker } from './stream-tracker.js';
import { ReloadableServerCredentials, type TlsFiles } from './tls-credentials.js';
import {
  applyListenerLimits,
  DEFAULT_TRANSPORT_LIMITS,
  grpcTransportOptions,
  type TransportLimits,
} from './transport-limits.js';
import type { CallObserver } from './unary-handler.js';

export interface LedgerServerOptions {
  /** Interface to bind, e.g. 127.0.0.1. */
  host: string;
  /** 0 picks an ephemeral port (see RunningServer.port). */
  port: number;
  /**
   * An opened engine; once the server is listening it owns the engine and closes it on shutdown.
   * (If starting fails, e.g. with a ListenError, the engine stays the caller's to close.)
   */
  engine: Ledger;
  logger: Logger;
  /** Calls served at once, streaming ones included; more get RESOURCE_EXHAUSTED (default LIMITS.maxInFlightCalls). */
  maxInFlightCalls?: number;
  /** Streaming calls (health Watch, reflection) open at once, within maxInFlightCalls (default LIMITS.defaultMaxOpenStreams). */
  maxOpenStreams?: number;
  /** GetSnapshot calls with include_accounts served at once (default LIMITS.defaultMaxSnapshotReads). */
  maxSnapshotReads?: number;
  /** Connection-level bounds (defaults: DEFAULT_TRANSPORT_LIMITS). */
  transport?: Partial<TransportLimits>;
  /** Calls waiting for their request message at once; the oldest is ended beyond it (default LIMITS.defaultMaxPendingCalls). */
  maxPendingCalls?: number;
  /** How long a call may wait for its request message after its headers (default LIMITS.requestMessageTimeoutMs). */
  requestMessageTimeoutMs?: number;
  /** How long shutdown waits for in-flight calls before cancelling them (default LIMITS.defaultShutdownGraceMs). */
  shutdownGraceMs?: number;
  /**
   * Called once an InvariantViolation has been logged at fatal and answered INTERNAL. The default
   * flushes the log and crashes the process (an uncaught throw): the ledger can no longer vouch
   * for its state. Tests inject an observer.
   */
  onInvariantViolation?: (err: InvariantViolation) => void;
  /** Serve TLS with these files (mTLS when a client CA is given); plaintext when absent. */
  tls?: TlsFiles | undefined;
  /** The `--auth-tokens` file: every ledger call must then authenticate (see access-control.ts). */
  authTokensFile?: string | undefined;
  /** Sees every answered ledger call (metrics). */
  observer?: CallObserver | undefined;
  /** Per-connection policing (defaults: LIMITS.defaultMaxRefusalsPerConnectionPerSecond and neighbours). */
  connectionPolicy?: Partial<ConnectionPolicy> | undefined;
  /** Policing of failed authentications (defaults: LIMITS.maxAuthFailuresPerConnectionPerSecond and maxAuthFailuresPerSecond). */
  guessingPolicy?: Partial<GuessingPolicy> | undefined;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** host:port, ready for a client. */
  readonly target: string;
  readonly engine: Ledger;
  /** Calls being served right now (streaming calls and calls still waiting for their request included). */
  readonly inFlightCalls: number;
  /** Whether the listener speaks TLS. */
  readonly tls: boolean;
  /**
   * Reads the TLS files and the access file again (SIGHUP). A file that cannot be used is logged
   * and the previous one stays in force; the listener and open connections are untouched.
   */
  reloadCredentials(): void;
  /** Streaming calls open now. */
  readonly openStreams: number;
  /** Calls whose headers came but whose request message has not, now. */
  readonly pendingCalls: number;
  /**
   * Client connections open now, refused so far at the connection limit, closed for too many
   * refused calls (`expelled`) and for never starting HTTP/2 (`silent`).
   */
  readonly connections: {
    readonly open: number;
    readonly refused: number;
    /** Accepted, waiting for their HTTP/2 session now; closed on arrival because that queue was full. */
    readonly queued: number;
    readonly shed: number;
    readonly expelled: number;
    readonly silent: number;
    /** Connections accepted on probation (from an address one of whose connections was expelled lately). */
    readonly probation: number;
  };
  /** Failed authentications and what they cost their connections (zeros without access control). */
  readonly authFailures: GuessingStats;
  /** Health NOT_SERVING, drain in-flight calls (forced after the grace period), close the engine. */
  shutdown(): Promise<void>;
  /**
   * Resolves if storage fails while serving (damage found, a commit failed): by then health is
   * NOT_SERVING, writes are refused and it is logged at fatal. The owner decides when to stop.
   */
  readonly storageFailed: Promise<StorageFailure>;
}

/** The address could not be bound (port in use, bad host): a user's problem, not a crash. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  constructor(
    readonly host: string,
    readonly port: number,
    /** Why, in a few words (e.g. "address already in use"). */
    readonly reason: string,
  ) {
    super(`cannot listen on ${formatTarget(host, port)}: ${reason}`);
  }
}

/** grpc-js reports bind failures as one long sentence; users need the errno's meaning. */
function listenFailureReason(message: string): string {
  if (message.includes('EADDRINUSE')) return 'address already in use';
  if (message.includes('EACCES')) return 'permission denied (ports below 1024 need privileges)';
  if (message.includes('EADDRNOTAVAIL')) return 'address not available on this machine';
  if (message.includes('Name resolution failed')) return 'cannot resolve the host name';
  return message;
}

/**
 * grpc-js prints its own errors on stderr (a bind failure says "E No address added..." before our
 * one-line error). Its logger is process-wide: route it into the structured log at debug level,
 * since every failure that matters to a user also surfaces as an error we report.
 */
function routeGrpcLogs(logger: Logger): void {
  const forward = (...args: unknown[]) => logger.debug({ source: 'grpc-js' }, args.map(String).join(' '));
  grpc.setLogger({ error: forward, info: forward, debug: forward });
}

export const HEALTH_SERVICE_NAMES = ['', LEDGER_SERVICE_NAME] as const;

const HEALTH_PROTO_FILE = 'health/v1/health.proto';
/** The name grpc publishes health.proto under; grpc-health-check ships it one folder higher. */
const HEALTH_PROTO_CANONICAL = 'grpc/health/v1/health.proto';

function formatTarget(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Descriptors with real file names and dependency lists; see file-descriptors.ts for why. */
function reflectionDefinition(): PackageDefinition {
  const healthRoot = healthProtoPath.slice(0, -HEALTH_PROTO_FILE.length);
  const files = buildFileDescriptorProtos(
    [LEDGER_PROTO_FILE, join(healthRoot, HEALTH_PROTO_FILE)],
    [protoRoot(), healthRoot],
    {
      [HEALTH_PROTO_FILE]: HEALTH_PROTO_CANONICAL,
    },
  );
  // ReflectionService only reads `fileDescriptorProtos` of each entry.
  return { descriptors: { fileDescriptorProtos: files } } as unknown as PackageDefinition;
}

export function crashOnInvariantViolation(logger: Logger): (err: InvariantViolation) => void {
  return (err) => {
    logger.flush(() => {
      // Deliberately uncaught: the process dies with the stack on stderr and a non-zero exit.
      setImmediate(() => {
        throw err;
      });
    });
  };
}

export async function startLedgerServer(options: LedgerServerOptions): Promise<RunningServer> {
  const { host, engine, logger } = options;
  const graceMs = options.shutdownGraceMs ?? LIMITS.defaultShutdownGraceMs;
  routeGrpcLogs(logger);
  const limiter = new InFlightLimiter(options.maxInFlightCalls ?? LIMITS.maxInFlightCalls);
  // Both read (and checked) before binding: unusable files are the operator's to fix, at start.
  const credentials = options.tls === undefined ? undefined : new ReloadableServerCredentials(options.tls);
  const authFile = options.authTokensFile;
  const access =
    authFile !== undefined
      ? new AccessControl(readAccessTable(authFile))
      : credentials?.mutual === true
        ? new AccessControl(undefined)
        : undefined;
  const openStreams = new InFlightLimiter(options.maxOpenStreams ?? LIMITS.defaultMaxOpenStreams);
  const transport = { ...DEFAULT_TRANSPORT_LIMITS, ...options.transport };

  const police = new ConnectionPolice(
    {
      maxRefusalsPerSecond: LIMITS.defaultMaxRefusalsPerConnectionPerSecond,
      maxWatchesPerConnection: LIMITS.defaultMaxWatchesPerConnection,
      prefaceTimeoutMs: LIMITS.defaultPrefaceTimeoutMs,
      probationMs: LIMITS.defaultProbationMs,
      probationStreams: LIMITS.defaultProbationStreams,
      ...options.connectionPolicy,
    },
    logger,
  );
  const guessing =
    access === undefined
      ? undefined
      : new GuessingGuard(
          {
            maxFailuresPerConnectionPerSecond: LIMITS.maxAuthFailuresPerConnectionPerSecond,
            maxFailuresPerSecond: LIMITS.maxAuthFailuresPerSecond,
            ...options.guessingPolicy,
          },
          logger,
          (address) => police.expel(address),
          (address, compute) => police.peerOnce(address, compute),
        );
  const gate = callGate({
    logger,
    calls: limiter,
    streams: openStreams,
    maxPendingCalls: options.maxPendingCalls ?? LIMITS.defaultMaxPendingCalls,
    requestMessageTimeoutMs: options.requestMessageTimeoutMs ?? LIMITS.requestMessageTimeoutMs,
    observer: options.observer,
    police,
    guard: guessing,
  });
  const server = new grpc.Server({
    'grpc.max_receive_message_length': SERVER_MAX_RECEIVE_BYTES,
    // Nothing here reads channelz: its per-call bookkeeping (counters, a Date per call) is waste.
    'grpc.enable_channelz': 0,
    ...grpcTransportOptions(transport),
    interceptors: [gate.interceptor],
  });
  // Every service decodes strictly: malformed requests never reach a handler.
  const strict = strictServices(server, requestSizeLimit);
  strict.addService(
    withUnaryCodecs(withBatchCodec(ledgerServiceDefinition())),
    ledgerHandlers(
      engine,
      {
        logger,
        onInvariantViolation: options.onInvariantViolation ?? crashOnInvariantViolation(logger),
        access,
        observer: options.observer,
      },
      new SnapshotReads({
        ...DEFAULT_SNAPSHOT_READ_LIMITS,
        maxCalls: options.maxSnapshotReads ?? DEFAULT_SNAPSHOT_READ_LIMITS.maxCalls,
      }),
    ),
  );
  const health = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, 'NOT_SERVING' as const])),
  );
  const streams = new StreamTracker();
  health.addToServer(streams.tracking(strict));
  new ReflectionService(reflectionDefinition()).addToServer(streams.tracking(strict));

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      formatTarget(host, options.port),
      credentials ?? grpc.ServerCredentials.createInsecure(),
      (err, bound) => {
        if (err === null) return resolve(bound);
        server.forceShutdown();
        reject(new ListenError(host, options.port, listenFailureReason(err.message)));
      },
    );
  });
  const listenerStats = applyListenerLimits(server, transport, logger, police);
  const connections = {
    get open() {
      return listenerStats.open;
    },
    get refused() {
      return listenerStats.refused;
    },
    get queued() {
      return listenerStats.queued;
    },
    get shed() {
      return listenerStats.shed;
    },
    get expelled() {
      return police.stats.expelled;
    },
    get silent() {
      return police.stats.silent;
    },
    get probation() {
      return police.stats.probation;
    },
  };
  let draining = false;
  let serving = true;
  const setServing = (now: boolean, reason?: string): void => {
    if (now !== serving)
      logger.warn({ serving: now, reason }, now ? 'ledger storage is back' : 'ledger storage lost');
    serving = now;
    if (draining) return;
    for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, now ? 'SERVING' : 'NOT_SERVING');
  };
  setServing(true);
  // A ledger whose state lives in a database says when it loses and regains the connection.
  engine.watchServing?.(setServing);
  const storageFailed = new Promise<StorageFailure>((resolve) =>
    engine.onStorageFailure?.((failure) => {
      for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'NOT_SERVING');
      logger.fatal({ reason: failure.reason }, 'storage failed; writes are refused');
      resolve(failure);
    }),
  );
  const target = formatTarget(host, port);
  logger.info(
    {
      target,
      storage: engine.storageKind,
      locking: engine.lockingMode,
      tls: credentials === undefined ? 'off' : credentials.mutual ? 'mutual' : 'on',
      auth: authFile !== undefined ? 'tokens' : access !== undefined ? 'client-certificates' : 'off',
    },
    'ledger listening',
  );

  const reloadCredentials = (): void => {
    if (credentials !== undefined) {
      try {
        credentials.reload();
        logger.info({ files: options.tls }, 'TLS certificate reloaded');
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'TLS reload failed; the previous certificate stays');
      }
    }
    if (authFile !== undefined && access !== undefined) {
      try {
        access.replaceTable(readAccessTable(authFile));
        logger.info({ file: authFile }, 'access file reloaded');
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'access file reload failed; the previous one stays');
      }
    }
    if (credentials === undefined && authFile === undefined)
      logger.info('nothing to reload (no TLS, no access file)');
  };

  const drain = async (): Promise<void> => {
    // Watchers hear NOT_SERVING first; then no new calls; then the endless streams end, so
    // tryShutdown completes as soon as the unary calls in flight have answered.
    draining = true;
    for (const name of HEALTH_SERVICE_NAMES) health.setStatus(name, 'NOT_SERVING');
    logger.info({ inFlight: limiter.inFlight, streams: streams.size, graceMs }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const closed = new Promise<'closed'>((resolve) => server.tryShutdown(() => resolve('closed')));
    streams.endAll();
    const graceOver = new Promise<'grace'>((resolve) => {
      timer = setTimeout(() => resolve('grace'), graceMs);
    });
    const outcome = await Promise.race([closed, graceOver]);
    clearTimeout(timer);
    if (outcome === 'grace') {
      logger.warn({ inFlight: limiter.inFlight, graceMs }, 'grace period over; cancelling the calls left');
      server.forceShutdown();
    }
    gate.close();
    await engine.close();
    logger.info('ledger stopped');
  };
  let stopping: Promise<void> | undefined;

  return {
    host,
    port,
    target,
    engine,
    tls: credentials !== undefined,
    reloadCredentials,
    get inFlightCalls() {
      return limiter.inFlight;
    },
    get openStreams() {
      return openStreams.inFlight;
    },
    get pendingCalls() {
      return gate.pending;
    },
    connections,
    authFailures: guessing?.stats ?? { failures: 0, expelled: 0, unchecked: 0 },
    shutdown: () => {
      stopping ??= drain();
      return stopping;
    },
    storageFailed,
  };
}
