import { readdirSync, statSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { LIMITS } from '../../domain/limits.js';
import type { LockingMode } from '../../engine/account-locks.js';
import type { CommitObserver } from '../../engine/commit-sequencer.js';
import { DataDirError } from '../../engine/durable-errors.js';
import type { Ledger } from '../../engine/ledger.js';
import { LedgerEngine } from '../../engine/ledger-engine.js';
import { STARTUP_CHECKS, type StartupCheck } from '../../engine/lmdb-storage.js';
import { openStorage } from '../../engine/open-storage.js';
import { DatabaseError } from '../../engine/postgres/database-error.js';
import { describeUrl } from '../../engine/postgres/pg-connect.js';
import {
  DEFAULT_PG_COMMIT,
  DEFAULT_PG_DECIDE,
  PG_COMMIT_MODES,
  PG_DECIDE_MODES,
  type PgCommitMode,
  type PgDecideMode,
  PgLedger,
} from '../../engine/postgres/pg-ledger.js';
import {
  PG_CLIENT_THREADS,
  type PgClientThread,
  PgWorkerLedger,
} from '../../engine/postgres/pg-worker-ledger.js';
import type { LedgerStorage } from '../../engine/storage.js';
import { AccessFileError, readAccessTable } from '../../server/access-control.js';
import { LedgerMetrics } from '../../server/ledger-metrics.js';
import { ListenError, type RunningServer, startLedgerServer } from '../../server/ledger-server.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../../server/logger.js';
import { MetricsListenError, type MetricsServer, startMetricsServer } from '../../server/metrics-server.js';
import { readTlsContext, TlsConfigError, type TlsFiles } from '../../server/tls-credentials.js';
import { CliError, EXIT } from '../exit-codes.js';
import { formatDuration } from '../format-duration.js';
import { withExamples } from '../help-examples.js';
import {
  durationArg,
  intAtLeastArg,
  nonEmptyArg,
  portArg,
  positiveIntArg,
  timerDurationArg,
} from '../option-parsers.js';
import { printLine } from '../output.js';
import { DEFAULT_HOST, DEFAULT_PORT } from '../target.js';

const LOCKING_MODES: readonly LockingMode[] = ['account', 'global'];
const DEFAULT_DATA_DIR = './ledger-data';

interface ServeOptions {
  host: string;
  port: number;
  txidTtl: number;
  logLevel: LogLevel;
  locking: LockingMode;
  dataDir: string;
  inMemory: boolean;
  maxTxids: number;
  txidCache: number;
  logRetention?: number;
  logWindow: number;
  txidSweepThreshold: number;
  maxInFlight: number;
  shutdownGrace: number;
  forceUnlock: boolean;
  startupCheck: StartupCheck;
  databaseUrl?: string;
  migrate: boolean;
  dbPoolSize: number;
  dbStatementTimeout: number;
  dbConnectTimeout: number;
  dbCommit: PgCommitMode;
  dbDecide: PgDecideMode;
  dbThread: PgClientThread;
  dbGroupsInFlight: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  authTokens?: string;
  insecure: boolean;
  maxStreams: number;
  maxStreamsPerConnection: number;
  maxConnections: number;
  sessionsPerTurn: number;
  maxQueuedConnections: number;
  maxHeaderBytes: number;
  idleTimeout: number;
  keepaliveTime: number;
  keepaliveTimeout: number;
  maxConnectionAge: number;
  maxConnectionAgeGrace: number;
  requestTimeout: number;
  maxPending: number;
  maxSnapshotReads: number;
  maxRefusalsPerConnection: number;
  maxWatchesPerConnection: number;
  prefaceTimeout: number;
  probation: number;
  probationStreams: number;
  metricsAddr?: ListenAddress;
}

/** A flag whose value is a timer-held duration (refused past ~24.8 days), with its default shown as a duration. */
function timerOption(flags: string, description: string, defaultMs: number): Option {
  return serveOption(flags, description)
    .default(defaultMs, formatDuration(defaultMs))
    .argParser(timerDurationArg);
}

function countOption(flags: string, description: string, defaultValue: number): Option {
  return serveOption(flags, description).default(defaultValue).argParser(positiveIntArg);
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the ledger.v1 gRPC server until SIGINT/SIGTERM')
    .addOption(serveOption('--host <host>', 'interface to bind').default(DEFAULT_HOST).argParser(nonEmptyArg))
    .addOption(
      serveOption('--port <port>', 'port to bind; 0 picks a free one (the printed line has it)')
        .default(DEFAULT_PORT)
        .argParser(portArg),
    )
    .addOption(
      serveOption('--txid-ttl <duration>', 'how long a transaction id is remembered for replays')
        .default(LIMITS.defaultTxidTtlMs, formatDuration(LIMITS.defaultTxidTtlMs))
        .argParser(durationArg),
    )
    .addOption(
      serveOption('--log-level <level>', 'server log level (JSON lines on stderr)')
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .addOption(
      serveOption('--locking <mode>', 'account: per-account locks; global: one lock for every write')
        .choices(LOCKING_MODES)
        .default('account'),
    )
    .addOption(
      serveOption('--data-dir <dir>', 'where the durable ledger lives (created if missing)')
        .default(DEFAULT_DATA_DIR)
        .argParser(nonEmptyArg),
    )
    .addOption(
      serveOption('--in-memory', 'keep everything in memory: nothing survives the process')
        .default(false)
        .conflicts('dataDir'),
    )
    .addOption(
      serveOption(
        '--log-retention <duration>',
        'remove audit-log entries older than this from disk (default: keep every entry)',
      )
        .argParser(durationArg)
        .conflicts('inMemory'),
    )
    .addOption(
      serveOption(
        '--max-txids <n>',
        'most transaction ids held in memory; beyond it new ids are refused (durable mode keeps them on disk)',
      )
        .default(LIMITS.defaultMaxTxids)
        .argParser(positiveIntArg),
    )
    .addOption(
      serveOption('--txid-cache <n>', 'durable mode: idempotency records kept in memory in front of the disk')
        .default(LIMITS.defaultTxidCacheRecords)
        .argParser(positiveIntArg),
    )
    .addOption(
      serveOption('--txid-sweep-threshold <n>', 'above this many held ids, expired ones are swept')
        .default(LIMITS.defaultTxidSweepThreshold)
        .argParser(positiveIntArg),
    )
    .addOption(
      serveOption(
        '--log-window <n>',
        'newest audit-log entries kept in memory (durable mode: older ones are read from disk)',
      )
        .default(LIMITS.defaultLogWindowEntries)
        .argParser(positiveIntArg),
    )
    .addOption(
      serveOption('--max-in-flight <n>', 'calls served at once; more get RESOURCE_EXHAUSTED')
        .default(LIMITS.maxInFlightCalls)
        .argParser(positiveIntArg),
    )
    .addOption(
      serveOption(
        '--startup-check <level>',
        'durable: records (a child reads every record first), pages (page headers only: fast), auto (records up to 256 MiB)',
      )
        .choices(STARTUP_CHECKS)
        .default('auto')
        .conflicts('inMemory'),
    )
    .addOption(
      serveOption(
        '--force-unlock',
        "take over the data dir's LOCK left by a server on another host (check that it is gone first)",
      )
        .default(false)
        .conflicts('inMemory'),
    )
    .addOption(
      timerOption(
        '--shutdown-grace <duration>',
        'how long a signal waits for in-flight calls',
        LIMITS.defaultShutdownGraceMs,
      ),
    )
    // Bounds against a hostile or broken client (docs/security.md has the reasons for each default).
    .addOption(
      countOption(
        '--max-streams <n>',
        'streaming calls (health Watch, reflection) open at once, within --max-in-flight',
        LIMITS.defaultMaxOpenStreams,
      ),
    )
    .addOption(
      countOption(
        '--max-streams-per-connection <n>',
        'HTTP/2 streams one connection may have open at once',
        LIMITS.defaultMaxStreamsPerConnection,
      ),
    )
    .addOption(
      countOption(
        '--max-connections <n>',
        'client connections held at once per listening address',
        LIMITS.defaultMaxConnections,
      ),
    )
    .addOption(
      countOption(
        '--sessions-per-turn <n>',
        'HTTP/2 sessions (TLS: handshakes) set up per event-loop turn for connections that have spoken; the rest wait for the next turn',
        LIMITS.defaultSessionsPerTurn,
      ),
    )
    .addOption(
      countOption(
        '--max-queued-connections <n>',
        'connections that have spoken and wait for their session, at once; more are closed as they arrive',
        LIMITS.defaultMaxQueuedConnections,
      ),
    )
    .addOption(
      countOption(
        '--max-header-bytes <n>',
        'largest request metadata (header list), in bytes',
        LIMITS.defaultMaxHeaderListBytes,
      ),
    )
    .addOption(
      timerOption(
        '--idle-timeout <duration>',
        'close a connection with no call open for this long',
        LIMITS.defaultConnectionIdleMs,
      ),
    )
    .addOption(
      timerOption(
        '--keepalive-time <duration>',
        'ping a connection after this long',
        LIMITS.defaultKeepaliveTimeMs,
      ),
    )
    .addOption(
      timerOption(
        '--keepalive-timeout <duration>',
        'close a connection whose ping is not answered in this long',
        LIMITS.defaultKeepaliveTimeoutMs,
      ),
    )
    .addOption(
      timerOption(
        '--max-connection-age <duration>',
        'ask a connection to go away after this long (+-10%)',
        LIMITS.defaultMaxConnectionAgeMs,
      ),
    )
    .addOption(
      timerOption(
        '--max-connection-age-grace <duration>',
        'then close it after this long more',
        LIMITS.defaultMaxConnectionAgeGraceMs,
      ),
    )
    .addOption(
      timerOption(
        '--request-timeout <duration>',
        'end a call whose request has not arrived this long after its headers',
        LIMITS.requestMessageTimeoutMs,
      ),
    )
    .addOption(
      countOption(
        '--max-pending <n>',
        'calls waiting for their request message at once; beyond it the one waiting longest is ended',
        LIMITS.defaultMaxPendingCalls,
      ),
    )
    .addOption(
      countOption(
        '--max-refusals-per-connection <n>',
        'calls of one connection refused in a second for holding what others need (no request after its headers, watches or snapshot reads past their bounds) before it is sent GOAWAY and closed',
        LIMITS.defaultMaxRefusalsPerConnectionPerSecond,
      ),
    )
    .addOption(
      countOption(
        '--max-watches-per-connection <n>',
        'streaming calls (health Watch, reflection) one connection may hold open',
        LIMITS.defaultMaxWatchesPerConnection,
      ),
    )
    .addOption(
      timerOption(
        '--preface-timeout <duration>',
        'close a connection that has not started HTTP/2 this long after it opened',
        LIMITS.defaultPrefaceTimeoutMs,
      ),
    )
    .addOption(
      timerOption(
        '--probation <duration>',
        "after a connection is sent GOAWAY for its refusals, how long its address's new connections get only --probation-streams",
        LIMITS.defaultProbationMs,
      ),
    )
    .addOption(
      countOption(
        '--probation-streams <n>',
        'HTTP/2 streams a connection on probation may have open at once; nghttp2 refuses more',
        LIMITS.defaultProbationStreams,
      ),
    )
    .addOption(
      countOption(
        '--max-snapshot-reads <n>',
        'GetSnapshot calls with accounts (above one slice) served at once',
        LIMITS.defaultMaxSnapshotReads,
      ),
    )
    .addOption(
      serveOption(
        '--database-url <url>',
        'keep the ledger in PostgreSQL (postgres://user:password@host:5432/db); several servers may share it',
      )
        .argParser(nonEmptyArg)
        .conflicts(['inMemory', 'dataDir', 'logRetention']),
    )
    .addOption(
      serveOption('--migrate', 'with --database-url: apply pending schema migrations first').default(false),
    )
    .addOption(
      serveOption(
        '--db-pool-size <n>',
        `with --database-url: connections this server opens at most (at least ${LIMITS.minPgPoolSize})`,
      )
        .default(LIMITS.defaultPgPoolSize)
        .argParser(intAtLeastArg(LIMITS.minPgPoolSize)),
    )
    .addOption(
      serveOption(
        '--db-statement-timeout <duration>',
        'with --database-url: longest one SQL statement may run',
      )
        .default(LIMITS.defaultPgStatementTimeoutMs, formatDuration(LIMITS.defaultPgStatementTimeoutMs))
        .argParser(timerDurationArg),
    )
    .addOption(
      serveOption(
        '--db-connect-timeout <duration>',
        'with --database-url: longest opening one connection may take',
      )
        .default(LIMITS.defaultPgConnectTimeoutMs, formatDuration(LIMITS.defaultPgConnectTimeoutMs))
        .argParser(timerDurationArg),
    )
    .addOption(
      serveOption(
        '--db-commit <mode>',
        'with --database-url: auto (each group waits for its own flush while flushes are short, else as overlap), overlap (groups commit asynchronously, answers wait for a shared flush) or per-group (each group waits for its own flush)',
      )
        .choices(PG_COMMIT_MODES)
        .default(DEFAULT_PG_COMMIT),
    )
    .addOption(
      serveOption(
        '--db-decide <mode>',
        'with --database-url: cached (groups decided on account states this server saw committed, one round trip, checked by the database under the locks) or locked (lock, decide, commit: two round trips)',
      )
        .choices(PG_DECIDE_MODES)
        .default(DEFAULT_PG_DECIDE),
    )
    .addOption(
      serveOption(
        '--db-groups-in-flight <n>',
        'with --database-url: group transactions this server runs at once, each on its own connection (at most pool size - 2)',
      )
        .default(LIMITS.pgGroupsInFlight)
        .argParser(positiveIntArg),
    )
    .addOption(
      serveOption(
        '--db-thread <thread>',
        'with --database-url: where the database client runs: worker (its own thread, beside gRPC) or main',
      )
        .choices(PG_CLIENT_THREADS)
        .default('main'),
    )
    .addOption(
      serveOption('--tls-cert <file>', 'serve TLS with this certificate chain (PEM); reread on SIGHUP'),
    )
    .addOption(serveOption('--tls-key <file>', 'private key of --tls-cert (PEM); reread on SIGHUP'))
    .addOption(
      serveOption(
        '--tls-client-ca <file>',
        'require client certificates signed by this CA (mTLS); the subject CN is the principal',
      ),
    )
    .addOption(
      serveOption(
        '--auth-tokens <file>',
        'require a bearer token or listed client certificate on every ledger call (see docs/security.md); reread on SIGHUP',
      ),
    )
    .addOption(
      serveOption(
        '--insecure',
        'allow plaintext on an address other than loopback (anyone on the path can read and forge calls)',
      ).default(false),
    )
    .addOption(
      serveOption(
        '--metrics-addr <host:port>',
        'serve Prometheus metrics over HTTP at http://host:port/metrics (no authentication: bind it privately)',
      ).argParser(listenAddressArg),
    )
    .addHelpText(
      'after',
      `
Every flag can also be set in the environment: LEDGER_ and the flag name in capitals, e.g.
LEDGER_PORT=50052, LEDGER_DATA_DIR=/srv/ledger, LEDGER_IN_MEMORY=1. A flag on the command line wins.`,
    );
  withExamples(command, [
    'ledgerctl serve --in-memory',
    'ledgerctl serve --data-dir /srv/ledger --port 50051 --log-retention 90d',
    'LEDGER_PORT=0 LEDGER_IN_MEMORY=1 ledgerctl serve --log-level warn',
  ]).action(serve);
  settableFromEnvironment(command);
}

/** `--data-dir` -> LEDGER_DATA_DIR: every serve flag, for containers and service managers. */
export function serveEnvVar(long: string): string {
  return `LEDGER_${long.replace(/^--/, '').replaceAll('-', '_').toUpperCase()}`;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes']);
const FALSE_WORDS = new Set(['0', 'false', 'no', '']);

/** A serve flag, settable from the environment too (commander reads an option's variable only if set before it is added). */
function serveOption(flags: string, description: string): Option {
  return new Option(flags, description).env(serveEnvVar(flags.split(/[ ,]/)[0]!));
}

function settableFromEnvironment(command: Command): void {
  for (const option of command.options) {
    const envVar = option.envVar;
    if (envVar === undefined || !option.isBoolean()) continue;
    // Commander turns a boolean flag on when its variable is merely defined, so LEDGER_IN_MEMORY=0
    // would mean "in memory": read the value instead (this listener runs after commander's).
    command.on(`optionEnv:${option.name()}`, () => {
      const text = (process.env[envVar] ?? '').trim().toLowerCase();
      if (TRUE_WORDS.has(text)) return;
      if (!FALSE_WORDS.has(text)) {
        throw new CliError(
          `${envVar}=${process.env[envVar]} is not a yes/no value: use 1 or 0 (true or false)`,
        );
      }
      // Unset, not false: a flag that is off must not count as given against a conflicting one.
      command.setOptionValueWithSource(option.attributeName(), undefined, 'default');
    });
  }
}

async function serve(options: ServeOptions): Promise<void> {
  options.inMemory = options.inMemory === true;
  if (options.txidSweepThreshold > options.maxTxids) {
    // The sweep would never start before the cap refuses every new id.
    throw new CliError(
      `--max-txids ${options.maxTxids} is below --txid-sweep-threshold ${options.txidSweepThreshold}: ` +
        'expired ids would never be swept; raise --max-txids or lower the threshold',
    );
  }
  if (options.migrate && options.databaseUrl === undefined) {
    throw new CliError('--migrate applies to a database: give --database-url (or LEDGER_DATABASE_URL) too');
  }
  if (!options.inMemory && options.databaseUrl === undefined && options.txidCache >= options.maxTxids) {
    // Memory holds the cache plus the claims in flight: the cap would refuse ids that disk could keep.
    throw new CliError(
      `--txid-cache ${options.txidCache} must be below --max-txids ${options.maxTxids}: ` +
        'the ids held in memory are the cache plus the writes in flight',
    );
  }
  // Whatever the server writes (data files, a backup) is its user's alone, whatever the shell's umask.
  process.umask(0o077);
  const tls = tlsFilesOf(options);
  if (tls === undefined && !options.insecure && !isLoopback(options.host)) {
    throw new CliError(
      `refusing plaintext on ${options.host}, which is not a loopback address: give --tls-cert and --tls-key, or --insecure to serve unencrypted anyway`,
    );
  }
  // Checked before the data dir is opened: a wrong file is the operator's to fix, nothing starts.
  try {
    if (tls !== undefined) readTlsContext(tls);
    if (options.authTokens !== undefined) readAccessTable(options.authTokens);
  } catch (err) {
    if (err instanceof TlsConfigError || err instanceof AccessFileError) throw new CliError(err.message);
    throw err;
  }
  const logger = createLogger(options.logLevel);
  // lmdb-js reports a failed write with console.error (a multi-line stack) before the engine
  // handles it: keep stderr JSON lines, as grpc-js's own messages are.
  console.error = (...args: unknown[]) =>
    logger.error(
      { source: 'storage engine' },
      args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '),
    );
  const metrics = options.metricsAddr === undefined ? undefined : new LedgerMetrics();
  const server = await start(options, tls, logger, metrics);
  let metricsServer: MetricsServer | undefined;
  if (metrics !== undefined && options.metricsAddr !== undefined) {
    const { engine } = server;
    const dataDir = engine.storageKind === 'lmdb' ? resolve(options.dataDir) : undefined;
    metrics.bind({
      inFlightCalls: () => server.inFlightCalls,
      engineStats: engine instanceof LedgerEngine ? () => engine.stats() : undefined,
      connections: () => server.connections,
      authFailures: () => server.authFailures,
      openStreams: () => server.openStreams,
      storageBytes: dataDir === undefined ? undefined : () => directoryBytes(dataDir),
      pgMetrics:
        engine instanceof PgLedger || engine instanceof PgWorkerLedger ? () => engine.pgMetrics() : undefined,
    });
    try {
      metricsServer = await startMetricsServer(
        metrics,
        options.metricsAddr.host,
        options.metricsAddr.port,
        logger,
      );
    } catch (err) {
      await server.shutdown();
      if (err instanceof MetricsListenError) throw new CliError(err.message);
      throw err;
    }
  }
  const storage =
    options.databaseUrl !== undefined
      ? `postgres at ${describeUrl(options.databaseUrl)}`
      : server.engine.storageKind === 'memory'
        ? 'memory'
        : `${server.engine.storageKind} in ${resolve(options.dataDir)}`;
  // Handlers first: a supervisor may signal the moment it reads the line, and a handler
  // installed after the write is not reliably in place by then (the default action kills).
  const signalled = nextSignal();
  // SIGHUP rereads certificate, key, client CA and the access file; the listener stays up.
  process.on('SIGHUP', () => server.reloadCredentials());
  printLine(
    `ledgerctl listening on ${server.target} (storage: ${storage}, locking: ${server.engine.lockingMode}${server.tls ? ', tls: on' : ''})`,
  );
  const stop = await Promise.race([signalled, server.storageFailed]);
  if (typeof stop === 'string') logger.info({ signal: stop }, 'signal received');
  await server.shutdown();
  await metricsServer?.close();
  await new Promise<void>((done) => logger.flush(() => done()));
  // Storage failed (disk full, damage found): the drain answered every call; a restart runs
  // recovery and the start-up checks again (or refuses the damaged file).
  if (typeof stop !== 'string') throw new CliError(`${stop.message}; stopped (restart once it is fixed)`);
}

/**
 * A data dir or an address the operator has to change is one line and exit 2; anything else is
 * a bug and keeps its stack (exit 70).
 */
async function start(
  options: ServeOptions,
  tls: TlsFiles | undefined,
  logger: Logger,
  metrics: LedgerMetrics | undefined,
): Promise<RunningServer> {
  const engine =
    options.databaseUrl === undefined ? await openEngine(options, logger, metrics) : await openPg(options);
  try {
    return await startLedgerServer({
      host: options.host,
      port: options.port,
      engine,
      logger,
      maxInFlightCalls: options.maxInFlight,
      shutdownGraceMs: options.shutdownGrace,
      tls,
      authTokensFile: options.authTokens,
      maxOpenStreams: options.maxStreams,
      maxSnapshotReads: options.maxSnapshotReads,
      requestMessageTimeoutMs: options.requestTimeout,
      maxPendingCalls: options.maxPending,
      transport: {
        maxConnections: options.maxConnections,
        sessionsPerTurn: options.sessionsPerTurn,
        maxQueuedConnections: options.maxQueuedConnections,
        maxStreamsPerConnection: options.maxStreamsPerConnection,
        maxHeaderListBytes: options.maxHeaderBytes,
        connectionIdleMs: options.idleTimeout,
        keepaliveTimeMs: options.keepaliveTime,
        keepaliveTimeoutMs: options.keepaliveTimeout,
        maxConnectionAgeMs: options.maxConnectionAge,
        maxConnectionAgeGraceMs: options.maxConnectionAgeGrace,
      },
      observer: metrics,
      connectionPolicy: {
        maxRefusalsPerSecond: options.maxRefusalsPerConnection,
        maxWatchesPerConnection: options.maxWatchesPerConnection,
        prefaceTimeoutMs: options.prefaceTimeout,
        probationMs: options.probation,
        probationStreams: options.probationStreams,
      },
    });
  } catch (err) {
    await engine.close();
    if (err instanceof ListenError) throw new CliError(err.message);
    throw err;
  }
}

async function openPg(options: ServeOptions): Promise<Ledger> {
  try {
    const pg = {
      url: options.databaseUrl!,
      migrate: options.migrate,
      poolSize: options.dbPoolSize,
      statementTimeoutMs: options.dbStatementTimeout,
      connectTimeoutMs: options.dbConnectTimeout,
      commitMode: options.dbCommit,
      decide: options.dbDecide,
      groupsInFlight: options.dbGroupsInFlight,
      txidTtlMs: options.txidTtl,
    };
    return options.dbThread === 'worker' ? await PgWorkerLedger.open(pg) : await PgLedger.open(pg);
  } catch (err) {
    if (err instanceof DatabaseError) throw new CliError(err.message);
    throw err;
  }
}

async function openEngine(
  options: ServeOptions,
  logger: Logger,
  commitObserver: CommitObserver | undefined,
): Promise<Ledger> {
  let storage: LedgerStorage;
  try {
    storage = await openStorage({
      inMemory: options.inMemory,
      dataDir: options.dataDir,
      logRetentionMs: options.logRetention,
      forceUnlock: options.forceUnlock,
      startupCheck: options.startupCheck,
    });
  } catch (err) {
    if (err instanceof DataDirError) throw new CliError(err.message);
    throw err;
  }
  let engine: LedgerEngine;
  try {
    engine = await LedgerEngine.open({
      storage,
      locking: options.locking,
      txidTtlMs: options.txidTtl,
      txidSweepThreshold: options.txidSweepThreshold,
      maxTxids: options.maxTxids,
      txidCacheRecords: options.txidCache,
      logWindowEntries: options.logWindow,
      commitObserver,
    });
  } catch (err) {
    // Recovery found damage the start-up check could not see (cross-checks): same one line.
    await storage.close().catch(() => {});
    if (err instanceof DataDirError) throw new CliError(err.message);
    throw err;
  }
  // Operators (and the crash harness, which reports it per restart) see what a restart cost.
  if (engine.recovery !== undefined) logger.info({ ...engine.recovery }, 'ledger recovered');
  return engine;
}

interface ListenAddress {
  host: string;
  port: number;
}

/** host:port or [ipv6]:port to listen on; port 0 picks a free one (the log line names it). */
function listenAddressArg(value: string): ListenAddress {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (match === null || !(port >= 0 && port <= 65_535)) {
    throw new InvalidArgumentError('Expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:9464.');
  }
  const host = match[1]!;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** What the data dir's files take on disk (LMDB's map is sparse: allocated blocks, not the file length). */
function directoryBytes(dir: string): number | undefined {
  try {
    let total = 0;
    for (const name of readdirSync(dir)) {
      const stats = statSync(join(dir, name));
      if (stats.isFile()) total += stats.blocks * 512;
    }
    return total;
  } catch {
    return undefined;
  }
}

function tlsFilesOf(options: ServeOptions): TlsFiles | undefined {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new CliError('--tls-cert and --tls-key go together (a certificate needs its private key)');
  }
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    if (options.tlsClientCa !== undefined)
      throw new CliError('--tls-client-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  return { certFile: options.tlsCert, keyFile: options.tlsKey, clientCaFile: options.tlsClientCa };
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare === '::1') return true;
  return isIPv4(bare) && bare.startsWith('127.');
}

/**
 * Resolves with the first SIGINT/SIGTERM. A second one means the operator will not wait for the
 * drain: the process ends at once with exit 1.
 */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        process.stderr.write(`ledgerctl: ${signal} again, exiting without waiting for the drain\n`);
        process.exit(EXIT.failed);
      }
      received = true;
      resolveSignal(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
