import type { ClientSecurity } from '../client/client-security.js';
import type { GroupResult } from './run-group.js';
import type { CallBatch } from './run-recorder.js';
import type { GroupSpec } from './scenario-schema.js';

/** What a generator thread is told to run: its share of one group. */
export interface GeneratorJob {
  phase: string;
  /** The group as written (its mix, amounts, pool). */
  spec: GroupSpec;
  /** This thread's share: rate, in-flight slots, callers and ops divided among the threads. */
  share: GroupSpec;
  thread: number;
  threads: number;
  callerBase: number;
  callerOffset: number;
  startOffsetMs: number;
  deadlineMs: number;
  targets: string[];
  /** A fault had the server down when the job was made: wait for the gate's 'up' before connecting. */
  gateDown: boolean;
  connections: number;
  loadClient: 'lean' | 'grpc-js';
  idsPrefix: string;
  pool: readonly string[];
  seed: number;
  /** The run's time origin (process.hrtime.bigint() of the main thread's recorder). */
  t0Ns: bigint;
  maxResponseBytes: number;
  /** TLS and token of a target that requires them. */
  security: ClientSecurity | undefined;
}

export type ToGenerator =
  | { type: 'run'; job: GeneratorJob }
  | { type: 'gate'; down: boolean }
  | { type: 'retarget'; target: string; previous: string | undefined }
  | { type: 'stop' };

export type FromGenerator =
  | { type: 'batch'; batch: CallBatch }
  | { type: 'done'; result: GroupResult }
  | { type: 'failed'; message: string };
