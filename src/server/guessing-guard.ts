import type * as grpc from '@grpc/grpc-js';
import { Errors, type LedgerError } from '../domain/errors.js';
import type { CallGuard } from './call-gate.js';
import { type ConnectionAddress, connectionKey } from './connection-police.js';
import type { Logger } from './logger.js';
import { RATE_WINDOW_MS, RateWindow } from './rate-window.js';

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
 * The call gate (call-gate.ts) runs its hooks on every call when access control is on, and
 * through it the handler gets the connection's AuthContext decoded once.
 */
export class GuessingGuard implements CallGuard {
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
  ) {}

  get stats(): GuessingStats {
    return this.counts;
  }

  /**
   * The refusal for a call of a connection being closed for guessing, counted and logged, or
   * undefined. The call gate asks on a call's headers, its request and its half-close: the calls
   * of one connection arrive together (all headers, then all requests), so the connection may be
   * judged between a call's headers and its handler.
   */
  refusal(address: ConnectionAddress): LedgerError | undefined {
    if (this.failing.size === 0 || !this.isExpelled(address)) return undefined;
    this.counts.unchecked++;
    this.unlogged.unchecked++;
    this.scheduleLog();
    return Errors.tooManyAuthFailures();
  }

  /** The connection's AuthContext (the peer's TLS certificate), decoded once per connection. */
  authContext(address: ConnectionAddress, decode: () => AuthContext): AuthContext {
    return this.peerOnce(address, decode);
  }

  private isExpelled(address: ConnectionAddress): boolean {
    return this.failing.get(connectionKey(address))?.expelled === true;
  }

  /** A call of this connection was answered UNAUTHENTICATED. */
  failed(address: ConnectionAddress): void {
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
