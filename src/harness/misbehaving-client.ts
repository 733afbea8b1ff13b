import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  type IncomingHttpHeaders,
  type Settings,
} from 'node:http2';

/** How a raw call ended: the gRPC status (from headers or trailers), or the stream's error. */
export interface RawH2Outcome {
  grpcStatus?: number;
  grpcMessage?: string;
  /** The stream was reset or the connection failed before a status came. */
  error?: string;
}

/** A gRPC frame: the 5-byte prefix (uncompressed) and the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * A client on node:http2 that misbehaves on purpose (tests and bench/abuse-bench.ts): streams
 * that send headers and never a body, calls abandoned mid-way, connections left idle, oversized
 * metadata, deadlines past what timers hold. Loopback only.
 */
export class MisbehavingClient {
  private constructor(
    readonly session: ClientHttp2Session,
    /** The server's first SETTINGS frame (its stream limit, say). */
    readonly remoteSettings: Promise<Settings>,
  ) {}

  /** `localAddress`: the source address (another 127.x.y.z, to look like another host on loopback). */
  static connect(target: string, localAddress?: string): Promise<MisbehavingClient> {
    return new Promise((resolve, reject) => {
      // node:http2 passes socket options on to net.connect (its types do not list them).
      const session = connect(
        `http://${target}`,
        (localAddress === undefined ? {} : { localAddress }) as object,
      );
      const settings = new Promise<Settings>((r) => session.once('remoteSettings', r));
      session.once('connect', () => resolve(new MisbehavingClient(session, settings)));
      session.once('error', reject);
    });
  }

  /** The stream of a gRPC call whose headers are sent; the body is the caller's to send (or not). */
  open(path: string, headers: Record<string, string> = {}): ClientHttp2Stream {
    return this.session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
  }

  /** Sends headers, then (unless `body` is undefined) the framed message and the end of the stream. */
  call(
    path: string,
    body: Uint8Array | undefined,
    headers: Record<string, string> = {},
  ): Promise<RawH2Outcome> {
    const stream = this.open(path, headers);
    if (body !== undefined) stream.end(grpcFrame(body));
    return outcomeOf(stream);
  }

  close(): void {
    this.session.close();
  }

  destroy(): void {
    this.session.destroy();
  }
}

/** Waits for the status of a raw call (a trailers-only answer carries it in the headers). */
export function outcomeOf(stream: ClientHttp2Stream): Promise<RawH2Outcome> {
  return new Promise((resolve) => {
    const outcome: RawH2Outcome = {};
    const take = (headers: IncomingHttpHeaders) => {
      const status = headers['grpc-status'];
      if (typeof status === 'string') outcome.grpcStatus = Number(status);
      const message = headers['grpc-message'];
      if (typeof message === 'string') outcome.grpcMessage = decodeURIComponent(message);
      // The status ends the call, even if this client never ended its side of the stream.
      if (outcome.grpcStatus !== undefined) resolve(outcome);
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', () => {});
    stream.on('error', (err: Error) => {
      outcome.error = err.message;
    });
    stream.on('close', () => {
      if (outcome.grpcStatus === undefined && outcome.error === undefined) {
        outcome.error = `stream closed (rst code ${stream.rstCode})`;
      }
      resolve(outcome);
    });
  });
}
