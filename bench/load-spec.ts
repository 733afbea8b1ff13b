/** What one load-generator thread does; shared by grpc-bench.ts and load-worker.ts. */
export type GrpcOp = 'get' | 'update' | 'transfer';
export const GRPC_OPS: readonly GrpcOp[] = ['get', 'update', 'transfer'];

import type { BenchClientKind } from './bench-client.js';

export interface LoadSpec {
  target: string;
  client: BenchClientKind;
  workerId: number;
  /** Prefix of every transaction id this thread sends (unique per run). */
  runTag: string;
  connections: number;
  /** closed: `concurrency` callers back to back; open: sends at fixed times, `ratePerSec`. */
  mode: 'closed' | 'open';
  /** Operations cycled through, call by call. */
  ops: readonly GrpcOp[];
  concurrency: number;
  ratePerSec: number;
  warmupMs: number;
  durationMs: number;
  accounts: number;
  deadlineMs: number;
}

export interface OpReport {
  /** Calls completed inside the measurement window. */
  count: number;
  errors: Record<string, number>;
  /** Open loop: from the scheduled send time; closed loop: from the send. Base64 HDR, us. */
  latencyUs: string;
  /** From the actual send (service time), base64 HDR, us. */
  serviceUs: string;
}

export interface LoadReport {
  perOp: Partial<Record<GrpcOp, OpReport>>;
  /** Sum of acknowledged update deltas over the whole run (warm-up included), as a decimal string. */
  ackedDelta: string;
  /** Calls whose outcome is unknown (deadline, transport error): verification must allow for them. */
  indeterminate: number;
  /** Open loop: how late sends left against their schedule, base64 HDR, us. */
  sendLagUs?: string;
  scheduled: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; report: LoadReport }
  | { type: 'failed'; message: string };
export type ParentMessage = { type: 'go'; startAtMs: number };

export const benchAccountId = (i: number): string => `acct-${i.toString().padStart(6, '0')}`;
