/**
 * Every bound of the service in one place. README.md ("Limits") documents each one;
 * the CLI exposes the ones an operator may want to tune.
 */
export const LIMITS = {
  /** Longest account id, in UTF-8 bytes. Longer ids are refused with INVALID_ARGUMENT. */
  maxAccountIdBytes: 128,
  /** Longest transaction id, in UTF-8 bytes. */
  maxTransactionIdBytes: 128,
  /** GetSnapshot with include_accounts refuses (RESOURCE_EXHAUSTED) above this many accounts. */
  maxSnapshotAccounts: 250_000,
  /** Most operations in one ExecuteBatch request (TigerBeetle's batch size). */
  maxBatchOperations: 8_190,
  /**
   * Largest request of every method but ExecuteBatch (unary ledger calls, health, reflection), in
   * bytes: the largest well-formed unary request is well under 1 KiB.
   */
  maxRequestBytes: 64 * 1024,
  /** Largest ExecuteBatch request, in bytes: a full batch of transfers with 128-byte ids (~3.4 MB) fits. */
  maxBatchRequestBytes: 4 * 1024 * 1024,
  /** Largest response a client accepts, in bytes (a full snapshot fits well inside). */
  maxClientResponseBytes: 64 * 1024 * 1024,
  /** Calls served at once by one server; further calls get RESOURCE_EXHAUSTED. */
  maxInFlightCalls: 10_000,
  /** Writes waiting for one account's lock; further writes get RESOURCE_EXHAUSTED. */
  maxLockQueuePerAccount: 10_000,
  /** Default lifetime of an idempotency record. */
  defaultTxidTtlMs: 24 * 60 * 60 * 1000,
  /** Above this many held idempotency records the background sweep starts removing expired ones. */
  defaultTxidSweepThreshold: 100_000,
  /**
   * Hard cap of idempotency records held in memory; new ids beyond it get RESOURCE_EXHAUSTED
   * (memory bound). In durable mode records live on disk and memory holds only claims in flight
   * plus `defaultTxidCacheRecords`, so the cap is not reached there.
   */
  defaultMaxTxids: 2_000_000,
  /** Durable mode: the most recently claimed idempotency records kept in memory in front of disk. */
  defaultTxidCacheRecords: 100_000,
  /** Longest stretch the idempotency sweep holds the event loop before yielding to requests. */
  txidSweepSliceMs: 1,
  /**
   * Durable mode: background work on disk (the sweep of expired idempotency records, the audit-log
   * retention) runs in slices of `txidSweepSliceMs` with this pause between slices (at most ~1/11
   * of a core), then rests for `diskSweepRestMs` before looking again. An expired record is
   * refused as a replay the moment it expires; the sweep only gives back its disk space.
   */
  diskSweepPauseMs: 10,
  diskSweepRestMs: 60_000,
  /**
   * Young-generation semi-space of a server process, in MiB (node's --min/--max-semi-space-size;
   * Node's own default is 16): a unary call leaves 30-40 KB of short-lived garbage (grpc-js and http2 most of it), so at a few
   * thousand calls/s a 16 MiB semi-space is scavenged every ~150 ms and what is in flight at two
   * scavenges is promoted, feeding full collections (the tail latency's pauses, BENCHMARKS.md).
   * Costs up to 3x this in resident memory.
   */
  serveSemiSpaceMb: 64,
  /** Audit-log entries kept in memory (the newest); older ones are only on disk in durable mode. */
  defaultLogWindowEntries: 200_000,
  /**
   * Durable mode: address space reserved for the data file's memory map (not disk space). A
   * larger file still works: lmdb-js maps it again, bigger.
   */
  lmdbMapSizeBytes: 64 * 2 ** 30,
  /**
   * Durable mode: LMDB write transactions issued and not yet flushed at once. Commits that arrive
   * while this many are in flight wait and share the next transaction (and its fsync): at a few
   * thousand writes/s each would otherwise get a transaction of its own, and a transaction costs
   * ~200-300 us of CPU whatever it holds. Two keep a big group's commit overlapping the previous
   * transaction's fsync (1 cost ExecuteBatch throughput; BENCHMARKS.md); see lmdbOverlapMinPuts.
   */
  lmdbTransactionsInFlight: 2,
  /**
   * Durable mode: the second of those transactions is started only for a group of at least this
   * many puts (an ExecuteBatch of a few hundred operations); smaller groups (unary writes) wait for
   * the one in flight to be flushed and share the next. At ~10 unary writes per transaction the
   * transaction's fixed cost was the larger part of a durable write's CPU (BENCHMARKS.md, issue 11).
   */
  lmdbOverlapMinPuts: 1_000,
  /**
   * Durable mode: how long a starting server waits for another starter that is taking over the
   * same data dir's stale LOCK; a takeover guard older than this is itself stale (its owner died).
   */
  dataDirLockTakeoverWaitMs: 5_000,
  /**
   * Durable mode, `--startup-check auto`: data files up to this size get the record check at
   * start (a child reads every record and its checksum: ~3 s for 256 MiB here); larger ones the
   * page-header scan (seconds for gigabytes), the records being checked as they are read.
   */
  startupRecordCheckMaxBytes: 256 * 2 ** 20,
  /** PostgreSQL: connections one `serve` opens at most (--db-pool-size). */
  defaultPgPoolSize: 8,
  /** PostgreSQL: the smallest --db-pool-size: one connection for group transactions, one for the rest. */
  minPgPoolSize: 2,
  /** PostgreSQL: server-side limit of one statement (--db-statement-timeout). */
  defaultPgStatementTimeoutMs: 5_000,
  /** PostgreSQL: how long opening one connection may take (--db-connect-timeout; whole seconds). */
  defaultPgConnectTimeoutMs: 5_000,
  /** PostgreSQL, `--db-thread worker`: how often the worker sends the figures the metrics endpoint shows. */
  pgWorkerMetricsIntervalMs: 1_000,
  /** PostgreSQL: group transactions one process runs at once (each on its own connection). */
  pgGroupsInFlight: 2,
  /** PostgreSQL, `--db-commit auto`: synchronous commits timed together before the commit mode is chosen again. */
  pgAutoCommitWindowGroups: 32,
  /** PostgreSQL, `--db-commit auto`: a window's median flush above this (us) makes groups commit asynchronously. */
  pgAutoCommitSlowFlushUs: 2_000,
  /** PostgreSQL, `--db-commit auto`: a window's median flush below this (us) makes them synchronous again. */
  pgAutoCommitFastFlushUs: 1_000,
  /** PostgreSQL: flush barriers (one synchronous commit each) one process runs at once. */
  pgFlushBarriersInFlight: 2,
  /** PostgreSQL: most writes in one group transaction. */
  pgMaxGroupWrites: 512,
  /** PostgreSQL, `--db-decide cached`: account states one process keeps to decide groups before they reach the database. */
  pgAccountCacheAccounts: 100_000,
  /** PostgreSQL, `--db-decide cached`: cached groups judged together for the stale share below. */
  pgCachedWindowGroups: 32,
  /** PostgreSQL, `--db-decide cached`: more stale groups than this share (percent) of a window pause the cached path. */
  pgCachedMaxStalePercent: 20,
  /** PostgreSQL, `--db-decide cached`: groups that take the locked path during a first pause (doubled by each stale window in a row). */
  pgCachedPauseGroups: 1_024,
  /** PostgreSQL, `--db-decide cached`: the longest pause, in groups. */
  pgCachedMaxPauseGroups: 65_536,
  /** PostgreSQL: tries of one group that meets a deadlock, a serialization failure or a racing create. */
  pgGroupAttempts: 8,
  /** PostgreSQL: how often a server that lost its database tries to reach it again. */
  pgProbeIntervalMs: 250,
  /** PostgreSQL: expired idempotency records deleted per statement by the sweep (short row locks). */
  pgTxidSweepBatch: 500,
  /** PostgreSQL: pause between sweep passes over expired idempotency records. */
  pgTxidSweepIntervalMs: 10_000,
  /** Deadline of one call from a client verb (query-log, balance, snapshot, the writes) unless --timeout says otherwise. */
  defaultCliCallTimeoutMs: 5_000,
  /** How long SIGINT/SIGTERM waits for in-flight calls before forcing shutdown. */
  defaultShutdownGraceMs: 10_000,
  /**
   * Longest duration a timer can hold: Node's setTimeout and grpc-js's deadline arithmetic are
   * 32-bit (about 24.8 days); past it they fire after 1 ms. Duration flags above it are refused;
   * a call deadline above it is capped to it by the server.
   */
  maxTimerMs: 2 ** 31 - 1,
  /** Streaming calls (health Watch, reflection) open at once; more get RESOURCE_EXHAUSTED. Counted in the in-flight calls too. */
  defaultMaxOpenStreams: 1_000,
  /**
   * HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); a client
   * queues beyond it, and nghttp2 refuses the streams of one that does not. 100 is HTTP/2's
   * recommended minimum (RFC 9113 6.5.2); it bounds what one connection's first burst costs.
   */
  defaultMaxStreamsPerConnection: 100,
  /** Client connections held at once; further connections are closed as they arrive. */
  defaultMaxConnections: 1_000,
  /**
   * HTTP/2 sessions set up per event-loop turn; further accepted connections wait for the next turn
   * (session-pacer.ts). A burst of connects otherwise holds the event loop ~60-100 us per session,
   * all in one turn, while established clients wait.
   */
  defaultSessionsPerTurn: 4,
  /** Accepted connections waiting for their HTTP/2 session at once; more are closed as they arrive. */
  defaultMaxQueuedConnections: 1_000,
  /**
   * Descriptor slots a server reserves at start beyond max-connections per listener (its own files,
   * the metrics endpoint, storage): Linux grows a multi-threaded process's descriptor table only
   * after an RCU grace period (9-23 ms asleep, measured), which in accept() holds the event loop (fd-table.ts).
   */
  fdTableHeadroomSlots: 256,
  /** Most descriptor slots a server reserves at start (each costs one open and close of /dev/null, ~20 us). */
  fdTableReserveMaxSlots: 65_536,
  /** Largest request header list (metadata), uncompressed, in bytes; larger requests are reset. */
  defaultMaxHeaderListBytes: 16 * 1024,
  /** A connection with no call open for this long is closed (GOAWAY). */
  defaultConnectionIdleMs: 5 * 60 * 1000,
  /** The server pings a connection after this long without activity, and closes it if no answer comes in `defaultKeepaliveTimeoutMs`. */
  defaultKeepaliveTimeMs: 2 * 60 * 1000,
  defaultKeepaliveTimeoutMs: 20_000,
  /** A connection is asked to go away after this long (+-10% jitter), then closed `defaultMaxConnectionAgeGraceMs` later. */
  defaultMaxConnectionAgeMs: 60 * 60 * 1000,
  defaultMaxConnectionAgeGraceMs: 30_000,
  /**
   * Calls whose headers came but whose request has not: when full, the one waiting longest is
   * ended (a real request follows its headers within microseconds; header-only streams are old).
   */
  defaultMaxPendingCalls: 1_000,
  /**
   * Calls of one connection refused for holding what others need (headers only, watches or snapshot reads past their bounds)
   * in one second; one more and the connection is sent GOAWAY and closed.
   */
  defaultMaxRefusalsPerConnectionPerSecond: 20,
  /** Streaming calls (health Watch, reflection) one connection may hold open; more get RESOURCE_EXHAUSTED. */
  defaultMaxWatchesPerConnection: 16,
  /** A connection that has not sent its HTTP/2 preface this long after opening is closed. */
  defaultPrefaceTimeoutMs: 5_000,
  /** After one of its connections is expelled, an address's new connections are on probation this long (0: never). */
  defaultProbationMs: 60_000,
  /** HTTP/2 streams a connection on probation may have open at once; nghttp2 refuses more (REFUSED_STREAM). */
  defaultProbationStreams: 4,
  /** A call whose request message has not arrived this long after its headers is ended (a client that sends headers only). */
  requestMessageTimeoutMs: 10_000,
  /** GetSnapshot calls with include_accounts on a ledger above one slice (snapshotSliceAccounts) served at once; more get RESOURCE_EXHAUSTED. */
  defaultMaxSnapshotReads: 4,
  /** Accounts that the GetSnapshot calls with include_accounts in flight may copy in total (cost budget); one call is always admitted. */
  snapshotReadBudgetAccounts: 500_000,
  /** A snapshot with accounts is encoded this many accounts at a time, yielding in between, so other calls are not held up. */
  snapshotSliceAccounts: 1_000,
  /**
   * Calls of one connection answered UNAUTHENTICATED in one second; one more and the connection is
   * sent GOAWAY and closed (credential guessing; a client with a stale token fails every call, and
   * retrying faster than this does not help it).
   */
  maxAuthFailuresPerConnectionPerSecond: 10,
  /**
   * Calls of all connections answered UNAUTHENTICATED in one second; past it, a connection is closed
   * at its first failure, so guessing from many connections costs a connection per guess.
   */
  maxAuthFailuresPerSecond: 100,
  /** Longest principal name in an access file (it is written into every log entry of its writes). */
  maxPrincipalChars: 128,
  /** Longest bearer token a ledgerctl client sends (it travels in an HTTP/2 header). */
  maxBearerTokenChars: 4096,
  /** The metrics endpoint closes a request whose headers or body take longer than this. */
  metricsRequestTimeoutMs: 10_000,
} as const;
