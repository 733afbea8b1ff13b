import * as grpc from '@grpc/grpc-js';
import { Errors } from '../domain/errors.js';
import { MalformedRequest } from '../wire/strict-service.js';
import type { Logger } from './logger.js';

/**
 * Answers INVALID_ARGUMENT to every request that a strict deserializer (src/wire/strict-service.ts)
 * refused, before any handler sees it: one place for every service and method, unary or
 * streaming, so a malformed request can change nothing. Later messages of a refused stream and
 * its half-close are dropped (the call is already over).
 */
export function strictDecodingInterceptor(logger: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    let refused = false;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, nextMessage) => {
            if (refused) return;
            if (!(message instanceof MalformedRequest)) return nextMessage(message);
            refused = true;
            const err = Errors.malformedRequest(message.reason);
            logger.error(
              { operation: method.path.slice(method.path.lastIndexOf('/') + 1), code: err.code },
              err.message,
            );
            call.sendStatus({ code: grpc.status.INVALID_ARGUMENT, details: err.message });
          },
          onReceiveHalfClose: (nextHalfClose) => {
            if (!refused) nextHalfClose();
          },
        }),
    });
  };
}
