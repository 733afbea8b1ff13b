import type { Server as NetServer, Socket } from 'node:net';

/** How fast a listener turns accepted connections into HTTP/2 sessions (LIMITS has the defaults). */
export interface SessionPacing {
  /** Sessions (for TLS: TLS sockets) set up per event-loop turn; the rest wait for the next turn. */
  sessionsPerTurn: number;
  /** Connections that have spoken and wait for their session, at once; one more is closed. */
  maxQueuedConnections: number;
}

export interface PacerStats {
  /** Connections that have spoken and wait for their session now. */
  readonly queued: number;
  /** Connections closed because the queue was full. */
  readonly shed: number;
}

type ConnectionListener = (this: NetServer, socket: Socket) => void;

/**
 * Sets up a connection's HTTP/2 session (for TLS: its TLS socket) only once the client has sent
 * its first bytes, and then at most `sessionsPerTurn` per event-loop turn, in arrival order.
 *
 * First bytes: Node's HTTP/2 listener sets up a session for every accepted socket at once: an
 * nghttp2 session and its SETTINGS, grpc-js's timers and bookkeeping. Measured in-process with
 * 1,000 connections that never speak: ~190 us of CPU, ~6.5 KB of heap and ~27 KB of RSS each, and
 * the heap they leave behind cost scavenges and mark-compacts of 10-30 ms while established
 * clients' calls waited: the idle-connection flood of issue 10. A client speaks first in HTTP/2
 * (its preface; RFC 9113 3.4 lets it send at once, without waiting for the server's) and in TLS
 * (ClientHello), so nothing is lost by waiting for that: a connection that never speaks costs only
 * the socket Node has already made (~50 us, ~2 KB of heap, ~1 KB of RSS), until the connection
 * police's preface timeout resets it. What arrives meanwhile stays in the socket's buffer: Node's
 * HTTP/2 session and TLS socket both start by reading what is buffered.
 *
 * Pacing: Node accepts one connection per event-loop turn, so arrivals are spread already; but
 * connections accepted earlier that all speak at once (idle connections woken together) are read
 * in one poll phase and would all be set up in that turn. They wait in a queue instead, drained
 * from setImmediate a few per turn, so the I/O of established connections is polled in between.
 *
 * Node's own 'connection' listeners (the HTTP/2 connection listener, or for TLS the one that
 * starts the handshake) are taken off the listener and called from the queue. Listeners added
 * after this (the connection police's preface clock, the connection count) still run on arrival,
 * so time spent waiting counts toward the preface timeout. A waiting socket that is closed
 * meanwhile (preface timeout, client gone) is skipped; once the listener stops listening
 * (shutdown), waiting ones are closed instead of being given sessions nobody would close.
 */
export function paceSessionSetUp(listener: NetServer, pacing: SessionPacing, onShed: () => void): PacerStats {
  if (!(pacing.sessionsPerTurn >= 1) || !(pacing.maxQueuedConnections >= 0)) {
    throw new Error('session pacing needs sessionsPerTurn >= 1 and maxQueuedConnections >= 0');
  }
  const setUp = listener.listeners('connection') as ConnectionListener[];
  if (setUp.length === 0)
    throw new Error('node internals changed: the listener has no connection listener to pace');
  listener.removeAllListeners('connection');

  // Drained from the front sessionsPerTurn at a time: an array with a head index, compacted now and then.
  let queue: Socket[] = [];
  let head = 0;
  let scheduled = false;
  const stats = { queued: 0, shed: 0 };

  const drain = (): void => {
    scheduled = false;
    let budget = pacing.sessionsPerTurn;
    while (budget > 0 && head < queue.length) {
      const socket = queue[head]!;
      queue[head++] = undefined as unknown as Socket;
      if (socket.destroyed) continue;
      if (!listener.listening) {
        socket.destroy();
        continue;
      }
      budget--;
      // From here Node's own listeners handle the socket's errors, as they did before pacing.
      socket.off('error', onWaitingError);
      for (const f of setUp) f.call(listener, socket);
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 1_024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    stats.queued = queue.length - head;
    if (stats.queued > 0) schedule();
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  const admit = (socket: Socket): void => {
    if (queue.length - head >= pacing.maxQueuedConnections) {
      stats.shed++;
      socket.destroy();
      onShed();
      return;
    }
    queue.push(socket);
    stats.queued = queue.length - head;
    schedule();
  };
  // One function for every socket (no closure per connection): `this` is the socket.
  // A socket with no 'error' listener throws its error (a client's RST, ECONNRESET) out of the
  // event loop, which would end the process; Node's own listeners would have attached one on arrival.
  function onWaitingError(this: Socket): void {
    this.destroy();
  }
  function onFirstBytes(this: Socket): void {
    this.off('readable', onFirstBytes);
    // 'readable' with nothing buffered is the end of the stream: the client left without a word.
    if (this.readableLength === 0) this.destroy();
    else admit(this);
  }

  listener.on('connection', (socket: Socket) => {
    socket.on('error', onWaitingError);
    if (socket.readableLength > 0) admit(socket);
    else socket.on('readable', onFirstBytes);
  });
  return stats;
}
