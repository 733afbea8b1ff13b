import { constants, type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from './logger.js';
import { OncePerSecond } from './once-per-second.js';
import { RateWindow } from './rate-window.js';

/** Per-connection bounds: what one connection may cost before it is closed (LIMITS has the defaults). */
export interface ConnectionPolicy {
  /** Calls of one connection refused at the gate within one second; one more and it is sent GOAWAY and closed. */
  maxRefusalsPerSecond: number;
  /** Streaming calls (health Watch, reflection) one connection may hold open; more are refused. */
  maxWatchesPerConnection: number;
  /** A connection that has not sent its HTTP/2 preface (SETTINGS) this long after it opened is closed. */
  prefaceTimeoutMs: number;
  /** After a connection is expelled, new connections from its address are on probation this long. */
  probationMs: number;
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS of a connection on probation: its streams past this are
   * refused by nghttp2 (REFUSED_STREAM, or GOAWAY once the setting is acknowledged) before
   * Node, grpc-js or the call gate see them; a client that honours the setting queues them.
   */
  probationStreams: number;
}

/** Where a call came from, as grpc-js's `getConnectionInfo()` and the session's socket both say it. */
export interface ConnectionAddress {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

export const connectionKey = (a: ConnectionAddress): string =>
  `${a.remoteAddress}|${a.remotePort}|${a.localAddress}|${a.localPort}`;

interface Connection {
  key: string;
  session: ServerHttp2Session;
  /** Its HTTP/2 preface (SETTINGS) has arrived. */
  started: boolean;
  /** Calls refused for its own fault, per second. */
  refusals: RateWindow;
  watches: number;
  expelled: boolean;
  /** What `peerOnce` worked out about the peer (its certificate), once per connection. */
  peer?: unknown;
}

export interface PoliceStats {
  /** Connections closed for too many refused calls. */
  readonly expelled: number;
  /** Connections closed for sending no HTTP/2 preface in time. */
  readonly silent: number;
  /** Connections accepted on probation (from an address one of whose connections was expelled). */
  readonly probation: number;
}

/** Addresses remembered for probation at once; past it the oldest is forgotten (an attacker with many addresses gains nothing from more). */
const MAX_OFFENDERS = 10_000;

/**
 * Connection-level policing. The call gate bounds what *all* callers may hold; without this, one
 * connection that floods the gate with calls it knows will be refused (headers only, watches past
 * the cap) still costs the server a call object, a refusal and a status per stream, all on the one
 * event loop the other clients need. Here a connection whose calls are refused more than
 * `maxRefusalsPerSecond` times in a second is sent GOAWAY (ENHANCE_YOUR_CALM) and closed, with
 * every stream it held: a flood costs about that many refusals per connection, then a connect.
 * A well-behaved client is refused only when the server is full, and then rarely this fast on
 * one connection. Also here: a cap on the streaming calls of one connection (so one connection
 * cannot take every watch slot), and closing connections that never start HTTP/2.
 */
export class ConnectionPolice {
  private readonly connections = new Map<string, Connection>();
  /** Remote address -> until when (performance.now() ms) its new connections are on probation. Oldest first. */
  private readonly offenders = new Map<string, number>();
  private readonly counts = { expelled: 0, silent: 0, probation: 0 };
  /** At most one log line a second for each kind of closing: a flood must not flood the log. */
  private readonly logOnce = new OncePerSecond();

  constructor(
    private readonly policy: ConnectionPolicy,
    private readonly logger: Logger,
  ) {}

  get maxWatchesPerConnection(): number {
    return this.policy.maxWatchesPerConnection;
  }

  get stats(): PoliceStats {
    return this.counts;
  }

  /** Follows the sessions of an HTTP/2 listener (grpc-js's, once bound), plaintext or TLS. */
  watch(listener: Http2Server | Http2SecureServer): void {
    listener.on('session', (session: ServerHttp2Session) => {
      const key = connectionKey(session.socket);
      const connection: Connection = {
        key,
        session,
        refusals: new RateWindow(),
        watches: 0,
        expelled: false,
        started: false,
      };
      this.connections.set(key, connection);
      if (this.onProbation(session.socket.remoteAddress)) {
        // Sent right behind the listener's own SETTINGS: nghttp2 applies the lower limit to the
        // streams it receives from now on, even before the client acknowledges it.
        session.settings({ maxConcurrentStreams: this.policy.probationStreams });
        this.counts.probation++;
        this.note(
          'probation',
          { probationStreams: this.policy.probationStreams, probation: this.counts.probation },
          'connection on probation: its address was expelled recently',
        );
      }
      session.once('remoteSettings', () => {
        connection.started = true;
      });
      session.once('close', () => {
        if (this.connections.get(key) === connection) this.connections.delete(key);
      });
    });
    // 'connection' is the TCP socket as it is accepted: for TLS before the handshake (the session
    // only comes after it), so one clock covers a handshake never finished and a preface never
    // sent. Node's own TLS handshake timeout is 120 s, and a plaintext socket has none.
    listener.on('connection', (socket: Socket) => {
      const key = connectionKey(socket);
      const silence = setTimeout(() => {
        const connection = this.connections.get(key);
        if (connection?.started === true) return;
        this.counts.silent++;
        this.note(
          'silent',
          { prefaceTimeoutMs: this.policy.prefaceTimeoutMs },
          'connection closed: no HTTP/2 preface',
        );
        // Neither session.destroy() nor socket.destroy() closes a socket whose HTTP/2 session never
        // started (Node 20 keeps the handle: no FIN, the fd stays); a reset does.
        socket.resetAndDestroy();
      }, this.policy.prefaceTimeoutMs);
      silence.unref();
      socket.once('close', () => clearTimeout(silence));
    });
  }

  /**
   * A call of this connection was refused for holding what others need (headers only, a stream
   * or snapshot read past its bound). Past the rate, the connection goes; true when it is gone.
   */
  refused(address: ConnectionAddress): boolean {
    const c = this.connections.get(connectionKey(address));
    if (c === undefined) return false;
    if (c.expelled) return true;
    if (c.refusals.add(performance.now()) <= this.policy.maxRefusalsPerSecond) return false;
    c.expelled = true;
    this.counts.expelled++;
    this.markOffender(c.session.socket?.remoteAddress);
    this.note(
      'expelled',
      { maxRefusalsPerSecond: this.policy.maxRefusalsPerSecond, expelled: this.counts.expelled },
      'connection closed: too many refused calls (GOAWAY ENHANCE_YOUR_CALM)',
    );
    this.close(c);
    return true;
  }

  /**
   * Closes a connection another guard judged (guessing-guard.ts: too many failed authentications),
   * the same way; counted and logged by that guard. False if the connection is not known (gone).
   */
  expel(address: ConnectionAddress): boolean {
    const c = this.connections.get(connectionKey(address));
    if (c === undefined) return false;
    if (!c.expelled) {
      c.expelled = true;
      this.close(c);
    }
    return true;
  }

  private close(c: Connection): void {
    // After the refusal on hand has been answered: destroying the session inside grpc-js's call
    // handling would pull the stream out from under it.
    // (session.destroy(err, code) sends GOAWAY NO_ERROR on Node 20: goaway() first says why.)
    setImmediate(() => {
      if (c.session.destroyed) return;
      c.session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      setImmediate(() => c.session.destroy());
    });
  }

  /**
   * What `compute` says about this connection's peer, worked out once per connection (computed
   * anew for a connection not tracked). For its TLS certificate: decoding it is ~30 us per call,
   * and it stays what the handshake checked for the connection's life (HTTP/2 forbids TLS
   * renegotiation, TLS 1.3 has none).
   */
  peerOnce<T>(address: ConnectionAddress, compute: () => T): T {
    const c = this.connections.get(connectionKey(address));
    if (c === undefined) return compute();
    if (c.peer === undefined) c.peer = compute();
    return c.peer as T;
  }

  /** A streaming call of this connection wants a slot; false past the per-connection cap. */
  acquireWatch(address: ConnectionAddress): boolean {
    const c = this.connections.get(connectionKey(address));
    if (c === undefined) return true;
    if (c.watches >= this.policy.maxWatchesPerConnection) return false;
    c.watches++;
    return true;
  }

  releaseWatch(address: ConnectionAddress): void {
    const c = this.connections.get(connectionKey(address));
    if (c !== undefined && c.watches > 0) c.watches--;
  }

  /**
   * A flood does not stop when its connection does: on loopback a new connection costs the
   * attacker one connect, and it starts over with a full stream allowance. So its address's next
   * connections start with `probationStreams`, refused past that in nghttp2 (C++), not one by one
   * in JavaScript. A legitimate client sharing the address (NAT) is not refused, only limited to
   * that many calls at once per connection for `probationMs`; connections open already are not touched.
   */
  private markOffender(address: string | undefined): void {
    if (address === undefined || this.policy.probationMs <= 0) return;
    this.offenders.delete(address);
    this.offenders.set(address, performance.now() + this.policy.probationMs);
    if (this.offenders.size > MAX_OFFENDERS) this.offenders.delete(this.offenders.keys().next().value!);
  }

  private onProbation(address: string | undefined): boolean {
    if (address === undefined) return false;
    const until = this.offenders.get(address);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.offenders.delete(address);
    return false;
  }

  private note(
    kind: 'expelled' | 'silent' | 'probation',
    fields: Record<string, unknown>,
    message: string,
  ): void {
    if (this.logOnce.take(kind) < 0) return;
    this.logger.warn(fields, message);
  }
}
