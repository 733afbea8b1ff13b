import http2 from 'node:http2';
import {
  decodeGrpcMessage,
  grpcTimeout,
  Status,
  statusOfHttp,
  statusOfReset,
  unframeUnary,
} from './grpc-wire.js';
import { h2ConnectArgs } from './h2-target.js';

/** Trailer the ledger server sets on every answer: how long it handled the call, in microseconds. */
export const SERVER_TIME_KEY = 'ledger-server-time-us';
const REPLAYED_KEY = 'ledger-replayed';

/** What one unary call came back with. */
export interface UnaryAnswer {
  code: number;
  /** grpc-message, percent-decoded (empty on OK). */
  message: string;
  /** The response message (without its prefix) when the code is OK. */
  body: Buffer | undefined;
  replayed: boolean;
  /** The server's own handling time from its trailer; -1 when it sent none. */
  serverTimeUs: number;
}

export interface H2ChannelOptions {
  maxResponseBytes: number;
  /** How often deadlines are checked: a call fails with DEADLINE_EXCEEDED at most this late. */
  deadlineTickMs: number;
  /** For an https:// authority: the CA to trust, and a client certificate for mTLS. */
  tls?: { caPem?: Buffer | undefined; certPem?: Buffer | undefined; keyPem?: Buffer | undefined } | undefined;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string | undefined;
}

/** Per-call state, hung on its stream so the event handlers are shared functions, not closures. */
interface PendingCall {
  resolve: (answer: UnaryAnswer) => void;
  deadlineAt: number;
  chunks: Buffer[];
  bytes: number;
  httpStatus: number;
  code: number;
  message: string;
  replayed: boolean;
  serverTimeUs: number;
  /** Set when the client ended the call itself (deadline, oversized answer). */
  localCode: number;
  localMessage: string;
  channel: H2Channel;
}

const CALL = Symbol('ledgerctl.call');
type CallStream = http2.ClientHttp2Stream & { [CALL]: PendingCall };

function readStatus(call: PendingCall, headers: http2.IncomingHttpHeaders): void {
  const status = headers['grpc-status'];
  if (status !== undefined) {
    const code = Number(status);
    call.code = Number.isInteger(code) && code >= 0 ? code : Status.UNKNOWN;
    call.message = decodeGrpcMessage(headers['grpc-message'] as string | undefined);
  }
  if (headers[REPLAYED_KEY] === 'true') call.replayed = true;
  const serverTime = headers[SERVER_TIME_KEY];
  if (serverTime !== undefined) {
    const us = Number(serverTime);
    if (Number.isFinite(us) && us >= 0) call.serverTimeUs = us;
  }
}

function onResponse(this: CallStream, headers: http2.IncomingHttpHeaders): void {
  const call = this[CALL];
  call.httpStatus = Number(headers[':status'] ?? 0);
  // Trailers-only: an error answer has its status in the only HEADERS frame.
  readStatus(call, headers);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL];
  call.bytes += chunk.length;
  if (call.bytes > call.channel.options.maxResponseBytes) {
    endLocally(
      this,
      Status.RESOURCE_EXHAUSTED,
      `response larger than ${call.channel.options.maxResponseBytes} bytes`,
    );
    return;
  }
  call.chunks.push(chunk);
}

function onTrailers(this: CallStream, trailers: http2.IncomingHttpHeaders): void {
  readStatus(this[CALL], trailers);
}

function onError(): void {
  // 'close' follows every stream error and settles the call.
}

function onClose(this: CallStream): void {
  const call = this[CALL];
  call.channel.settled(this);
  let { code, message } = call;
  let body: Buffer | undefined;
  if (call.localCode >= 0) {
    code = call.localCode;
    message = call.localMessage;
  } else if (code < 0) {
    if (call.httpStatus !== 0 && call.httpStatus !== 200) {
      code = statusOfHttp(call.httpStatus);
      message = `HTTP status ${call.httpStatus} without grpc-status`;
    } else if (this.rstCode !== undefined && this.rstCode !== 0) {
      code = statusOfReset(this.rstCode);
      message = `stream reset by the server (HTTP/2 error ${this.rstCode})`;
    } else if (call.channel.lost) {
      code = Status.UNAVAILABLE;
      message = 'connection lost';
    } else {
      code = Status.INTERNAL;
      message = 'stream ended without grpc-status';
    }
  } else if (code === Status.OK) {
    const unframed = unframeUnary(call.chunks, call.bytes);
    if (typeof unframed === 'string') {
      code = Status.INTERNAL;
      message = unframed;
    } else body = unframed;
  }
  call.resolve({ code, message, body, replayed: call.replayed, serverTimeUs: call.serverTimeUs });
}

function endLocally(stream: CallStream, code: number, message: string): void {
  const call = stream[CALL];
  if (call.localCode >= 0) return;
  call.localCode = code;
  call.localMessage = message;
  stream.close(http2.constants.NGHTTP2_CANCEL);
}

/**
 * A lean unary gRPC client on node:http2 for the load generator's hot path: the request arrives
 * framed, one stream per call, no per-call Metadata or interceptor chain. Deadlines travel as
 * grpc-timeout (the server enforces them) and are checked here on one coarse tick; a GOAWAY or a
 * lost connection moves new calls to a fresh connection while the old one drains; HTTP/2 flow
 * control is node's (a consumed DATA chunk is acknowledged by WINDOW_UPDATE).
 */
export class H2Channel {
  private session: http2.ClientHttp2Session | undefined;
  private readonly pending = new Set<CallStream>();
  private ticker: NodeJS.Timeout | undefined;
  private readonly headers = new Map<string, http2.OutgoingHttpHeaders>();
  /** The last connection ended under calls in flight (they fail UNAVAILABLE). */
  lost = false;

  constructor(
    private authority: string,
    readonly options: H2ChannelOptions,
  ) {}

  /** Points new calls at another address (a restarted server); calls in flight finish where they are. */
  retarget(target: string): void {
    this.authority = `http://${target}`;
    this.drop();
  }

  /** Opens the connection; rejects if it is not up within the timeout. */
  connect(timeoutMs: number): Promise<void> {
    const session = this.open();
    if (!session.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy();
        reject(
          new Error(
            `cannot reach ledger at ${this.authority.replace(/^https?:\/\//, '')}: no connection within ${timeoutMs}ms`,
          ),
        );
      }, timeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      session.once('close', () => {
        clearTimeout(timer);
        reject(
          new Error(
            `cannot reach ledger at ${this.authority.replace(/^https?:\/\//, '')}: connection refused or closed`,
          ),
        );
      });
    });
  }

  private open(): http2.ClientHttp2Session {
    if (this.session !== undefined && !this.session.closed && !this.session.destroyed) return this.session;
    const tls = this.options.tls;
    const { url, createConnection } = h2ConnectArgs(this.authority, tls);
    const session = http2.connect(url, {
      maxSessionMemory: 64,
      settings: { enablePush: false, initialWindowSize: 1 << 20 },
      ...(tls === undefined ? {} : { ca: tls.caPem, cert: tls.certPem, key: tls.keyPem }),
      ...(createConnection === undefined ? {} : { createConnection }),
    });
    session.on('error', () => {});
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
      this.lost = true;
    });
    this.lost = false;
    this.session = session;
    return session;
  }

  private drop(): void {
    const old = this.session;
    this.session = undefined;
    old?.close();
  }

  private headersFor(path: string, deadlineMs: number): http2.OutgoingHttpHeaders {
    const key = `${path} ${deadlineMs}`;
    let headers = this.headers.get(key);
    if (headers === undefined) {
      headers = {
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': grpcTimeout(deadlineMs),
        ...(this.options.token === undefined ? {} : { authorization: `Bearer ${this.options.token}` }),
      };
      this.headers.set(key, headers);
    }
    return headers;
  }

  /** One unary call; never rejects: every failure is an answer with its status code. */
  call(path: string, framed: Buffer, deadlineMs: number): Promise<UnaryAnswer> {
    return new Promise((resolve) => {
      let stream: CallStream;
      try {
        stream = this.open().request(this.headersFor(path, deadlineMs), { endStream: false }) as CallStream;
      } catch (err) {
        this.drop();
        resolve({
          code: Status.UNAVAILABLE,
          message: `cannot start a call: ${(err as Error).message}`,
          body: undefined,
          replayed: false,
          serverTimeUs: -1,
        });
        return;
      }
      stream[CALL] = {
        resolve,
        deadlineAt: performance.now() + deadlineMs,
        chunks: [],
        bytes: 0,
        httpStatus: 0,
        code: -1,
        message: '',
        replayed: false,
        serverTimeUs: -1,
        localCode: -1,
        localMessage: '',
        channel: this,
      };
      stream.on('response', onResponse);
      stream.on('data', onData);
      stream.on('trailers', onTrailers);
      stream.on('error', onError);
      stream.on('close', onClose);
      stream.end(framed);
      this.pending.add(stream);
      if (this.ticker === undefined) {
        this.ticker = setInterval(() => this.checkDeadlines(), this.options.deadlineTickMs);
        this.ticker.unref();
      }
    });
  }

  /** A call's stream closed: it no longer needs its deadline checked. */
  settled(stream: http2.ClientHttp2Stream): void {
    this.pending.delete(stream as CallStream);
  }

  private checkDeadlines(): void {
    const now = performance.now();
    for (const stream of this.pending) {
      if (stream.closed || stream.destroyed) {
        this.pending.delete(stream);
        continue;
      }
      if (stream[CALL].deadlineAt <= now) endLocally(stream, Status.DEADLINE_EXCEEDED, 'deadline exceeded');
    }
    if (this.pending.size === 0) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.session?.close();
    this.session = undefined;
  }
}
