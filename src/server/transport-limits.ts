import { constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { LIMITS } from '../domain/limits.js';
import type { ConnectionPolice } from './connection-police.js';
import { reserveFdTable } from './fd-table.js';
import type { Logger } from './logger.js';
import { OncePerSecond } from './once-per-second.js';
import { type PacerStats, paceSessionSetUp } from './session-pacer.js';

/** The connection-level bounds of a server; LIMITS has the defaults and README the reasons. */
export interface TransportLimits {
  /** Connections held at once per listening address; more are closed as they arrive. */
  maxConnections: number;
  /** HTTP/2 sessions set up per event-loop turn (session-pacer.ts); accepted connections beyond wait in a queue. */
  sessionsPerTurn: number;
  /** Accepted connections waiting for their session at once; more are closed as they arrive. */
  maxQueuedConnections: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: a client's further streams wait in its own queue. */
  maxStreamsPerConnection: number;
  /** Largest request header list (metadata), uncompressed bytes. */
  maxHeaderListBytes: number;
  connectionIdleMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxConnectionAgeMs: number;
  maxConnectionAgeGraceMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxConnections: LIMITS.defaultMaxConnections,
  sessionsPerTurn: LIMITS.defaultSessionsPerTurn,
  maxQueuedConnections: LIMITS.defaultMaxQueuedConnections,
  maxStreamsPerConnection: LIMITS.defaultMaxStreamsPerConnection,
  maxHeaderListBytes: LIMITS.defaultMaxHeaderListBytes,
  connectionIdleMs: LIMITS.defaultConnectionIdleMs,
  keepaliveTimeMs: LIMITS.defaultKeepaliveTimeMs,
  keepaliveTimeoutMs: LIMITS.defaultKeepaliveTimeoutMs,
  maxConnectionAgeMs: LIMITS.defaultMaxConnectionAgeMs,
  maxConnectionAgeGraceMs: LIMITS.defaultMaxConnectionAgeGraceMs,
};

/** The grpc-js server options that carry these limits (all checked against grpc-js 1.14's README). */
export function grpcTransportOptions(limits: TransportLimits): grpc.ServerOptions {
  return {
    'grpc.max_concurrent_streams': limits.maxStreamsPerConnection,
    'grpc.max_connection_idle_ms': limits.connectionIdleMs,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
  };
}

const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};
/** The largest grpc-timeout grpc-js's 32-bit deadline arithmetic and Node's timers hold exactly. */
const CAPPED_TIMEOUT = `${Math.floor(LIMITS.maxTimerMs / 1000)}S`;

/** grpc-timeout in ms (undefined when absent or malformed: grpc-js answers those itself). */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,8})\s*([HMSmun])$/.exec(value.trim());
  return match === null ? undefined : Number(match[1]) * UNIT_MS[match[2]!]!;
}

/**
 * A call deadline beyond what a timer holds (about 24.8 days) is capped to that: grpc-js computes
 * the server-side deadline in 32-bit arithmetic, so a 25-day deadline would expire after 1 ms
 * while the write it carries still commits.
 */
function capDeadline(headers: IncomingHttpHeaders): void {
  const ms = grpcTimeoutMs(headers['grpc-timeout']);
  if (ms !== undefined && ms > LIMITS.maxTimerMs) headers['grpc-timeout'] = CAPPED_TIMEOUT;
}

/** How long a client may keep its side of a stream open after the server has answered. */
const AFTER_ANSWER_GRACE_MS = 1_000;

/**
 * The server has answered (status sent) but the client never ended its side (a client that sent
 * headers only): the stream would stay allocated, counting against the connection's stream limit,
 * until the connection dies. Reset it shortly after the answer (the delay lets the trailers go out).
 */
function resetIfClientStillSending(stream: ServerHttp2Stream): void {
  if (stream.closed || stream.readableEnded) return;
  const timer = setTimeout(() => {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  }, AFTER_ANSWER_GRACE_MS);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

export interface ConnectionStats {
  /** Connections open now. */
  readonly open: number;
  /** Connections closed on arrival because the limit was reached. */
  readonly refused: number;
  /** Accepted connections waiting for their HTTP/2 session now (session-pacer.ts). */
  readonly queued: number;
  /** Connections closed on arrival because the queue of connections waiting for a session was full. */
  readonly shed: number;
}

/**
 * The bounds grpc-js has no option for, applied to its HTTP/2 listeners once bound: the connection
 * count (net.Server maxConnections), the header list size (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE),
 * and the deadline cap. grpc-js does not expose its listeners; this reads its `http2Servers` map
 * and fails loudly (at startup, in every test) if a grpc-js upgrade moves it.
 */
export function applyListenerLimits(
  server: grpc.Server,
  limits: TransportLimits,
  logger: Logger,
  police?: ConnectionPolice,
): ConnectionStats {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map) || listeners.size === 0) {
    throw new Error('grpc-js internals changed: no http2Servers map to apply connection limits to');
  }
  const counts = { open: 0, refused: 0 };
  const pacers: PacerStats[] = [];
  const stats: ConnectionStats = {
    get open() {
      return counts.open;
    },
    get refused() {
      return counts.refused;
    },
    get queued() {
      return pacers.reduce((sum, p) => sum + p.queued, 0);
    },
    get shed() {
      return pacers.reduce((sum, p) => sum + p.shed, 0);
    },
  };
  const logOnce = new OncePerSecond();
  for (const listener of listeners.keys() as IterableIterator<Http2Server>) {
    listener.maxConnections = limits.maxConnections;
    // First: it takes over the 'connection' listeners Node has put there, not the ones added below.
    pacers.push(
      paceSessionSetUp(listener, limits, () => {
        if (logOnce.take('shed') >= 0)
          logger.warn(
            { maxQueuedConnections: limits.maxQueuedConnections, shed: stats.shed },
            'connection refused: too many connections waiting for their HTTP/2 session',
          );
      }),
    );
    police?.watch(listener);
    listener.updateSettings({ maxHeaderListSize: limits.maxHeaderListBytes });
    listener.prependListener('stream', (stream, headers) => {
      capDeadline(headers);
      stream.once('finish', () => resetIfClientStillSending(stream));
    });
    listener.on('connection', (socket: NodeJS.EventEmitter) => {
      counts.open++;
      socket.once('close', () => counts.open--);
    });
    listener.on('drop', () => {
      counts.refused++;
      // One line a second at most: a flood of refused connections must not flood the log.
      if (logOnce.take('drop') >= 0)
        logger.warn(
          { maxConnections: limits.maxConnections, refused: counts.refused },
          'connection refused: too many connections',
        );
    });
  }
  // Now, before the event loop accepts anything: growing the table later sleeps in accept() (fd-table.ts).
  const wanted = Math.min(
    LIMITS.fdTableReserveMaxSlots,
    limits.maxConnections * listeners.size + LIMITS.fdTableHeadroomSlots,
  );
  const reserved = reserveFdTable(wanted);
  if (reserved?.stoppedBy !== undefined)
    logger.warn(
      { wanted, slots: reserved.slotsAfter, stoppedBy: reserved.stoppedBy },
      'the open-files limit is below what max-connections needs; raise it (ulimit -n) or lower --max-connections',
    );
  else if (reserved !== undefined)
    logger.debug(
      { slots: reserved.slotsAfter, before: reserved.slotsBefore, ms: reserved.ms },
      'descriptor table reserved',
    );
  return stats;
}
