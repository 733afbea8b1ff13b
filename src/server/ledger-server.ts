import type { LedgerEngine } from '../engine/ledger-engine.js';
import type { Logger } from './logger.js';

export interface LedgerServerOptions {
  /** Interface to bind, e.g. 127.0.0.1. */
  host: string;
  /** 0 picks an ephemeral port (see RunningServer.port). */
  port: number;
  /** An opened engine; the server owns it from here on and closes it on shutdown. */
  engine: LedgerEngine;
  logger: Logger;
  maxInFlightCalls?: number;
  shutdownGraceMs?: number;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** host:port, ready for a client. */
  readonly target: string;
  readonly engine: LedgerEngine;
  /** Health NOT_SERVING, drain in-flight calls (forced after the grace period), close the engine. */
  shutdown(): Promise<void>;
}

/** Placeholder: implemented by the server's owner. */
export async function startLedgerServer(_options: LedgerServerOptions): Promise<RunningServer> {
  throw new Error('not implemented yet');
}
