import net, { type Socket } from 'node:net';
import { frameMessage } from './grpc-wire.js';
import { CONNECTION_PREFACE, type FrameHandler, H2, H2FrameReader, H2FrameWriter } from './h2-frames.js';
import { encodeHeaderBlock } from './hpack.js';
import { type NullResponder, nullAnswerBytes } from './null-responder.js';

/** Request header blocks above this (HEADERS + CONTINUATION) end the connection. */
const MAX_REQUEST_HEADER_BYTES = 64 * 1024;
/** Our receive window for the whole connection, refilled when half of it has arrived. */
const CONNECTION_WINDOW = 16 * 1024 * 1024;

const RESPONSE_HEADERS = encodeHeaderBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);

/**
 * The null responder on the lean caller's own HTTP/2 framing (h2-frames.ts) instead of
 * node:http2: every call, whatever its method, gets the same Account and grpc-status 0 from
 * pre-encoded frames. It costs a few microseconds a call where node:http2 costs about thirty, so
 * what a load against it measures is the generator, not the responder: the bench uses it to find
 * the generator's own ceiling. Request headers are never read (so their HPACK state need not be
 * kept); flow control is honoured both ways, PING answered, GOAWAY ends the connection.
 */
export async function startH2NullResponder(host = '127.0.0.1'): Promise<NullResponder> {
  const answer = frameMessage(nullAnswerBytes());
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new NullConnection(socket, answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    target: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

class NullConnection {
  private readonly w: H2FrameWriter;
  private readonly reader = new H2FrameReader(H2.DEFAULT_MAX_FRAME);
  private preface = 0;
  private ended = false;
  /** What the client allows us to send: the connection window and each new stream's window. */
  private sendWindow = 65_535;
  private streamWindow = 65_535;
  private unacked = 0;
  /** Answers waiting for the client's windows. */
  private waiting: number[] = [];
  private readonly streamWindows = new Map<number, number>();
  /** A header block continuing in CONTINUATION frames: its stream, whether it ends the stream. */
  private blockStream = 0;
  private blockEnds = false;
  private blockBytes = 0;
  private readonly onFrame: FrameHandler = (buf, type, flags, id, start, end) => {
    this.frame(buf, type, flags, id, start, end);
    return !this.ended;
  };

  constructor(
    private readonly socket: Socket,
    private readonly answer: Buffer,
  ) {
    this.w = new H2FrameWriter(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      this.w.discard();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // Our SETTINGS (request streams may send as much as they like) and the connection window.
    const w = this.w;
    const at = w.frame(6, H2.SETTINGS, 0, 0);
    w.out.writeUInt16BE(H2.SETTINGS_INITIAL_WINDOW_SIZE, at);
    w.out.writeUInt32BE(H2.MAX_WINDOW, at + 2);
    w.u32Frame(H2.WINDOW_UPDATE, 0, 0, CONNECTION_WINDOW - 65_535);
  }

  private onData(chunk: Buffer): void {
    if (this.preface < CONNECTION_PREFACE.length) {
      const n = Math.min(CONNECTION_PREFACE.length - this.preface, chunk.length);
      if (!chunk.subarray(0, n).equals(CONNECTION_PREFACE.subarray(this.preface, this.preface + n))) {
        this.fail(H2.PROTOCOL_ERROR);
        return;
      }
      this.preface += n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    if (this.reader.read(chunk, this.onFrame) >= 0) this.fail(H2.FRAME_SIZE_ERROR);
  }

  private frame(buf: Buffer, type: number, flags: number, id: number, start: number, end: number): void {
    if (this.blockStream !== 0 && type !== H2.CONTINUATION) {
      this.fail(H2.PROTOCOL_ERROR);
      return;
    }
    switch (type) {
      case H2.DATA:
        this.unacked += end - start;
        if (this.unacked >= CONNECTION_WINDOW / 2) {
          this.w.u32Frame(H2.WINDOW_UPDATE, 0, 0, this.unacked);
          this.unacked = 0;
        }
        if (flags & H2.END_STREAM) this.respond(id);
        return;
      case H2.HEADERS:
        if (flags & H2.END_HEADERS) {
          if (flags & H2.END_STREAM) this.respond(id);
          return;
        }
        this.blockStream = id;
        this.blockEnds = (flags & H2.END_STREAM) !== 0;
        this.blockBytes = end - start;
        return;
      case H2.CONTINUATION:
        if (id !== this.blockStream) {
          this.fail(H2.PROTOCOL_ERROR);
          return;
        }
        this.blockBytes += end - start;
        if (this.blockBytes > MAX_REQUEST_HEADER_BYTES) {
          this.fail(H2.PROTOCOL_ERROR);
          return;
        }
        if (flags & H2.END_HEADERS) {
          this.blockStream = 0;
          if (this.blockEnds) this.respond(id);
        }
        return;
      case H2.SETTINGS: {
        if (flags & H2.ACK) return;
        for (let p = start; p + 6 <= end; p += 6) {
          if (buf.readUInt16BE(p) !== H2.SETTINGS_INITIAL_WINDOW_SIZE) continue;
          const value = buf.readUInt32BE(p + 2);
          const delta = value - this.streamWindow;
          this.streamWindow = value;
          for (const [s, win] of this.streamWindows) this.streamWindows.set(s, win + delta);
        }
        this.w.frame(0, H2.SETTINGS, H2.ACK, 0);
        this.drain();
        return;
      }
      case H2.PING:
        if (!(flags & H2.ACK) && end - start === 8) this.w.bytesFrame(H2.PING, H2.ACK, 0, buf, start, end);
        return;
      case H2.WINDOW_UPDATE: {
        const increment = buf.readUInt32BE(start) & 0x7fffffff;
        if (id === 0) this.sendWindow += increment;
        else {
          const win = this.streamWindows.get(id);
          if (win !== undefined) this.streamWindows.set(id, win + increment);
        }
        this.drain();
        return;
      }
      case H2.RST_STREAM: {
        this.streamWindows.delete(id);
        const i = this.waiting.indexOf(id);
        if (i >= 0) this.waiting.splice(i, 1);
        return;
      }
      case H2.GOAWAY:
        this.w.close();
        this.socket.end();
        return;
      default:
      // PRIORITY, PUSH_PROMISE (a client never sends one) and unknown types: nothing to do.
    }
  }

  /** The request is whole: answer it now if the client's windows allow, else when they do. */
  private respond(id: number): void {
    if (this.waiting.length > 0 || !this.fits(this.streamWindow)) {
      this.streamWindows.set(id, this.streamWindow);
      this.waiting.push(id);
      return;
    }
    this.send(id);
  }

  private fits(streamWindow: number): boolean {
    return this.answer.length <= this.sendWindow && this.answer.length <= streamWindow;
  }

  private send(id: number): void {
    const w = this.w;
    w.bytesFrame(H2.HEADERS, H2.END_HEADERS, id, RESPONSE_HEADERS);
    w.bytesFrame(H2.DATA, 0, id, this.answer);
    w.bytesFrame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, id, TRAILERS);
    this.sendWindow -= this.answer.length;
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const id = this.waiting[0]!;
      if (!this.fits(this.streamWindows.get(id) ?? 0)) return;
      this.waiting.shift();
      this.streamWindows.delete(id);
      this.send(id);
    }
  }

  private fail(code: number): void {
    if (this.ended) return;
    this.ended = true;
    const at = this.w.frame(8, H2.GOAWAY, 0, 0);
    this.w.out.writeUInt32BE(0, at);
    this.w.out.writeUInt32BE(code, at + 4);
    this.w.close();
    this.socket.end();
  }
}
