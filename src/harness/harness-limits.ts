/**
 * Every bound and default of the stress harness in one place; docs/harness.md documents each.
 * Bounds exist so that a scenario file cannot make the harness itself exhaust memory or hang.
 */
export const HARNESS_LIMITS = {
  /** Per-call deadline when a scenario sets none: long enough that only a real hang reaches it. */
  defaultCallDeadlineMs: 10_000,
  /** Phase timeout when a phase sets none; ops still pending past it are a suspected deadlock. */
  defaultPhaseTimeoutMs: 60_000,
  /** After a phase timed out, how long the run waits for the stuck calls before the final checks. */
  stuckGraceMs: 2_000,
  /** Client connections opened per target (separate HTTP/2 connections via channelKey). */
  defaultConnectionsPerTarget: 4,
  maxConnectionsPerTarget: 64,
  /** Concurrent callers of one closed-loop group. */
  maxCallers: 10_000,
  /** Accounts a scenario may create during setup. */
  maxSetupAccounts: 1_000_000,
  /** Concurrent CreateAccount calls during setup. */
  setupConcurrency: 64,
  /** Concurrent GetTransaction calls when fetching log entries after the run. */
  logFetchConcurrency: 32,
  /** Open loop: sends allowed in flight before further due sends are dropped (and counted). */
  defaultOpenLoopMaxInFlight: 1_000,
  maxOpenLoopRatePerS: 100_000,
  /** Stages of one rate ramp. */
  maxRampStages: 100,
  /** Records kept in memory; a longer run keeps counting and histograms but no full history. */
  maxRecordedOps: 2_000_000,
  /** Acknowledged txids remembered per group for random `query` ops (a ring). */
  queryTxidRing: 1_024,
  /** The lean caller checks deadlines on this tick: a call fails DEADLINE_EXCEEDED at most this late. */
  deadlineTickMs: 20,
  /**
   * The lean caller's receive window per connection, opened up front and refilled when half has
   * arrived (each stream's window is 2^31-1: a response is bounded by its size limit instead).
   */
  leanConnectionWindowBytes: 16 * 1024 * 1024,
  /** A response header block (HEADERS + CONTINUATION) above this is a connection error for the lean caller. */
  leanMaxHeaderBlockBytes: 256 * 1024,
  /**
   * An open-loop phase offering at least this many calls/s runs on generator threads by default
   * (`generatorThreadsAtRate` of them) unless a scenario or flag says how many. On the main thread
   * the run's history (one record per call, kept for the checkers) fills the heap the sends share,
   * and each young-generation collection copies it: 5-30 ms pauses at 3,000/s (p99 25 ms against
   * 8 ms on threads, BENCHMARKS.md). A thread posts its records away and stays small.
   */
  threadsFromRatePerS: 1_000,
  generatorThreadsAtRate: 2,
  /** Generator threads send their started and answered calls to the main thread this often. */
  generatorBatchMs: 100,
  maxGeneratorThreads: 16,
  /** Calibration (the instrument's floor against a null responder): measured span, warm-up before it. */
  calibrationMs: 2_000,
  calibrationWarmupMs: 500,
  /** The continuous floor probe: calls per second to its own null responder while the load runs. */
  floorProbeRatePerS: 50,
  /** A generator thread's connect attempts when a fault moves the server while the thread starts. */
  generatorConnectTries: 5,
  /**
   * With at least this many probe calls (10 s at 50/s), limits are judged against the probe's
   * floor alone: it was measured in the same seconds as the load. Fewer: against the worse of
   * the probe and the calibration before the load.
   */
  floorProbeMinCalls: 500,
  /** The probe stops with the load; this only bounds a run that never ends. */
  floorProbeMaxMs: 24 * 3_600_000,
  /** The floor's rate for a run with no open-loop group (closed loop has no rate of its own). */
  defaultCalibrationRatePerS: 500,
  /**
   * A missed latency threshold is the server's fail only when its limit is at least this many times
   * the floor at the same percentile; closer, the instrument cannot tell the server from itself
   * ("cannot judge"). A threshold that is met passes whatever the floor.
   */
  floorJudgeFactor: 2,
  /**
   * The snapshots the verdicts read (before and after the load) are asked again for this long
   * while the server answers UNAVAILABLE: one reconnecting after a fault may refuse a moment longer.
   */
  snapshotUnavailableRetryMs: 5_000,
  /** Waiting for the in-process server worker to start / a remote target to connect. */
  serverStartTimeoutMs: 15_000,
  targetConnectTimeoutMs: 5_000,
  /** How often the live status line and the resource sampler tick. */
  statusIntervalMs: 1_000,
  /** The over-time series (--html, JSON `intervals`): one sample per op this often, at most this many. */
  intervalSampleMs: 1_000,
  maxIntervalSamples: 3_600,
  /** Histogram range in microseconds: 1 us .. 10 min, 3 significant digits. */
  histogramLowestUs: 1,
  histogramHighestUs: 600_000_000,
  histogramSignificantDigits: 3,
  /** Fault injection: writes left indeterminate by a kill are resent by this many callers at once. */
  retryConcurrency: 4,
  /** After a failed restart, each call waits this long first, so callers do not spin on a dead server. */
  deadServerPauseMs: 100,
  /** Retry passes after the phases end (each resends what the previous left indeterminate). */
  finalRetryPasses: 3,
  /** Evidence lines printed per failed invariant in the human report (JSON keeps them all). */
  reportEvidenceLines: 20,
} as const;
