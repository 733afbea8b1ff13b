import { LIMITS } from '../domain/limits.js';
import { LEDGER_SERVICE_NAME } from '../wire/ledger-proto.js';

const BATCH_PATH = `/${LEDGER_SERVICE_NAME}/ExecuteBatch`;

/**
 * The largest request each method accepts, in bytes. grpc-js bounds every method alike
 * (`grpc.max_receive_message_length`, set to the largest of these), so only ExecuteBatch may
 * send a multi-megabyte message; every other method is held to `maxRequestBytes` by the strict
 * decoding pass.
 */
export const requestSizeLimit = (path: string): number =>
  path === BATCH_PATH ? LIMITS.maxBatchRequestBytes : LIMITS.maxRequestBytes;

/** grpc-js's server-wide bound: the largest any method accepts. */
export const SERVER_MAX_RECEIVE_BYTES = Math.max(LIMITS.maxRequestBytes, LIMITS.maxBatchRequestBytes);
