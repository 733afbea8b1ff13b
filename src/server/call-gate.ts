import * as grpc from '@grpc/grpc-js';
import { Errors, type LedgerError } from '../domain/errors.js';
import { LEDGER_SERVICE_NAME, SERVER_TIME_METADATA_KEY } from '../wire/ledger-proto.js';
import { MalformedRequest } from '../wire/strict-service.js';
import type { InFlightLimiter } from './in-flight-limiter.js';
import type { Logger } from './logger.js';
import { GRPC_STATUS_OF } from './status-codes.js';

export interface CallGateOptions {
  logger: Logger;
  /** Every call from its headers to its status: unary, streaming, and calls still waiting for their request. */
  calls: InFlightLimiter;
  /** Streaming calls (health Watch, reflection) among them, so watchers cannot take every slot. */
  streams: InFlightLimiter;
  /** A call that sent headers but no request message for this long is ended. */
  requestMessageTimeoutMs: number;
}

const methodName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const LEDGER_PREFIX = `/${LEDGER_SERVICE_NAME}/`;

/**
 * The one door every call of every service passes, from the moment its headers arrive (before
 * any handler, before its request is read), as a grpc-js server interceptor:
 * - counts it in flight (a client that sends headers and never a body, or opens health Watch
 *   streams, is counted like any other call) and refuses beyond the limits;
 * - ends a call whose request message does not arrive in time;
 * - answers INVALID_ARGUMENT to a request the strict deserializer refused (src/wire/strict-service.ts),
 *   so a malformed request reaches no handler and changes nothing.
 * A refused call's later messages and half-close are dropped: it is already over.
 */
export function callGate(options: CallGateOptions): grpc.ServerInterceptor {
  const { logger, calls, streams, requestMessageTimeoutMs } = options;

  return (method, call) => {
    const startedMs = performance.now();
    // Ledger answers carry the server-time trailer (docs/contract.md), refusals made here too.
    const trailer = (): grpc.Metadata => {
      const metadata = new grpc.Metadata();
      if (method.path.startsWith(LEDGER_PREFIX)) {
        metadata.set(SERVER_TIME_METADATA_KEY, String(Math.round((performance.now() - startedMs) * 1000)));
      }
      return metadata;
    };
    const streaming = method.requestStream || method.responseStream;
    let released = false;
    let over = false;
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      if (released) return;
      released = true;
      calls.release();
      if (streaming) streams.release();
      if (timer !== undefined) clearTimeout(timer);
    };
    /** Ends the call here with a status of ours (the handler never sees it). */
    const refuse = (code: grpc.status, details: string, fields: object = {}) => {
      over = true;
      release();
      logger.error({ operation: methodName(method.path), code: grpc.status[code], ...fields }, details);
      call.sendStatus({ code, details, metadata: trailer() });
    };
    const refuseWith = (err: LedgerError, fields: object = {}) =>
      refuse(GRPC_STATUS_OF[err.code], err.message, fields);

    let admission: LedgerError | undefined;
    if (!calls.tryAcquire()) {
      admission = Errors.tooManyCalls(calls.max);
    } else if (streaming && !streams.tryAcquire()) {
      calls.release();
      admission = Errors.tooManyStreams(streams.max);
    }
    if (admission !== undefined) released = true;

    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMessage: (message, nextMessage) => {
            if (over) return;
            if (timer !== undefined) {
              clearTimeout(timer);
              timer = undefined;
            }
            if (message instanceof MalformedRequest)
              return refuseWith(Errors.malformedRequest(message.reason));
            nextMessage(message);
          },
          onReceiveHalfClose: (nextHalfClose) => {
            if (!over) nextHalfClose();
          },
          // grpc-js passes the cancellation on to the handler's listener itself.
          onCancel: release,
        });
        if (admission !== undefined) {
          const err = admission;
          over = true;
          logger.error(
            {
              operation: methodName(method.path),
              code: err.code,
              inFlight: calls.inFlight,
              streams: streams.inFlight,
            },
            err.message,
          );
          call.sendStatus({ code: GRPC_STATUS_OF[err.code], details: err.message, metadata: trailer() });
          return;
        }
        if (!method.requestStream) {
          timer = setTimeout(
            () => refuseWith(Errors.requestNotReceived(requestMessageTimeoutMs)),
            requestMessageTimeoutMs,
          );
          timer.unref();
        }
      },
      sendStatus: (status, next) => {
        release();
        next(status);
      },
    });
  };
}
