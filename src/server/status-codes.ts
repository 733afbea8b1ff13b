import { status } from '@grpc/grpc-js';
import type { ErrorCode } from '../domain/errors.js';

/** Every domain error code has exactly one gRPC status (a new code fails to typecheck here). */
export const GRPC_STATUS_OF: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  OUT_OF_RANGE: status.OUT_OF_RANGE,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  ABORTED: status.ABORTED,
  UNAVAILABLE: status.UNAVAILABLE,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
};

/** What a client sees for a failure that is not its own: the cause stays in the server log. */
export const INTERNAL_ERROR_MESSAGE = 'Internal error; the server log has the details';
