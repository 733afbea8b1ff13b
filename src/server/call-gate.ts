import * as grpc from '@grpc/grpc-js';
import { Errors, type LedgerError } from '../domain/errors.js';
import { LEDGER_SERVICE_NAME, SERVER_TIME_METADATA_KEY } from '../wire/ledger-proto.js';
import { MalformedRequest, OversizeRequest } from '../wire/strict-service.js';
import type { ConnectionPolice } from './connection-police.js';
import type { InFlightLimiter } from './in-flight-limiter.js';
import type { Logger } from './logger.js';
import { OncePerSecond } from './once-per-second.js';
import { GRPC_STATUS_OF } from './status-codes.js';
import type { CallObserver } from './unary-handler.js';

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

interface PendingCall {
  sinceMs: number;
  end: (err: LedgerError, callersFault: boolean) => void;
}

/**
 * The one door every call of every service passes, from the moment its headers arrive (before
 * any handler, before its request is read), as a grpc-js server interceptor:
 * - a call whose request has not arrived yet is *pending*: pending calls have their own bound,
 *   and when it is full the call that has waited longest is ended (a client sending headers
 *   only is always the oldest; a real request follows its headers within microseconds), so
 *   header-only streams cannot take the slots of calls that do send a request; a pending call
 *   also ends after the request timeout;
 * - a call whose request arrived counts in flight (unary and streaming alike) until its status;
 *   streaming calls have their own cap within that; beyond the limits: RESOURCE_EXHAUSTED;
 * - a request the strict deserializer refused (src/wire/strict-service.ts) is answered
 *   INVALID_ARGUMENT here, so it reaches no handler and changes nothing.
 * A refused call's later messages and half-close are dropped: it is already over.
 */
export function callGate(options: CallGateOptions): CallGate {
  const { logger, calls, streams, maxPendingCalls, requestMessageTimeoutMs, observer, police } = options;
  const floodLog = new OncePerSecond();
  // Insertion order is age order: the first entry has waited longest.
  const pending = new Map<object, PendingCall>();

  const sweep = setInterval(() => {
    const expiredBefore = performance.now() - requestMessageTimeoutMs;
    for (const [key, p] of pending) {
      if (p.sinceMs > expiredBefore) break;
      pending.delete(key);
      p.end(Errors.requestNotReceived(requestMessageTimeoutMs), true);
    }
  }, SWEEP_EVERY_MS);
  sweep.unref();

  const interceptor: grpc.ServerInterceptor = (method, call) => {
    const startedMs = performance.now();
    const startedNs = observer === undefined ? 0n : process.hrtime.bigint();
    const key = {};
    const streaming = method.requestStream || method.responseStream;
    let countedCall = false;
    let countedStream = false;
    let countedWatch = false;
    let over = false;

    const release = () => {
      pending.delete(key);
      if (countedCall) calls.release();
      if (countedStream) streams.release();
      if (countedWatch) police?.releaseWatch(call.getConnectionInfo());
      countedCall = false;
      countedStream = false;
      countedWatch = false;
    };
    // Ledger answers carry the server-time trailer (docs/contract.md), refusals made here too.
    const trailer = (): grpc.Metadata => {
      const metadata = new grpc.Metadata();
      if (method.path.startsWith(LEDGER_PREFIX)) {
        metadata.set(SERVER_TIME_METADATA_KEY, String(Math.round((performance.now() - startedMs) * 1000)));
      }
      return metadata;
    };
    /**
     * Ends the call here with a status of ours (the handler never sees it). `callersFault`: the
     * caller holds what others need (no request after its headers, a stream past a cap), unlike
     * a full server; such refusals count against its connection.
     */
    const refuse = (err: LedgerError, callersFault: boolean) => {
      if (over) return;
      over = true;
      release();
      if (callersFault) police?.refused(call.getConnectionInfo());
      // Floods (header-only streams, watches past a cap) are logged once a second per message,
      // with how many were not: one line per refused stream was a log flood of its own.
      const unlogged = callersFault ? floodLog.take(err.message) : 0;
      if (unlogged >= 0) {
        logger.error(
          {
            operation: methodName(method.path),
            code: err.code,
            inFlight: calls.inFlight,
            pending: pending.size,
            streams: streams.inFlight,
            ...(unlogged > 0 ? { notLoggedSince: unlogged } : {}),
          },
          err.message,
        );
      }
      const code = GRPC_STATUS_OF[err.code];
      observer?.callEnded(metricsMethod(method.path), code, startedNs);
      call.sendStatus({ code, details: err.message, metadata: trailer() });
    };
    /** The request is here (or the call streams requests): it takes an in-flight slot or is refused. */
    const admit = (): boolean => {
      pending.delete(key);
      if (!calls.tryAcquire()) {
        refuse(Errors.tooManyCalls(calls.max), false);
        return false;
      }
      countedCall = true;
      return true;
    };

    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMessage: (message, nextMessage) => {
            if (over) return;
            if (pending.has(key) && !admit()) return;
            // Malformed or oversized: no strike. Each costs what a valid request costs, and a
            // fuzzer (the conformance kit's strict-wire rule) sends thousands on one connection.
            if (message instanceof MalformedRequest)
              return refuse(Errors.malformedRequest(message.reason), false);
            if (message instanceof OversizeRequest)
              return refuse(
                Errors.requestTooLarge(methodName(method.path), message.bytes, message.limitBytes),
                false,
              );
            nextMessage(message);
          },
          onReceiveHalfClose: (nextHalfClose) => {
            if (!over) nextHalfClose();
          },
          // grpc-js passes the cancellation on to the handler's listener itself.
          onCancel: release,
        });
        if (streaming) {
          if (!streams.tryAcquire()) return refuse(Errors.tooManyStreams(streams.max), true);
          countedStream = true;
          if (police !== undefined) {
            if (!police.acquireWatch(call.getConnectionInfo()))
              return refuse(Errors.tooManyConnectionStreams(police.maxWatchesPerConnection), true);
            countedWatch = true;
          }
        }
        if (method.requestStream) {
          admit();
          return;
        }
        if (pending.size >= maxPendingCalls) {
          const [oldestKey, oldest] = pending.entries().next().value as [object, PendingCall];
          pending.delete(oldestKey);
          oldest.end(Errors.tooManyPendingCalls(maxPendingCalls), true);
        }
        pending.set(key, { sinceMs: startedMs, end: refuse });
      },
      sendStatus: (status, next) => {
        release();
        // A flood of expensive reads refused by their own bound is the caller's doing too.
        if (
          police !== undefined &&
          status.code === grpc.status.RESOURCE_EXHAUSTED &&
          status.details?.startsWith(SNAPSHOT_READS_REFUSED) === true
        )
          police.refused(call.getConnectionInfo());
        next(status);
      },
    });
  };

  return {
    interceptor,
    get pending() {
      return pending.size;
    },
    close: () => clearInterval(sweep),
  };
}
