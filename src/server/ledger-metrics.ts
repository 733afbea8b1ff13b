import { status } from '@grpc/grpc-js';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CommitObserver } from '../engine/commit-sequencer.js';
import type { EngineStats } from '../engine/ledger-engine.js';
import type { PgMetrics } from '../engine/postgres/pg-ledger.js';
import type { CallObserver } from './unary-handler.js';

/** Latency buckets in seconds: from a fast in-memory read (~50 us) to a call stuck for seconds. */
const RPC_SECONDS_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** An LMDB flush takes ~0.5 ms here; PostgreSQL or a slow disk, tens of ms. */
const FLUSH_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];
/** Writes per commit batch: 1 for a unary write, up to 8,190 for an ExecuteBatch. */
const BATCH_WRITES_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

/** Where the gauges read their values when Prometheus scrapes (nothing is kept up to date in between). */
export interface MetricsSources {
  /** Ledger calls being served (the --max-in-flight count). */
  inFlightCalls: () => number;
  /** In-process engines only (not PostgreSQL). */
  engineStats?: (() => EngineStats) | undefined;
  /** Client connections open, and refused so far at the connection limit. */
  connections?:
    | (() => {
        readonly open: number;
        readonly refused: number;
        readonly expelled?: number;
        readonly silent?: number;
        /** Connections accepted on probation (their address had a connection expelled lately). */
        readonly probation?: number;
        /** Connections that spoke and wait for their HTTP/2 session; closed because that queue was full (session-pacer.ts). */
        readonly queued?: number;
        readonly shed?: number;
      })
    | undefined;
  /** Failed authentications (guessing-guard.ts), when access control is on. */
  authFailures?:
    | (() => { readonly failures: number; readonly expelled: number; readonly unchecked: number })
    | undefined;
  /** Streaming calls (health watches, reflection) open. */
  openStreams?: (() => number) | undefined;
  /** Bytes the ledger's files take on disk (durable mode). */
  storageBytes?: (() => number | undefined) | undefined;
  /** PostgreSQL storage only: group transactions and the commit mode's choice. */
  pgMetrics?: (() => PgMetrics | undefined) | undefined;
}

const CODE_NAMES: readonly string[] = Object.keys(status).filter((k) => Number.isNaN(Number(k)));
const codeName = (code: number): string => CODE_NAMES[code] ?? `CODE_${code}`;

/**
 * The server's Prometheus metrics, in their own registry. Per-call work is one counter and one
 * histogram update through label children cached per method and status (prom-client's label
 * lookup hashes the label set on every call otherwise); everything the engine already counts is
 * read at scrape time only.
 */
export class LedgerMetrics implements CallObserver, CommitObserver {
  readonly registry = new Registry();
  private readonly calls: Counter<'method' | 'code'>;
  private readonly duration: Histogram<'method'>;
  private readonly batchWrites: Histogram;
  private readonly flushSeconds: Histogram;
  private readonly callChildren = new Map<string, Counter.Internal>();
  private readonly durationChildren = new Map<string, Histogram.Internal<'method'>>();
  private sources: MetricsSources | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.calls = new Counter({
      name: 'ledger_rpc_calls_total',
      help: 'Ledger calls answered, by method and gRPC status code',
      labelNames: ['method', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'ledger_rpc_duration_seconds',
      help: 'Time from a ledger call reaching its handler to its answer, by method',
      labelNames: ['method'],
      buckets: RPC_SECONDS_BUCKETS,
      registers,
    });
    this.batchWrites = new Histogram({
      name: 'ledger_commit_batch_writes',
      help: 'Writes (log entries) per commit batch handed to storage',
      buckets: BATCH_WRITES_BUCKETS,
      registers,
    });
    this.flushSeconds = new Histogram({
      name: 'ledger_commit_flush_seconds',
      help: 'Time from handing a commit batch to storage until it is durable',
      buckets: FLUSH_SECONDS_BUCKETS,
      registers,
    });
    const read = <T>(pick: (s: MetricsSources) => T | undefined): T | undefined =>
      this.sources === undefined ? undefined : pick(this.sources);
    const stat = (key: keyof EngineStats) => () => read((s) => s.engineStats?.()[key]);
    this.gauge('ledger_rpc_in_flight', 'Ledger calls being served now', () => read((s) => s.inFlightCalls()));
    this.gauge(
      'ledger_writes_in_flight',
      'Writes inside the engine now (locking, deciding, committing)',
      stat('writesInFlight'),
    );
    this.gauge(
      'ledger_commits_pending',
      'Commit batches waiting to become durable or to be applied in order',
      stat('commitsPending'),
    );
    this.gauge('ledger_accounts', 'Accounts in the ledger', stat('accounts'));
    this.gauge('ledger_log_position', 'Position of the newest audit-log entry', stat('logPosition'));
    this.gauge('ledger_log_window_entries', 'Audit-log entries held in memory', stat('logWindowEntries'));
    this.gauge('ledger_idempotency_records', 'Idempotency records held in memory', stat('txidsHeld'));
    this.counter(
      'ledger_idempotency_sweeps_total',
      'Sweeps of expired idempotency records',
      stat('txidSweeps'),
    );
    this.counter(
      'ledger_idempotency_swept_total',
      'Expired idempotency records removed by sweeps',
      stat('txidSwept'),
    );
    this.counter(
      'ledger_lock_acquisitions_total',
      'Account-lock acquisitions by writes',
      stat('lockAcquisitions'),
    );
    this.counter('ledger_lock_contended_total', 'Lock acquisitions that had to wait', stat('lockContended'));
    this.counter('ledger_lock_wait_seconds_total', 'Time writes spent waiting for account locks', () => {
      const ms = stat('lockWaitMsTotal')();
      return ms === undefined ? undefined : ms / 1000;
    });
    this.gauge('ledger_storage_bytes', 'Bytes the ledger files take on disk', () =>
      read((s) => s.storageBytes?.()),
    );
    this.gauge('ledger_connections', 'Client connections open', () => read((s) => s.connections?.().open));
    this.counter(
      'ledger_connections_refused_total',
      'Connections closed on arrival at the connection limit',
      () => read((s) => s.connections?.().refused),
    );
    this.counter(
      'ledger_connections_expelled_total',
      'Connections sent GOAWAY and closed for too many refused calls in a second',
      () => read((s) => s.connections?.().expelled),
    );
    this.counter(
      'ledger_connections_probation_total',
      'Connections accepted on probation (few streams) because their address had a connection expelled lately',
      () => read((s) => s.connections?.().probation),
    );
    this.gauge('ledger_connections_waiting', 'Connections that spoke and wait for their HTTP/2 session', () =>
      read((s) => s.connections?.().queued),
    );
    this.counter(
      'ledger_connections_shed_total',
      'Connections closed because too many were waiting for their HTTP/2 session',
      () => read((s) => s.connections?.().shed),
    );
    this.counter(
      'ledger_connections_silent_closed_total',
      'Connections closed for not starting HTTP/2 within the preface timeout',
      () => read((s) => s.connections?.().silent),
    );
    this.counter(
      'ledger_auth_failures_total',
      'Ledger calls answered UNAUTHENTICATED after their credentials were checked',
      () => read((s) => s.authFailures?.().failures),
    );
    this.counter(
      'ledger_auth_connections_closed_total',
      'Connections sent GOAWAY and closed for too many failed authentications',
      () => read((s) => s.authFailures?.().expelled),
    );
    this.counter(
      'ledger_auth_refused_unchecked_total',
      'Calls refused without a credential check because their connection was being closed for failed authentications',
      () => read((s) => s.authFailures?.().unchecked),
    );
    this.gauge('ledger_streams', 'Streaming calls open (health watches, reflection)', () =>
      read((s) => s.openStreams?.()),
    );
    const pg = (key: Exclude<keyof PgMetrics, 'commitAsync'>) => () => read((s) => s.pgMetrics?.()?.[key]);
    this.counter(
      'ledger_pg_groups_total',
      'PostgreSQL group transactions run (committed or not)',
      pg('groups'),
    );
    this.counter(
      'ledger_pg_group_writes_total',
      'Writes handed to PostgreSQL group transactions',
      pg('writes'),
    );
    this.counter(
      'ledger_pg_cached_groups_total',
      'Group transactions committed in one round trip, decided on cached account states',
      pg('cachedGroups'),
    );
    this.counter(
      'ledger_pg_stale_groups_total',
      'Cached group attempts PostgreSQL refused (stale states), then run on the locked path',
      pg('staleGroups'),
    );
    this.counter(
      'ledger_pg_async_groups_total',
      'Group transactions committed asynchronously, answered after a flush barrier',
      pg('asyncGroups'),
    );
    this.counter(
      'ledger_pg_group_retries_total',
      'Group transactions run again (lock conflicts, races)',
      pg('retries'),
    );
    this.counter('ledger_pg_statements_total', 'Statements sent by group transactions', pg('statements'));
    this.counter(
      'ledger_pg_pools_replaced_total',
      'Connection pools retired because one of their connections closed',
      pg('poolsReplaced'),
    );
    this.gauge(
      'ledger_pg_commit_async',
      '--db-commit auto: 1 while groups commit asynchronously, 0 while synchronously',
      () =>
        read((s) => {
          const async = s.pgMetrics?.()?.commitAsync;
          return async === undefined ? undefined : Number(async);
        }),
    );
  }

  /** The server is up: gauges read from it from now on. */
  bind(sources: MetricsSources): void {
    this.sources = sources;
  }

  callEnded(method: string, code: status, startedNs: bigint): void {
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    const key = `${method}\u0000${code}`;
    let counter = this.callChildren.get(key);
    if (counter === undefined) {
      counter = this.calls.labels({ method, code: codeName(code) });
      this.callChildren.set(key, counter);
    }
    counter.inc();
    let histogram = this.durationChildren.get(method);
    if (histogram === undefined) {
      histogram = this.duration.labels({ method });
      this.durationChildren.set(method, histogram);
    }
    histogram.observe(seconds);
  }

  committed(writes: number, flushMs: number): void {
    this.batchWrites.observe(writes);
    this.flushSeconds.observe(flushMs / 1000);
  }

  /** The text exposition format, as Prometheus scrapes it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A gauge read at scrape time; absent (no sample) while its source has no value. */
  private gauge(name: string, help: string, value: () => number | undefined): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        const v = value();
        if (v !== undefined) this.set(v);
      },
    });
  }

  /** A counter whose running total lives elsewhere (the engine), copied at scrape time. */
  private counter(name: string, help: string, value: () => number | undefined): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        const v = value();
        if (v !== undefined) this.inc(v);
      },
    });
  }
}
