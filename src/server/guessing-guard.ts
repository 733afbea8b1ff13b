import * as grpc from '@grpc/grpc-js';
import { Errors } from '../domain/errors.js';
import { metricsMethod } from './call-gate.js';
import { type ConnectionAddress, connectionKey } from './connection-police.js';
import type { Logger } from './logger.js';
import { RATE_WINDOW_MS, RateWindow } from './rate-window.js';
import { GRPC_STATUS_OF } from './status-codes.js';
import type { CallObserver } from './unary-handler.js';

/** How many failed authentications the server tolerates (LIMITS has the defaults). */
export interface GuessingPolicy {
  /** UNAUTHENTICATED answers one connection may get within one second; one more and it is closed. */
  maxFailuresPerConnectionPerSecond: number;
  /**
   * UNAUTHENTICATED answers of all connections within one second; past it, a connection is closed
   * at its first failure, so every further guess costs the guesser a new connection.
   */
  maxFailuresPerSecond: number;
}

type AuthContext = ReturnType<grpc.ServerInterceptingCallInterface['getAuthContext']>;

/**
 * A call whose AuthContext (the peer's TLS certificate) is decoded once per connection instead of
 * once per call: grpc-js builds it with getPeerCertificate() on every getAuthContext(), ~30 us,
 * which was a third of a call's server CPU when mTLS certificates name the callers.
 */
class ConnectionAuthCall extends grpc.ServerInterceptingCall {
  constructor(
    next: grpc.ServerInterceptingCallInterface,
    private readonly auth: () => AuthContext,
    responder: grpc.Responder,
  ) {
    super(next, responder);
  }

  override getAuthContext(): AuthContext {
    return this.auth();
  }
}

export interface GuessingStats {
  /** Calls answered UNAUTHENTICATED after their credentials were checked. */
  readonly failures: number;
  /** Connections closed (GOAWAY ENHANCE_YOUR_CALM) for failing authentication too often. */
  readonly expelled: number;
  /** Calls refused without a check because their connection was being closed for guessing. */
  readonly unchecked: number;
}

interface Failing {
  /** Its failed authentications, per second. */
  failures: RateWindow;
  lastMs: number;
  expelled: boolean;
}

/**
 * Policing of credential guessing. Every failed authentication of a connection is counted; past
 * `maxFailuresPerConnectionPerSecond` in a second (or at the first failure once every connection
 * together has failed `maxFailuresPerSecond` times in the current second) the connection is sent
 * GOAWAY ENHANCE_YOUR_CALM and closed, and its calls still arriving are refused without looking at
 * their credentials. So one connection gets at most that many token comparisons, and once many
 * connections guess together each comparison costs the guesser a new connection (TCP, HTTP/2 and,
 * with TLS, a handshake: far more than the hash and comparisons it buys). A caller that
 * authenticates is never counted, so it keeps its connection whatever others do.
 * Logged once a second with counts, never per attempt, never with the token.
 * Its interceptor, on every call when access control is on, also hands the handler the
 * connection's AuthContext decoded once (ConnectionAuthCall).
 */
export class GuessingGuard {
  /** Only connections that failed lately: empty (and free) while nobody fails. */
  private readonly failing = new Map<string, Failing>();
  /** Failed authentications of all connections, per second. */
  private readonly globalFailures = new RateWindow();
  private readonly counts = { failures: 0, expelled: 0, unchecked: 0 };
  /** What happened since the last log line. */
  private unlogged = { failures: 0, expelled: 0, unchecked: 0 };
  private logTimer: NodeJS.Timeout | undefined;
  private lastRemote: string | undefined;

  constructor(
    private readonly policy: GuessingPolicy,
    private readonly logger: Logger,
    /** Sends GOAWAY and closes the connection (connection-police.ts). */
    private readonly expel: (address: ConnectionAddress) => void,
    /** Works a value out once per connection (connection-police.ts); here the peer's certificate. */
    private readonly peerOnce: <T>(address: ConnectionAddress, compute: () => T) => T,
    private readonly observer?: CallObserver | undefined,
  ) {}

  get stats(): GuessingStats {
    return this.counts;
  }

  /** Sees every call: refuses the calls of a connection being closed, counts UNAUTHENTICATED answers. */
  readonly interceptor: grpc.ServerInterceptor = (method, call) => {
    let refused = false;
    /**
     * Looked at on the headers, the request and the half-close: the calls of one connection arrive
     * together (all headers, then all requests), so the connection may be judged between a call's
     * headers and its handler.
     */
    const refuseIfExpelled = (): boolean => {
      if (refused) return true;
      if (this.failing.size === 0 || !this.isExpelled(call.getConnectionInfo())) return false;
      refused = true;
      this.counts.unchecked++;
      this.unlogged.unchecked++;
      this.scheduleLog();
      const err = Errors.tooManyAuthFailures();
      const code = GRPC_STATUS_OF[err.code];
      this.observer?.callEnded(metricsMethod(method.path), code, process.hrtime.bigint());
      call.sendStatus({ code, details: err.message, metadata: new grpc.Metadata() });
      return true;
    };
    return new ConnectionAuthCall(
      call,
      () => this.peerOnce(call.getConnectionInfo(), () => call.getAuthContext()),
      {
        start: (next) => {
          next({
            onReceiveMessage: (message, nextMessage) => {
              if (!refuseIfExpelled()) nextMessage(message);
            },
            onReceiveHalfClose: (nextHalfClose) => {
              if (!refuseIfExpelled()) nextHalfClose();
            },
          });
          refuseIfExpelled();
        },
        sendStatus: (status, next) => {
          if (status.code === grpc.status.UNAUTHENTICATED && !refused) this.failed(call.getConnectionInfo());
          next(status);
        },
      },
    );
  };

  private isExpelled(address: ConnectionAddress): boolean {
    return this.failing.get(connectionKey(address))?.expelled === true;
  }

  private failed(address: ConnectionAddress): void {
    const now = performance.now();
    const globalFailures = this.globalFailures.add(now);
    // Once a second, when a new window opens.
    if (globalFailures === 1) this.forgetQuiet(now);
    this.counts.failures++;
    this.unlogged.failures++;
    this.lastRemote = address.remoteAddress;
    const key = connectionKey(address);
    let c = this.failing.get(key);
    if (c === undefined) {
      c = { failures: new RateWindow(), lastMs: now, expelled: false };
      this.failing.set(key, c);
    }
    c.lastMs = now;
    const failures = c.failures.add(now);
    if (
      !c.expelled &&
      (failures > this.policy.maxFailuresPerConnectionPerSecond ||
        globalFailures > this.policy.maxFailuresPerSecond)
    ) {
      c.expelled = true;
      this.counts.expelled++;
      this.unlogged.expelled++;
      this.expel(address);
    }
    this.scheduleLog();
  }

  /** Connections that failed more than two windows ago are gone or behaving: forget them. */
  private forgetQuiet(now: number): void {
    for (const [key, c] of this.failing) if (now - c.lastMs >= 2 * RATE_WINDOW_MS) this.failing.delete(key);
  }

  /** The first event after a quiet second is logged at once; later ones a second later, summed. */
  private scheduleLog(): void {
    if (this.logTimer !== undefined) return;
    this.writeLog();
    this.logTimer = setTimeout(() => this.flushLog(), RATE_WINDOW_MS);
    this.logTimer.unref();
  }

  private flushLog(): void {
    this.logTimer = undefined;
    const { failures, expelled, unchecked } = this.unlogged;
    if (failures + expelled + unchecked === 0) return;
    this.scheduleLog();
  }

  private writeLog(): void {
    const { failures, expelled, unchecked } = this.unlogged;
    this.unlogged = { failures: 0, expelled: 0, unchecked: 0 };
    // Counts and the last failing peer's address only: never a token, never a principal.
    this.logger.warn(
      {
        code: 'UNAUTHENTICATED',
        failures,
        connectionsClosed: expelled,
        refusedUnchecked: unchecked,
        lastRemoteAddress: this.lastRemote,
        totals: this.counts,
      },
      'failed authentications',
    );
  }
}
