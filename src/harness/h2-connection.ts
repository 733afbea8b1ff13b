import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { decodeGrpcMessage, Status, statusOfHttp, statusOfReset } from './grpc-wire.js';
import type { H2ChannelOptions } from './h2-channel.js';
import { CONNECTION_PREFACE, type FrameHandler, H2, H2FrameReader, H2FrameWriter } from './h2-frames.js';
import { type H2Endpoint, openH2Socket } from './h2-target.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { type HeaderSink, HpackDecoder } from './hpack.js';

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

/** One call's state: a plain record, created once per call; the frames refer to it by stream id. */
export interface H2Call {
  id: number;
  path: string;
  framed: Buffer;
  deadlineMs: number;
  deadlineAt: number;
  done: (answer: UnaryAnswer) => void;
  /** Request bytes sent so far, and what the server's window for this stream still allows. */
  sent: number;
  sendWindow: number;
  blocked: boolean;
  /** Already moved once to another connection (it was above a GOAWAY's last stream id). */
  resent: boolean;
  headerBlocks: number;
  httpStatus: number;
  code: number;
  rawMessage: string;
  replayed: boolean;
  serverTimeUs: number;
  rstCode: number;
  body: Buffer | undefined;
  moreBody: Buffer[] | undefined;
  bytes: number;
}

/** The channel a connection belongs to: where calls it cannot keep go, and who hears it close. */
interface ConnectionOwner {
  submit(call: H2Call): void;
  retire(conn: H2Connection): void;
  closed(conn: H2Connection, withCallsInFlight: boolean): void;
  headerBlock(path: string, deadlineMs: number): Buffer;
}

const {
  DATA,
  HEADERS,
  RST_STREAM,
  SETTINGS,
  PUSH_PROMISE,
  PING,
  GOAWAY,
  WINDOW_UPDATE,
  CONTINUATION,
  END_STREAM,
  ACK,
  END_HEADERS,
  PADDED,
  PRIORITY_FLAG: PRIORITY,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE,
  NO_ERROR,
  PROTOCOL_ERROR,
  FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR,
  REFUSED_STREAM,
  CANCEL,
  COMPRESSION_ERROR,
  MAX_WINDOW,
} = H2;
/** The frame size we accept (the protocol's default; we never raise it). */
const MAX_FRAME_IN = H2.DEFAULT_MAX_FRAME;
const MAX_HEADER_BLOCK_BYTES = HARNESS_LIMITS.leanMaxHeaderBlockBytes;
/** Our connection window, opened up front; received DATA is acknowledged once half of it has arrived. */
const CONNECTION_WINDOW = HARNESS_LIMITS.leanConnectionWindowBytes;
const WINDOW_REFILL = CONNECTION_WINDOW / 2;

const IGNORE: HeaderSink = { header() {} };

class CallHeaders implements HeaderSink {
  call: H2Call | undefined;
  header(name: string, value: string): void {
    const call = this.call!;
    switch (name) {
      case ':status':
        call.httpStatus = Number(value);
        return;
      case 'grpc-status': {
        const code = Number(value);
        call.code = Number.isInteger(code) && code >= 0 ? code : Status.UNKNOWN;
        return;
      }
      case 'grpc-message':
        call.rawMessage = value;
        return;
      case REPLAYED_KEY:
        if (value === 'true') call.replayed = true;
        return;
      case SERVER_TIME_KEY: {
        const us = Number(value);
        if (Number.isFinite(us) && us >= 0) call.serverTimeUs = us;
        return;
      }
    }
  }
}
const sink = new CallHeaders();

/** The answer a finished call resolves with. */
function answerOf(
  call: H2Call,
  lostMessage: string | undefined,
  localCode: number,
  localMessage: string,
): UnaryAnswer {
  let code = call.code;
  let message = '';
  let body: Buffer | undefined;
  if (localCode >= 0) {
    code = localCode;
    message = localMessage;
  } else if (code < 0) {
    if (call.httpStatus !== 0 && call.httpStatus !== 200) {
      code = statusOfHttp(call.httpStatus);
      message = `HTTP status ${call.httpStatus} without grpc-status`;
    } else if (call.rstCode > 0) {
      code = statusOfReset(call.rstCode);
      message = `stream reset by the server (HTTP/2 error ${call.rstCode})`;
    } else if (lostMessage !== undefined) {
      code = Status.UNAVAILABLE;
      message = lostMessage;
    } else {
      code = Status.INTERNAL;
      message = 'stream ended without grpc-status';
    }
  } else if (code === Status.OK) {
    const data =
      call.moreBody === undefined ? call.body : Buffer.concat([call.body!, ...call.moreBody], call.bytes);
    if (data === undefined || data.length < 5) {
      code = Status.INTERNAL;
      message = `response body of ${data?.length ?? 0} bytes is not a gRPC message`;
    } else if (data[0] !== 0) {
      code = Status.INTERNAL;
      message = 'compressed response without a negotiated encoding';
    } else if (data.readUInt32BE(1) + 5 !== data.length) {
      code = Status.INTERNAL;
      message = `response frame of ${data.readUInt32BE(1)} bytes in a body of ${data.length - 5}`;
    } else body = data.subarray(5);
  } else message = decodeGrpcMessage(call.rawMessage);
  return { code, message, body, replayed: call.replayed, serverTimeUs: call.serverTimeUs };
}

/**
 * One HTTP/2 connection of the lean caller (RFC 9113, client side, unary gRPC calls only):
 * preface and SETTINGS, HEADERS (+ CONTINUATION) and DATA out within the server's flow-control
 * windows and stream limit, frames in parsed by offset from the socket's chunks, responses'
 * header blocks through one HPACK decoder, PING answered, GOAWAY and RST_STREAM honoured.
 * Our receive windows are opened to the maximum up front (a response is bounded by
 * maxResponseBytes instead), so the server never waits on us for WINDOW_UPDATE.
 */
export class H2Connection {
  private readonly socket: Socket | TLSSocket;
  private readonly streams = new Map<number, H2Call>();
  private readonly waiting: H2Call[] = [];
  private blockedCalls: H2Call[] = [];
  private readonly decoder = new HpackDecoder();
  private nextId = 1;
  private readonly maxStreamId: number;
  /** The server's first SETTINGS has arrived: it speaks HTTP/2, and its stream limit is known. */
  private up = false;
  private ended = false;
  private draining = false;
  private lostMessage: string | undefined;
  private upWaiters: ((err?: string) => void)[] = [];
  // What the server allows us.
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private peerInitialWindow = 65_535;
  private peerMaxFrame = 16_384;
  private sendWindow = 65_535;
  // Received DATA not yet acknowledged.
  private unacked = 0;
  // Input: frames cut from the socket's chunks, and a header block split over CONTINUATION.
  private readonly reader = new H2FrameReader(MAX_FRAME_IN);
  private readonly onFrame: FrameHandler = (buf, type, flags, id, start, end) => {
    this.frame(buf, type, flags, id, start, end);
    return !this.ended;
  };
  private blockStream = 0;
  private blockFlags = 0;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;
  private readonly w: H2FrameWriter;

  constructor(
    private readonly owner: ConnectionOwner,
    endpoint: H2Endpoint,
    private readonly options: H2ChannelOptions,
  ) {
    this.maxStreamId = options.maxStreamId ?? MAX_WINDOW;
    const socket = openH2Socket(endpoint, options.tls);
    this.socket = socket;
    this.w = new H2FrameWriter(socket);
    socket.setNoDelay(true);
    socket.on(endpoint.secure ? 'secureConnect' : 'connect', () => {
      if (endpoint.secure && (socket as TLSSocket).alpnProtocol !== 'h2') {
        this.lostMessage = 'the server did not agree to HTTP/2 (ALPN)';
        socket.destroy();
        return;
      }
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.lostMessage ??= `connection lost: ${err.message}`;
    });
    socket.on('close', () => this.onClose());
    // Preface, our SETTINGS (no push; per-stream windows at the maximum) and the connection window opened wide.
    const w = this.w;
    const preface = w.reserve(CONNECTION_PREFACE.length);
    CONNECTION_PREFACE.copy(w.out, preface);
    let at = w.frame(12, SETTINGS, 0, 0);
    w.out.writeUInt16BE(SETTINGS_ENABLE_PUSH, at);
    w.out.writeUInt32BE(0, at + 2);
    w.out.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, at + 6);
    w.out.writeUInt32BE(MAX_WINDOW, at + 8);
    at = w.frame(4, WINDOW_UPDATE, 0, 0);
    w.out.writeUInt32BE(CONNECTION_WINDOW - 65_535, at);
  }

  /** Takes new calls: not draining (GOAWAY, shut down), not closed, stream ids left. */
  get usable(): boolean {
    return !this.draining && !this.ended && this.nextId <= this.maxStreamId;
  }

  get inFlight(): number {
    return this.streams.size + this.waiting.length;
  }

  /** Calls back once the socket is connected (no argument) or has failed (the reason). */
  whenUp(cb: (err?: string) => void): void {
    if (this.up) cb();
    else if (this.ended) cb(this.lostMessage ?? 'connection closed');
    else this.upWaiters.push(cb);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** No new calls; the socket closes (GOAWAY first) once the calls in flight are answered. */
  shutdown(): void {
    this.draining = true;
    this.owner.retire(this);
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (!this.draining || this.ended || this.inFlight > 0) return;
    this.goaway(NO_ERROR);
    this.w.close();
    this.socket.end();
  }

  submit(call: H2Call): void {
    if (!this.usable) {
      this.owner.submit(call);
      return;
    }
    if (!this.up || this.streams.size >= this.peerMaxStreams) this.waiting.push(call);
    else this.begin(call);
  }

  private begin(call: H2Call): void {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > this.maxStreamId) {
      // Ids used up: this is the connection's last stream; the next call opens a new connection.
      this.draining = true;
      this.owner.retire(this);
    }
    call.id = id;
    call.sendWindow = this.peerInitialWindow;
    this.streams.set(id, call);
    const block = this.owner.headerBlock(call.path, call.deadlineMs);
    const max = this.peerMaxFrame;
    if (block.length <= max) {
      this.w.bytesFrame(HEADERS, END_HEADERS, id, block);
    } else {
      for (let from = 0; from < block.length; from += max) {
        const n = Math.min(max, block.length - from);
        const last = from + n === block.length;
        const at = this.w.frame(n, from === 0 ? HEADERS : CONTINUATION, last ? END_HEADERS : 0, id);
        block.copy(this.w.out, at, from, from + n);
      }
    }
    this.sendData(call);
  }

  /** Sends what the windows allow of the request; the rest waits for WINDOW_UPDATE. */
  private sendData(call: H2Call): void {
    const framed = call.framed;
    while (call.sent < framed.length) {
      const n = Math.min(framed.length - call.sent, this.peerMaxFrame, call.sendWindow, this.sendWindow);
      if (n <= 0) {
        if (!call.blocked) {
          call.blocked = true;
          this.blockedCalls.push(call);
        }
        return;
      }
      const last = call.sent + n === framed.length;
      const at = this.w.frame(n, DATA, last ? END_STREAM : 0, call.id);
      framed.copy(this.w.out, at, call.sent, call.sent + n);
      call.sent += n;
      call.sendWindow -= n;
      this.sendWindow -= n;
    }
  }

  private unblock(): void {
    if (this.blockedCalls.length === 0) return;
    const calls = this.blockedCalls;
    this.blockedCalls = [];
    for (const call of calls) {
      call.blocked = false;
      if (this.streams.get(call.id) === call) this.sendData(call);
    }
  }

  /** Fails calls past their deadline; returns how many are still in flight. */
  expire(now: number): number {
    for (const call of this.streams.values()) {
      if (call.deadlineAt <= now) this.cancel(call, Status.DEADLINE_EXCEEDED, 'deadline exceeded');
    }
    for (let i = 0; i < this.waiting.length; i++) {
      const call = this.waiting[i]!;
      if (call.deadlineAt > now) continue;
      this.waiting.splice(i--, 1);
      call.done(answerOf(call, undefined, Status.DEADLINE_EXCEEDED, 'deadline exceeded'));
    }
    return this.inFlight;
  }

  /** Ends a call from our side (deadline, oversized answer): RST_STREAM(CANCEL) and the local status. */
  private cancel(call: H2Call, code: number, message: string): void {
    this.streams.delete(call.id);
    this.rstStream(call.id, CANCEL);
    call.done(answerOf(call, undefined, code, message));
    this.streamClosed();
  }

  // ---- output ----

  private rstStream(id: number, code: number): void {
    this.w.u32Frame(RST_STREAM, 0, id, code);
  }

  private goaway(code: number): void {
    const at = this.w.frame(8, GOAWAY, 0, 0);
    this.w.out.writeUInt32BE(0, at);
    this.w.out.writeUInt32BE(code, at + 4);
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    const tooLong = this.reader.read(chunk, this.onFrame);
    if (tooLong >= 0)
      this.connectionError(FRAME_SIZE_ERROR, `frame of ${tooLong} bytes above the ${MAX_FRAME_IN} we allow`);
  }

  private frame(
    buf: Buffer,
    type: number,
    flags: number,
    streamId: number,
    start: number,
    end: number,
  ): void {
    if (this.blockStream !== 0 && type !== CONTINUATION) {
      this.connectionError(PROTOCOL_ERROR, 'a header block was interrupted by another frame');
      return;
    }
    switch (type) {
      case DATA:
        this.onDataFrame(buf, flags, streamId, start, end);
        return;
      case HEADERS: {
        if (streamId === 0) {
          this.connectionError(PROTOCOL_ERROR, 'HEADERS on stream 0');
          return;
        }
        let s = start;
        let e = end;
        if (flags & PADDED) {
          if (e - s < 1) {
            this.connectionError(PROTOCOL_ERROR, 'HEADERS padding without a length');
            return;
          }
          e -= buf[s++]!;
        }
        if (flags & PRIORITY) s += 5;
        if (e < s) {
          this.connectionError(PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
          return;
        }
        if (flags & END_HEADERS) {
          this.headerBlock(streamId, flags, buf, s, e);
          return;
        }
        this.blockStream = streamId;
        this.blockFlags = flags;
        this.blockParts = [buf.subarray(s, e)];
        this.blockBytes = e - s;
        return;
      }
      case CONTINUATION: {
        if (this.blockStream === 0 || streamId !== this.blockStream) {
          this.connectionError(PROTOCOL_ERROR, 'CONTINUATION without its HEADERS');
          return;
        }
        this.blockParts.push(buf.subarray(start, end));
        this.blockBytes += end - start;
        if (this.blockBytes > MAX_HEADER_BLOCK_BYTES) {
          this.connectionError(PROTOCOL_ERROR, `header block above ${MAX_HEADER_BLOCK_BYTES} bytes`);
          return;
        }
        if (flags & END_HEADERS) {
          const block = Buffer.concat(this.blockParts, this.blockBytes);
          this.blockStream = 0;
          this.blockParts = [];
          this.headerBlock(streamId, this.blockFlags, block, 0, block.length);
        }
        return;
      }
      case RST_STREAM: {
        if (end - start !== 4) {
          this.connectionError(FRAME_SIZE_ERROR, 'RST_STREAM of a wrong size');
          return;
        }
        const call = this.streams.get(streamId);
        if (call === undefined) return;
        call.rstCode = buf.readUInt32BE(start);
        if (call.rstCode === REFUSED_STREAM) {
          // Refused before any processing: safe to send again, once, on the next connection.
          this.streams.delete(call.id);
          this.moveOrFail(call, 'the server refused the stream (REFUSED_STREAM)');
          this.streamClosed();
        } else this.finish(call);
        return;
      }
      case SETTINGS:
        this.onSettings(buf, flags, streamId, start, end);
        return;
      case PUSH_PROMISE: {
        this.connectionError(PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
        return;
      }
      case PING: {
        if (end - start !== 8) {
          this.connectionError(FRAME_SIZE_ERROR, 'PING of a wrong size');
          return;
        }
        if (flags & ACK) return;
        this.w.bytesFrame(PING, ACK, 0, buf, start, end);
        return;
      }
      case GOAWAY: {
        if (end - start < 8) {
          this.connectionError(FRAME_SIZE_ERROR, 'GOAWAY too short');
          return;
        }
        this.onGoaway(buf.readUInt32BE(start) & 0x7fffffff, buf.readUInt32BE(start + 4));
        return;
      }
      case WINDOW_UPDATE: {
        if (end - start !== 4) {
          this.connectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE of a wrong size');
          return;
        }
        const increment = buf.readUInt32BE(start) & 0x7fffffff;
        if (increment === 0) {
          this.connectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
          return;
        }
        if (streamId === 0) {
          this.sendWindow += increment;
          if (this.sendWindow > MAX_WINDOW) {
            this.connectionError(FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
            return;
          }
        } else {
          const call = this.streams.get(streamId);
          if (call === undefined) return;
          call.sendWindow += increment;
        }
        this.unblock();
        return;
      }
      default:
      // PRIORITY and unknown frame types are ignored.
    }
  }

  private onDataFrame(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (streamId === 0) {
      this.connectionError(PROTOCOL_ERROR, 'DATA on stream 0');
      return;
    }
    // Everything received counts against our connection window, padding included.
    this.unacked += end - start;
    if (this.unacked >= WINDOW_REFILL) {
      this.w.u32Frame(WINDOW_UPDATE, 0, 0, this.unacked);
      this.unacked = 0;
    }
    let e = end;
    let s = start;
    if (flags & PADDED) {
      if (e - s < 1) {
        this.connectionError(PROTOCOL_ERROR, 'DATA padding without a length');
        return;
      }
      e -= buf[s++]!;
      if (e < s) {
        this.connectionError(PROTOCOL_ERROR, 'DATA padding longer than the frame');
        return;
      }
    }
    const call = this.streams.get(streamId);
    if (call === undefined) return; // a call we already ended (deadline, reset)
    if (call.headerBlocks === 0) {
      // DATA before the response's HEADERS: a stream error (RFC 9113 8.1); the call's outcome is unknown.
      this.streams.delete(call.id);
      this.rstStream(call.id, PROTOCOL_ERROR);
      call.done(answerOf(call, undefined, Status.INTERNAL, 'response DATA before its HEADERS'));
      this.streamClosed();
      return;
    }
    if (e > s) {
      call.bytes += e - s;
      if (call.bytes > this.options.maxResponseBytes) {
        this.cancel(
          call,
          Status.RESOURCE_EXHAUSTED,
          `response larger than ${this.options.maxResponseBytes} bytes`,
        );
        return;
      }
      const piece = buf.subarray(s, e);
      if (call.body === undefined) call.body = piece;
      else if (call.moreBody === undefined) call.moreBody = [piece];
      else call.moreBody.push(piece);
    }
    if (flags & END_STREAM) this.finish(call);
  }

  private headerBlock(streamId: number, flags: number, buf: Buffer, start: number, end: number): void {
    const call = this.streams.get(streamId);
    sink.call = call;
    try {
      // Decoded even for a call already ended: the dynamic table must see every block.
      this.decoder.decode(buf, start, end, call === undefined ? IGNORE : sink);
    } catch (err) {
      this.connectionError(COMPRESSION_ERROR, (err as Error).message);
      return;
    } finally {
      sink.call = undefined;
    }
    if (call === undefined) return;
    call.headerBlocks++;
    if (flags & END_STREAM) this.finish(call);
  }

  private onSettings(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (streamId !== 0) {
      this.connectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
      return;
    }
    if (flags & ACK) return;
    if ((end - start) % 6 !== 0) {
      this.connectionError(FRAME_SIZE_ERROR, 'SETTINGS of a wrong size');
      return;
    }
    for (let p = start; p < end; p += 6) {
      const id = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      switch (id) {
        case SETTINGS_MAX_CONCURRENT_STREAMS:
          this.peerMaxStreams = value;
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) {
            this.connectionError(FLOW_CONTROL_ERROR, 'initial window above 2^31-1');
            return;
          }
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const call of this.streams.values()) call.sendWindow += delta;
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < 16_384 || value > 16_777_215) {
            this.connectionError(PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
            return;
          }
          this.peerMaxFrame = value;
          break;
        default:
        // HEADER_TABLE_SIZE: our encoder never indexes; the others do not concern a client.
      }
    }
    this.w.frame(0, SETTINGS, ACK, 0);
    if (!this.up) {
      this.up = true;
      for (const w of this.upWaiters.splice(0)) w();
    }
    this.unblock();
    this.startWaiting();
  }

  /**
   * The server is going away: calls above its last stream id were never processed and move (once)
   * to a new connection; the others finish here, and the socket closes when they have.
   */
  private onGoaway(lastStreamId: number, code: number): void {
    this.draining = true;
    this.owner.retire(this);
    if (code !== NO_ERROR)
      this.lostMessage = `the server closed the connection (GOAWAY, HTTP/2 error ${code})`;
    for (const call of this.streams.values()) {
      if (call.id <= lastStreamId) continue;
      this.streams.delete(call.id);
      this.moveOrFail(call, 'the server went away before processing the call (GOAWAY)');
    }
    for (const call of this.waiting.splice(0)) this.owner.submit(call);
    this.closeIfIdle();
  }

  private moveOrFail(call: H2Call, why: string): void {
    if (call.resent) {
      call.done(answerOf(call, undefined, Status.UNAVAILABLE, why));
      return;
    }
    call.resent = true;
    call.sent = 0;
    call.blocked = false;
    call.headerBlocks = 0;
    call.httpStatus = 0;
    call.code = -1;
    call.rawMessage = '';
    call.replayed = false;
    call.serverTimeUs = -1;
    call.rstCode = -1;
    call.body = undefined;
    call.moreBody = undefined;
    call.bytes = 0;
    this.owner.submit(call);
  }

  // ---- ending ----

  /** The server ended the call (END_STREAM or RST_STREAM). */
  private finish(call: H2Call): void {
    this.streams.delete(call.id);
    // The server answered before taking the whole request: our half is closed by a reset.
    if (call.sent < call.framed.length && call.rstCode < 0) this.rstStream(call.id, CANCEL);
    call.done(answerOf(call, undefined, -1, ''));
    this.streamClosed();
  }

  private streamClosed(): void {
    this.startWaiting();
    this.closeIfIdle();
  }

  private startWaiting(): void {
    while (this.up && this.waiting.length > 0 && this.streams.size < this.peerMaxStreams) {
      if (!this.usable) {
        // Never sent: they go to the channel's next connection.
        for (const call of this.waiting.splice(0)) this.owner.submit(call);
        return;
      }
      this.begin(this.waiting.shift()!);
    }
  }

  /** A protocol error by the server: GOAWAY with the code, and the connection is dropped. */
  private connectionError(code: number, message: string): void {
    if (this.ended) return;
    this.lostMessage = `HTTP/2 protocol error from the server: ${message}`;
    this.goaway(code);
    this.w.close();
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (this.ended) return;
    this.ended = true;
    this.w.discard();
    const inFlight = this.inFlight;
    const message = this.lostMessage ?? 'connection lost';
    for (const w of this.upWaiters.splice(0))
      w(this.up ? undefined : (this.lostMessage ?? 'connection closed'));
    const calls = [...this.streams.values(), ...this.waiting];
    this.streams.clear();
    this.waiting.length = 0;
    this.owner.closed(this, inFlight > 0);
    for (const call of calls) call.done(answerOf(call, message, -1, ''));
  }
}
