import type { EngineStats } from '../engine/ledger-engine.js';

/** What the harness asks of the in-process server worker, and what it answers. */
export interface ServerWorkerOptions {
  locking: 'account' | 'global';
  txidTtlMs?: number;
  txidSweepThreshold?: number;
  maxTxids?: number;
  logWindowEntries?: number;
  maxInFlightCalls?: number;
  commitDelayMs?: [number, number];
  /** TEST DOUBLE: a deliberately broken engine (see docs/harness.md). */
  unsafeLocking?: 'none' | 'unordered';
}

export interface ServerResourceSample {
  /** Event-loop utilisation of the server thread since it started (0..1): its share of one core. */
  eventLoopUtilization: number;
  /** Busy milliseconds of the server's event loop since it started. */
  eventLoopActiveMs: number;
  /** V8 heap of the server thread's isolate (per thread, unlike RSS). */
  heapUsedBytes: number;
  /** CPU time of the server thread since it started (Linux only; see thread-cpu.ts). */
  threadCpuMs?: number;
  engine: EngineStats;
}

export type ToWorker = { type: 'sample'; id: number; gc: boolean } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'sample'; id: number; sample: ServerResourceSample }
  | { type: 'stopped' };
