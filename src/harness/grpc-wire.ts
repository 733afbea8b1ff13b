/**
 * The gRPC-over-HTTP/2 details the lean caller needs (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * length-prefixed messages, the grpc-timeout header, percent-encoded grpc-message, and the
 * status a call gets when no grpc-status arrived (HTTP status, RST_STREAM code).
 */

/** Status codes by number, as the reports name them. */
export const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `CODE_${code}`;
}

/** A message with its 5-byte prefix (uncompressed flag, big-endian length). */
export function frameMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

/** `grpc-timeout`: at most 8 digits and a unit; milliseconds while they fit, else seconds. */
export function grpcTimeout(deadlineMs: number): string {
  const ms = Math.max(1, Math.ceil(deadlineMs));
  return ms < 100_000_000 ? `${ms}m` : `${Math.min(99_999_999, Math.ceil(ms / 1000))}S`;
}

/** grpc-message is percent-encoded UTF-8; a malformed escape is kept as sent rather than lost. */
export function decodeGrpcMessage(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '';
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A response without grpc-status: the code its HTTP status implies (gRPC's HTTP-to-gRPC mapping). */
export function statusOfHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** A stream reset before its status: REFUSED_STREAM was never processed (retryable), CANCEL was cancelled. */
export function statusOfReset(rstCode: number): number {
  switch (rstCode) {
    case 0x7: // REFUSED_STREAM
      return Status.UNAVAILABLE;
    case 0x8: // CANCEL
      return Status.CANCELLED;
    case 0xb: // ENHANCE_YOUR_CALM
      return Status.RESOURCE_EXHAUSTED;
    case 0xc: // INADEQUATE_SECURITY
      return 7;
    default:
      return Status.INTERNAL;
  }
}

/**
 * Collects the DATA of one unary response: exactly one length-prefixed, uncompressed message.
 * Returns the message bytes, or the reason the body is not one.
 */
export function unframeUnary(chunks: readonly Buffer[], totalBytes: number): Buffer | string {
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, totalBytes);
  if (body.length < 5) return `response body of ${body.length} bytes is not a gRPC message`;
  if (body[0] !== 0) return 'compressed response without a negotiated encoding';
  const length = body.readUInt32BE(1);
  if (5 + length !== body.length) return `response frame of ${length} bytes in a body of ${body.length - 5}`;
  return body.subarray(5);
}
