import type { ClientSecurity } from '../client/client-security.js';
import type { ClientPool } from './client-pool.js';
import type { RunIds } from './run-ids.js';
import type { Scenario } from './scenario-schema.js';
import type { ServerSource } from './server-source.js';

export interface RunOptions {
  /** Shown in reports. */
  file: string;
  /** Remote servers (host:port); the in-process server when absent. */
  targets?: string[];
  seed?: number;
  /** JSONL history for external checkers. */
  historyFile?: string;
  /** Live status line on stderr. */
  status?: boolean;
  /** TLS and token for `targets` that require them. */
  security?: ClientSecurity | undefined;
  /** Generator threads; overrides the scenario's `generator.threads`. */
  generatorThreads?: number;
}

/** What every stage of a run shares, instead of long parameter lists. */
export interface RunContext {
  readonly scenario: Scenario;
  readonly options: RunOptions;
  readonly seed: number;
  /** Physical ids (a per-run prefix against shared servers). */
  readonly ids: RunIds;
  readonly server: ServerSource;
  readonly pool: ClientPool;
  /** The default per-call deadline. */
  readonly deadlineMs: number;
  /** performance.now() at the start of the run. */
  readonly t0: number;
  /** Things the reader must know to trust the numbers; every stage may add one. */
  readonly notes: string[];
}
