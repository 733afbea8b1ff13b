import type { InstrumentFloor } from './calibrate.js';
import type { Comparison } from './compare-baseline.js';
import type { FaultReport } from './fault-injector.js';
import type { InvariantVerdict } from './history.js';
import type { IntervalSeries } from './interval-series.js';
import type { ProcessMemory } from './process-rss.js';
import type { GroupResult } from './run-group.js';
import type { RunVerdict } from './run-verdict.js';
import type { ThresholdResult } from './thresholds.js';

/** Latency summary in microseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface OpSummary {
  /** Op kind, or '*' for all of them. */
  op: string;
  count: number;
  ok: number;
  errorsByCode: Record<string, number>;
  replayed: number;
  /** Completed measured calls per second of measured time. */
  throughputPerS: number;
  /** From the scheduled send (open loop) or the actual send (closed loop). */
  latencyUs: LatencySummary;
  /** The full latency distribution (microseconds), HdrHistogram compressed base64, for --hdr-log and other tools. */
  latencyHistogram?: string;
  /** From the actual send; differs from latency only in open loop. */
  serviceUs: LatencySummary;
  /** The server's own handling time (its `ledger-server-time-us` trailer); absent when no answer carried it. */
  serverUs?: LatencySummary;
  /**
   * Open loop: the actual send's lateness after its scheduled time. The instrument's own figure
   * (its timer and its busy event loop), included in latencyUs; absent in closed loop.
   */
  sendLatenessUs?: LatencySummary;
  offered: number;
  dropped: number;
  warmup: number;
}

export interface ResourceReport {
  server: 'in-process' | 'remote';
  wallMs: number;
  /** Process CPU time (all threads: client, server, GC, libuv) over wall time; 1.0 = one full core. */
  processCpuCores: number;
  /** Busy share of the load generator's event loop (main thread). */
  clientEventLoopUtilization: number;
  /**
   * CPU of the load generator's threads (main thread, plus generator threads with
   * `--generator-threads`) over wall time, in cores; Linux only (per-thread clocks in /proc).
   */
  generatorCpuCores?: number;
  /** CPU of the in-process server's thread over wall time, in cores; Linux only. */
  serverCpuCores?: number;
  /** Busy share of the server thread's event loop; in-process only. */
  serverEventLoopUtilization?: number;
  /** Server event-loop busy time over process CPU time: roughly the server's share of the CPU spent. */
  serverCpuShare?: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssMaxBytes: number;
  /** Spawned server only: the largest RSS of the server process(es), sampled while phases ran. */
  serverRssMaxBytes?: number;
  /**
   * Spawned server only: its resident memory at the start, at the end of the first phase (the
   * baseline for server_rss_growth) and at the end; `fileBytes` are mapped file pages (LMDB).
   */
  serverMemory?: { before: ProcessMemory; baseline: ProcessMemory; after: ProcessMemory };
  /** RSS at the end of the first phase (the baseline for rss_growth when there are several phases). */
  rssBaselineBytes: number;
  clientHeapBeforeBytes: number;
  clientHeapAfterBytes: number;
  serverHeapBeforeBytes?: number;
  serverHeapBaselineBytes?: number;
  serverHeapAfterBytes?: number;
  /** Lock-wait time inside the engine over the summed service time of write calls. */
  lockWaitShare?: number;
  lockWaitMs?: number;
  txidsHeld?: number;
  txidSwept?: number;
  txidSweepMaxSliceMs?: number;
}

export interface StuckPhaseReport {
  phase: string;
  timeoutMs: number;
  pending: string[];
}

export interface RunResult {
  scenario: string;
  file: string;
  kind: 'load' | 'conformance';
  seed: number;
  target: string;
  startedAt: string;
  durationMs: number;
  ops: OpSummary[];
  groups: GroupResult[];
  verdicts: InvariantVerdict[];
  thresholds: ThresholdResult[];
  resources: ResourceReport | undefined;
  stuckPhases: StuckPhaseReport[];
  /** Load runs: each op's calls, errors and latency per second (measured calls only; not warm-up). */
  intervals?: IntervalSeries[];
  /** The instrument's own floor at the run's rate (load runs): latency against a null responder. */
  floor?: InstrumentFloor;
  /** Fault injection (spawned server): kills, restarts and what the retries found. */
  faults?: FaultReport;
  /** Things the reader must know to trust the numbers (truncated history, skipped checks). */
  notes: string[];
  /** The CLI maps it to an exit code (README, Exit codes). */
  verdict: RunVerdict;
  /** `--compare BASELINE.json`: each op's change against the baseline and the regression rules' verdicts. */
  comparison?: Comparison;
}
