import * as grpc from '@grpc/grpc-js';
import { Errors, type LedgerError } from '../domain/errors.js';
import { LEDGER_SERVICE_NAME } from '../wire/ledger-proto.js';
import { MalformedRequest, OversizeRequest } from '../wire/strict-service.js';
import { AnswerTrailer } from './answer-trailer.js';
import type { ConnectionAddress, ConnectionPolice } from './connection-police.js';
import type { InFlightLimiter } from './in-flight-limiter.js';
import type { Logger } from './logger.js';
import { OncePerSecond } from './once-per-second.js';
import { GRPC_STATUS_OF } from './status-codes.js';
import type { CallObserver } from './unary-handler.js';

type AuthContext = ReturnType<grpc.ServerInterceptingCallInterface['getAuthContext']>;
/** What grpc-js's call hands its events to (grpc-js does not export the type by name). */
type CallListener = Parameters<grpc.ServerInterceptingCallInterface['start']>[0];

/**
 * The guessing guard's hooks (guessing-guard.ts), run by the gate's one call layer so that a
 * call passes a single layer whatever is switched on.
 */
export interface CallGuard {
  /**
   * The refusal for a call of a connection being closed for guessing (counted and logged by the
   * guard), or undefined: the connection may call.
   */
  refusal(address: ConnectionAddress): LedgerError | undefined;
  /** A call of this connection was answered UNAUTHENTICATED. */
  failed(address: ConnectionAddress): void;
  /** The connection's AuthContext, decoded once per connection. */
  authContext(address: ConnectionAddress, decode: () => AuthContext): AuthContext;
}

export interface CallGateOptions {
  logger: Logger;
  /** Calls whose request has arrived (and client-streaming calls), until their status. */
  calls: InFlightLimiter;
  /** Streaming calls (health Watch, reflection), so watchers cannot take every slot. */
  streams: InFlightLimiter;
  /** Calls whose headers came but whose request message has not (yet). */
  maxPendingCalls: number;
  /** A call that sent headers but no request message for this long is ended. */
  requestMessageTimeoutMs: number;
  /** Sees every call refused here (metrics), under the same method names as answered calls. */
  observer?: CallObserver | undefined;
  /** Told of refusals that are the caller's fault, and holds the per-connection watch cap. */
  police?: ConnectionPolice | undefined;
  /** Policing of failed authentications (on when access control is). */
  guard?: CallGuard | undefined;
}

export interface CallGate {
  interceptor: grpc.ServerInterceptor;
  /** Calls waiting for their request message now. */
  readonly pending: number;
  /** Stops the sweep of timed-out pending calls (at shutdown). */
  close(): void;
}

const methodName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const LEDGER_PREFIX = `/${LEDGER_SERVICE_NAME}/`;
/**
 * The metrics label of a refused call: a ledger RPC by its name (as the handlers count answered
 * ones), another service's by `service/method` (health Watch floods are refused here too). Only
 * registered methods reach an interceptor, so the label set stays bounded.
 */
export const metricsMethod = (path: string): string =>
  path.startsWith(LEDGER_PREFIX) ? path.slice(LEDGER_PREFIX.length) : path.slice(1);
/** The start of the snapshot-read bound's refusal (SnapshotReads answers it from the handler). */
const SNAPSHOT_READS_REFUSED = Errors.tooManySnapshotReads(0, 0).message.split(' (')[0]!;
/** How often calls waiting too long for their request are looked for. */
const SWEEP_EVERY_MS = 250;

/**
 * What every call of one server shares: the limits, the pending calls, the log. The pending calls
 * are a list threaded through the calls themselves, oldest first: a call joins and leaves it with
 * a few field writes, where a Set hashed every call twice.
 */
class Gate {
  oldest: GatedCall | undefined;
  newest: GatedCall | undefined;
  pendingCount = 0;
  readonly floodLog = new OncePerSecond();

  constructor(readonly options: CallGateOptions) {}

  addPending(call: GatedCall): void {
    call.older = this.newest;
    call.newer = undefined;
    if (this.newest === undefined) this.oldest = call;
    else this.newest.newer = call;
    this.newest = call;
    this.pendingCount++;
  }

  removePending(call: GatedCall): void {
    if (call.older === undefined) this.oldest = call.newer;
    else call.older.newer = call.newer;
    if (call.newer === undefined) this.newest = call.older;
    else call.newer.older = call.older;
    call.older = undefined;
    call.newer = undefined;
    this.pendingCount--;
  }
}

/**
 * The one layer between grpc-js's call and the handler. grpc-js's own interceptor layer
 * (ServerInterceptingCall) builds a responder, a listener wrapper and a closure per event for
 * every call, about 7-8 us of a 70 us call (BENCHMARKS.md, "Unary, third pass"); this object is
 * both the call the handler talks to and the listener grpc-js's call talks to, with the gate's
 * state in its fields, so a call costs one allocation here.
 */
class GatedCall implements grpc.ServerInterceptingCallInterface, CallListener {
  private listener: CallListener | undefined;
  private readonly startedMs = performance.now();
  private readonly startedNs: bigint;
  private countedCall = false;
  private countedStream = false;
  private countedWatch = false;
  /** Waiting for its request message (in the gate's pending list). */
  private isPending = false;
  /** Its neighbours in the gate's pending list while it is pending. */
  older: GatedCall | undefined;
  newer: GatedCall | undefined;
  /** Answered here: later messages and the half-close are dropped. */
  private over = false;
  /** Refused by the guard: its status is not a failed authentication. */
  private guardRefused = false;
  private cancelled = false;

  constructor(
    private readonly next: grpc.ServerInterceptingCallInterface,
    private readonly method: grpc.ServerMethodDefinition<unknown, unknown>,
    private readonly gate: Gate,
  ) {
    this.startedNs = gate.options.observer === undefined ? 0n : process.hrtime.bigint();
  }

  // The call side: what the handler (through grpc-js's handle* functions) calls.

  start(listener: CallListener): void {
    this.listener = listener;
    this.next.start(this);
    const { method, gate } = this;
    const { streams, police, maxPendingCalls } = gate.options;
    if (method.requestStream || method.responseStream) {
      if (!streams.tryAcquire()) {
        this.refuse(Errors.tooManyStreams(streams.max), true);
        return;
      }
      this.countedStream = true;
      if (police !== undefined) {
        if (!police.acquireWatch(this.next.getConnectionInfo())) {
          this.refuse(Errors.tooManyConnectionStreams(police.maxWatchesPerConnection), true);
          return;
        }
        this.countedWatch = true;
      }
    }
    if (method.requestStream) {
      this.admit();
    } else {
      if (gate.pendingCount >= maxPendingCalls)
        gate.oldest?.endPending(Errors.tooManyPendingCalls(maxPendingCalls));
      gate.addPending(this);
      this.isPending = true;
    }
    // The calls of one connection arrive together (all headers, then all requests), so the guard
    // looks again at the request and the half-close.
    this.refuseIfExpelled();
  }

  sendMetadata(metadata: grpc.Metadata): void {
    this.next.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    this.next.sendMessage(message, callback);
  }

  /** The handler's status (or the guard's refusal). */
  sendStatus(status: Parameters<grpc.ServerInterceptingCallInterface['sendStatus']>[0]): void {
    const { police, guard } = this.gate.options;
    if (guard !== undefined && status.code === grpc.status.UNAUTHENTICATED && !this.guardRefused)
      guard.failed(this.next.getConnectionInfo());
    this.release();
    // A flood of expensive reads refused by their own bound is the caller's doing too.
    if (
      police !== undefined &&
      status.code === grpc.status.RESOURCE_EXHAUSTED &&
      status.details?.startsWith(SNAPSHOT_READS_REFUSED) === true
    )
      police.refused(this.next.getConnectionInfo());
    this.next.sendStatus(status);
  }

  startRead(): void {
    this.next.startRead();
  }

  getPeer(): string {
    return this.next.getPeer();
  }

  getDeadline(): grpc.Deadline {
    return this.next.getDeadline();
  }

  getHost(): string {
    return this.next.getHost();
  }

  /** With the guard on, decoded once per connection: grpc-js calls getPeerCertificate() per call. */
  getAuthContext(): AuthContext {
    const guard = this.gate.options.guard;
    if (guard === undefined) return this.next.getAuthContext();
    return guard.authContext(this.next.getConnectionInfo(), () => this.next.getAuthContext());
  }

  getConnectionInfo(): ReturnType<grpc.ServerInterceptingCallInterface['getConnectionInfo']> {
    return this.next.getConnectionInfo();
  }

  getMetricsRecorder(): ReturnType<grpc.ServerInterceptingCallInterface['getMetricsRecorder']> {
    return this.next.getMetricsRecorder();
  }

  // The listener side: what grpc-js's call tells us, passed on unless the gate ends the call.

  onReceiveMetadata(metadata: grpc.Metadata): void {
    if (!this.cancelled) this.listener!.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    if (this.over || this.cancelled) return;
    if (this.isPending && !this.admit()) return;
    // Malformed or oversized: no strike. Each costs what a valid request costs, and a fuzzer
    // (the conformance kit's strict-wire rule) sends thousands on one connection.
    const refusal =
      message instanceof MalformedRequest
        ? Errors.malformedRequest(message.reason)
        : message instanceof OversizeRequest
          ? Errors.requestTooLarge(methodName(this.method.path), message.bytes, message.limitBytes)
          : undefined;
    if (refusal !== undefined) {
      this.refuse(refusal, false);
      return;
    }
    if (this.refuseIfExpelled()) return;
    this.listener!.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    if (this.over || this.cancelled || this.refuseIfExpelled()) return;
    this.listener!.onReceiveHalfClose();
  }

  onCancel(): void {
    this.cancelled = true;
    this.release();
    // grpc-js passes the cancellation on to the handler's listener.
    this.listener?.onCancel();
  }

  // The gate.

  /** The request is here (or the call streams requests): it takes an in-flight slot or is refused. */
  private admit(): boolean {
    this.leavePending();
    const calls = this.gate.options.calls;
    if (!calls.tryAcquire()) {
      this.refuse(Errors.tooManyCalls(calls.max), false);
      return false;
    }
    this.countedCall = true;
    return true;
  }

  private leavePending(): void {
    if (!this.isPending) return;
    this.isPending = false;
    this.gate.removePending(this);
  }

  private release(): void {
    this.leavePending();
    const { calls, streams, police } = this.gate.options;
    if (this.countedCall) calls.release();
    if (this.countedStream) streams.release();
    if (this.countedWatch) police?.releaseWatch(this.next.getConnectionInfo());
    this.countedCall = false;
    this.countedStream = false;
    this.countedWatch = false;
  }

  /** Sends the guard's refusal if the call's connection is being closed for guessing. */
  private refuseIfExpelled(): boolean {
    if (this.over) return true;
    const guard = this.gate.options.guard;
    if (guard === undefined) return false;
    const err = guard.refusal(this.next.getConnectionInfo());
    if (err === undefined) return false;
    this.over = true;
    this.guardRefused = true;
    const code = GRPC_STATUS_OF[err.code];
    this.gate.options.observer?.callEnded(metricsMethod(this.method.path), code, process.hrtime.bigint());
    this.sendStatus({ code, details: err.message, metadata: new grpc.Metadata() });
    return true;
  }

  /** Ends a pending call for waiting too long (or longest): it leaves the list whatever happens. */
  endPending(err: LedgerError): void {
    this.leavePending();
    this.refuse(err, true);
  }

  /**
   * Ends the call here with a status of ours (the handler never sees it). `callersFault`: the
   * caller holds what others need (no request after its headers, a stream past a cap), unlike
   * a full server; such refusals count against its connection.
   */
  private refuse(err: LedgerError, callersFault: boolean): void {
    if (this.over) return;
    this.over = true;
    this.release();
    const { gate, method } = this;
    const { police, logger, calls, streams, observer } = gate.options;
    if (callersFault) police?.refused(this.next.getConnectionInfo());
    // Floods (header-only streams, watches past a cap) are logged once a second per message,
    // with how many were not: one line per refused stream was a log flood of its own.
    const unlogged = callersFault ? gate.floodLog.take(err.message) : 0;
    if (unlogged >= 0) {
      logger.error(
        {
          operation: methodName(method.path),
          code: err.code,
          inFlight: calls.inFlight,
          pending: gate.pendingCount,
          streams: streams.inFlight,
          ...(unlogged > 0 ? { notLoggedSince: unlogged } : {}),
        },
        err.message,
      );
    }
    const code = GRPC_STATUS_OF[err.code];
    observer?.callEnded(metricsMethod(method.path), code, this.startedNs);
    // Ledger answers carry the server-time trailer (docs/contract.md), refusals made here too.
    const metadata = method.path.startsWith(LEDGER_PREFIX)
      ? new AnswerTrailer(this.startedMs, false)
      : new grpc.Metadata();
    this.next.sendStatus({ code, details: err.message, metadata });
  }

  /** For the sweep: when its headers came. */
  get sinceMs(): number {
    return this.startedMs;
  }
}

/**
 * The one door every call of every service passes, from the moment its headers arrive (before
 * any handler, before its request is read), as a grpc-js server interceptor whose call is a
 * single GatedCall:
 * - a call whose request has not arrived yet is *pending*: pending calls have their own bound,
 *   and when it is full the call that has waited longest is ended (a client sending headers
 *   only is always the oldest; a real request follows its headers within microseconds), so
 *   header-only streams cannot take the slots of calls that do send a request; a pending call
 *   also ends after the request timeout;
 * - a call whose request arrived counts in flight (unary and streaming alike) until its status;
 *   streaming calls have their own cap within that; beyond the limits: RESOURCE_EXHAUSTED;
 * - a request the strict deserializer refused (src/wire/strict-service.ts) is answered
 *   INVALID_ARGUMENT here, so it reaches no handler and changes nothing;
 * - with the guessing guard on, a connection being closed for guessing gets no more calls
 *   served, and UNAUTHENTICATED answers are counted against their connection.
 * A refused call's later messages and half-close are dropped: it is already over.
 */
export function callGate(options: CallGateOptions): CallGate {
  const gate = new Gate(options);
  const { requestMessageTimeoutMs } = options;

  const sweep = setInterval(() => {
    const expiredBefore = performance.now() - requestMessageTimeoutMs;
    for (let call = gate.oldest; call !== undefined && call.sinceMs <= expiredBefore; call = gate.oldest)
      call.endPending(Errors.requestNotReceived(requestMessageTimeoutMs));
  }, SWEEP_EVERY_MS);
  sweep.unref();

  // grpc-js types an interceptor's result as its own class; it only ever uses the interface.
  const interceptor: grpc.ServerInterceptor = (method, call) =>
    new GatedCall(call, method, gate) as unknown as grpc.ServerInterceptingCall;

  return {
    interceptor,
    get pending() {
      return gate.pendingCount;
    },
    close: () => clearInterval(sweep),
  };
}
