import type * as grpc from '@grpc/grpc-js';

export interface GrpcServerCounts {
  /** HTTP/2 connections open now. */
  connections: number;
  /** gRPC calls (streams) started and not yet finished, of every service. */
  streams: number;
}

interface ServerInternals {
  sessions?: unknown;
  callTracker?: { callsStarted?: unknown; callsSucceeded?: unknown; callsFailed?: unknown };
}

/**
 * grpc-js keeps these counts (for channelz) but publishes no API for them; they are read from
 * its fields as of 1.14. If a later version renames them, this returns undefined and the metrics
 * leave the two gauges out rather than report a wrong number.
 */
export function grpcServerCounts(server: grpc.Server): GrpcServerCounts | undefined {
  const internals = server as unknown as ServerInternals;
  const { sessions, callTracker } = internals;
  const started = callTracker?.callsStarted;
  const succeeded = callTracker?.callsSucceeded;
  const failed = callTracker?.callsFailed;
  if (!(sessions instanceof Map) || typeof started !== 'number') return undefined;
  if (typeof succeeded !== 'number' || typeof failed !== 'number') return undefined;
  return { connections: sessions.size, streams: started - succeeded - failed };
}
