import { grpcTimeout } from './grpc-wire.js';
import { type H2Call, H2Connection, type UnaryAnswer } from './h2-connection.js';
import { type H2Endpoint, type H2Tls, h2Endpoint } from './h2-target.js';
import { encodeHeaderBlock } from './hpack.js';

export type { UnaryAnswer } from './h2-connection.js';
export { SERVER_TIME_KEY } from './h2-connection.js';

export interface H2ChannelOptions {
  maxResponseBytes: number;
  /** How often deadlines are checked: a call fails with DEADLINE_EXCEEDED at most this late. */
  deadlineTickMs: number;
  /** For an https:// authority: the CA to trust, and a client certificate for mTLS. */
  tls?: H2Tls | undefined;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string | undefined;
  /**
   * Highest stream id a connection uses before new calls move to a fresh one (HTTP/2 ids are
   * 31 bits: a client gets about a billion calls per connection). Lowered only by tests.
   */
  maxStreamId?: number | undefined;
}

/** Distinct deadlines kept pre-encoded per method before the cache starts over. */
const HEADER_CACHE_DEADLINES = 64;

/**
 * A lean unary gRPC client for the load generator's hot path, on the product's own HTTP/2
 * framing over one socket (h2-connection.ts): the request arrives framed, the header block is
 * encoded once per method and deadline, one stream per call, no per-call Metadata, stream
 * object or event listener. Deadlines travel as grpc-timeout (the server enforces them) and are
 * checked here on one coarse tick; a GOAWAY, a lost connection or running out of stream ids
 * moves new calls to a fresh connection while the old one drains.
 */
export class H2Channel {
  private current: H2Connection | undefined;
  private readonly live = new Set<H2Connection>();
  private endpoint: H2Endpoint;
  private ticker: NodeJS.Timeout | undefined;
  private readonly blocks = new Map<string, Map<number, Buffer>>();
  /** The last connection ended under calls in flight (they fail UNAVAILABLE). */
  lost = false;

  constructor(
    authority: string,
    readonly options: H2ChannelOptions,
  ) {
    this.endpoint = h2Endpoint(authority);
  }

  /** Points new calls at another address (a restarted server); calls in flight finish where they are. */
  retarget(target: string): void {
    this.endpoint = h2Endpoint(`${this.endpoint.secure ? 'https' : 'http'}://${target}`);
    this.blocks.clear();
    this.drop();
  }

  /** Opens the connection; rejects if it is not up within the timeout. */
  connect(timeoutMs: number): Promise<void> {
    const conn = this.open();
    const where = this.endpoint.path ?? this.endpoint.authority;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.destroy();
        reject(new Error(`cannot reach ledger at ${where}: no connection within ${timeoutMs}ms`));
      }, timeoutMs);
      conn.whenUp((err) => {
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(new Error(`cannot reach ledger at ${where}: ${err}`));
      });
    });
  }

  private open(): H2Connection {
    const c = this.current;
    if (c?.usable) return c;
    const conn = new H2Connection(this, this.endpoint, this.options);
    this.live.add(conn);
    this.current = conn;
    return conn;
  }

  private drop(): void {
    const old = this.current;
    this.current = undefined;
    old?.shutdown();
  }

  /** A connection stopped taking new calls (GOAWAY, ids used up, closed). */
  retire(conn: H2Connection): void {
    if (this.current === conn) this.current = undefined;
  }

  /** A connection's socket closed. */
  closed(conn: H2Connection, withCallsInFlight: boolean): void {
    this.live.delete(conn);
    this.retire(conn);
    if (withCallsInFlight) this.lost = true;
  }

  /** The request's header block for this method and deadline, encoded once. */
  headerBlock(path: string, deadlineMs: number): Buffer {
    let byDeadline = this.blocks.get(path);
    if (byDeadline === undefined) {
      byDeadline = new Map();
      this.blocks.set(path, byDeadline);
    }
    let block = byDeadline.get(deadlineMs);
    if (block === undefined) {
      if (byDeadline.size >= HEADER_CACHE_DEADLINES) byDeadline.clear();
      const fields: [string, string][] = [
        [':method', 'POST'],
        [':scheme', this.endpoint.secure ? 'https' : 'http'],
        [':path', path],
        [':authority', this.endpoint.authority],
        ['content-type', 'application/grpc'],
        ['te', 'trailers'],
        ['grpc-timeout', grpcTimeout(deadlineMs)],
      ];
      if (this.options.token !== undefined) fields.push(['authorization', `Bearer ${this.options.token}`]);
      block = encodeHeaderBlock(fields);
      byDeadline.set(deadlineMs, block);
    }
    return block;
  }

  /** One unary call; never rejects: every failure is an answer with its status code. */
  call(path: string, framed: Buffer, deadlineMs: number): Promise<UnaryAnswer> {
    return new Promise((resolve) => this.start(path, framed, deadlineMs, resolve));
  }

  /** One unary call answered through `done` (no promise); `done` runs exactly once. */
  start(path: string, framed: Buffer, deadlineMs: number, done: (answer: UnaryAnswer) => void): void {
    const call: H2Call = {
      id: 0,
      path,
      framed,
      deadlineMs,
      deadlineAt: performance.now() + deadlineMs,
      done,
      sent: 0,
      sendWindow: 0,
      blocked: false,
      resent: false,
      headerBlocks: 0,
      httpStatus: 0,
      code: -1,
      rawMessage: '',
      replayed: false,
      serverTimeUs: -1,
      rstCode: -1,
      body: undefined,
      moreBody: undefined,
      bytes: 0,
    };
    this.submit(call);
    if (this.ticker === undefined) {
      this.ticker = setInterval(() => this.checkDeadlines(), this.options.deadlineTickMs);
      this.ticker.unref();
    }
  }

  /** Starts a call on the current connection (a new one if none takes calls). */
  submit(call: H2Call): void {
    this.open().submit(call);
  }

  private checkDeadlines(): void {
    const now = performance.now();
    let inFlight = 0;
    for (const conn of this.live) inFlight += conn.expire(now);
    if (inFlight === 0) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  get inFlight(): number {
    let n = 0;
    for (const conn of this.live) n += conn.inFlight;
    return n;
  }

  /**
   * New calls open a fresh connection; calls in flight finish first (their deadlines still
   * checked, so a server that never answers cannot hold a socket open), then the sockets close.
   */
  close(): void {
    this.current = undefined;
    for (const conn of this.live) conn.shutdown();
  }
}
