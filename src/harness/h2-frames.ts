import type { Socket } from 'node:net';

/** RFC 9113 frame types, flags, settings and error codes the lean caller and null responder use. */
export const H2 = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  // Flags.
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY_FLAG: 0x20,
  // Settings.
  SETTINGS_ENABLE_PUSH: 0x2,
  SETTINGS_MAX_CONCURRENT_STREAMS: 0x3,
  SETTINGS_INITIAL_WINDOW_SIZE: 0x4,
  SETTINGS_MAX_FRAME_SIZE: 0x5,
  // Error codes.
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  /** Largest flow-control window (2^31-1). */
  MAX_WINDOW: 0x7fffffff,
  /** The frame size every endpoint accepts until told otherwise. */
  DEFAULT_MAX_FRAME: 16_384,
} as const;

export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Output is written into slabs of this size; one socket write per batch of frames. */
const SLAB_BYTES = 64 * 1024;

function flushWriter(w: H2FrameWriter): void {
  w.flush();
}

/**
 * Frames for one socket, written into a slab and sent in one write per tick: a caller that
 * starts many calls in one turn of the event loop (a timer's batch of arrivals, the callers a
 * socket read resolved) costs one syscall, not one per frame. A written part of a slab is never
 * reused (the socket may still hold it); a full slab is replaced.
 */
export class H2FrameWriter {
  /** The slab the last frame() went into: write the payload at the offset it returned. */
  out = Buffer.allocUnsafe(SLAB_BYTES);
  private start = 0;
  private end = 0;
  private full: Buffer[] = [];
  private queued = false;
  private closed = false;

  constructor(private readonly socket: Socket) {}

  /** Room for raw bytes (the preface); returns where they go. */
  reserve(n: number): number {
    if (this.end + n > this.out.length) {
      if (this.end > this.start) this.full.push(this.out.subarray(this.start, this.end));
      this.out = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
      this.start = 0;
      this.end = 0;
    }
    const at = this.end;
    this.end += n;
    if (!this.queued) {
      this.queued = true;
      process.nextTick(flushWriter, this);
    }
    return at;
  }

  /**
   * A frame header; returns where its `length` bytes of payload go in `out`. Read `out` only
   * after this returns (`x.copy(w.out, w.frame(...))` would copy into the previous slab).
   */
  frame(length: number, type: number, flags: number, streamId: number): number {
    const at = this.reserve(9 + length);
    const o = this.out;
    o[at] = length >>> 16;
    o[at + 1] = (length >>> 8) & 0xff;
    o[at + 2] = length & 0xff;
    o[at + 3] = type;
    o[at + 4] = flags;
    o.writeUInt32BE(streamId, at + 5);
    return at + 9;
  }

  /** A frame whose payload is `src[from, to)`. */
  bytesFrame(type: number, flags: number, streamId: number, src: Buffer, from = 0, to = src.length): void {
    // frame() first: it may move to a new slab, so `out` is read after it.
    const at = this.frame(to - from, type, flags, streamId);
    src.copy(this.out, at, from, to);
  }

  /** A frame whose payload is one 32-bit value (RST_STREAM, WINDOW_UPDATE). */
  u32Frame(type: number, flags: number, streamId: number, value: number): void {
    const at = this.frame(4, type, flags, streamId);
    this.out.writeUInt32BE(value, at);
  }

  /** Writes everything queued (also called on its own once per tick). */
  flush(): void {
    this.queued = false;
    if (this.closed) return;
    const tail = this.end > this.start ? this.out.subarray(this.start, this.end) : undefined;
    this.start = this.end;
    if (this.full.length === 0) {
      if (tail !== undefined) this.socket.write(tail);
      return;
    }
    this.socket.cork();
    for (const b of this.full) this.socket.write(b);
    this.full = [];
    if (tail !== undefined) this.socket.write(tail);
    this.socket.uncork();
  }

  /** Flushes, then nothing more is written (the socket is ending). */
  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Nothing more is written, queued frames included (the socket is gone). */
  discard(): void {
    this.closed = true;
  }
}

export type FrameHandler = (
  buf: Buffer,
  type: number,
  flags: number,
  streamId: number,
  start: number,
  end: number,
) => boolean;

/**
 * Cuts a socket's chunks into frames by offset arithmetic (no copy unless a frame straddles two
 * chunks). `onFrame` returns false to stop reading (the connection ended).
 */
export class H2FrameReader {
  private rest: Buffer | undefined;

  constructor(private readonly maxFrame: number) {}

  /** Returns the length of a frame above the maximum (a connection error), else -1. */
  read(chunk: Buffer, onFrame: FrameHandler): number {
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    const end = buf.length;
    let pos = 0;
    while (end - pos >= 9) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (length > this.maxFrame) return length;
      if (end - pos - 9 < length) break;
      const start = pos + 9;
      if (
        !onFrame(
          buf,
          buf[pos + 3]!,
          buf[pos + 4]!,
          buf.readUInt32BE(pos + 5) & 0x7fffffff,
          start,
          start + length,
        )
      )
        return -1;
      pos = start + length;
    }
    if (pos < end) this.rest = buf.subarray(pos);
    return -1;
  }
}
