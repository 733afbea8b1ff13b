import http2 from 'node:http2';
import { frameMessage } from './grpc-wire.js';
import { encodeRequest } from './ledger-messages.js';

export interface NullResponder {
  readonly target: string;
  close(): Promise<void>;
}

/**
 * A gRPC server that does no ledger work: every unary call gets the same small Account answer
 * and grpc-status 0. What the load generator measures against it is the instrument's own floor
 * (client, HTTP/2, loopback, scheduling), never the ledger's.
 */
export async function startNullResponder(host = '127.0.0.1'): Promise<NullResponder> {
  // An Account of typical size (id, balance, version), as GetBalance answers.
  const answer = frameMessage(nullAnswerBytes());
  const server = http2.createServer({ maxSessionMemory: 64, settings: { initialWindowSize: 1 << 20 } });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(answer);
    });
  });
  server.on('sessionError', () => {});
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
        // Open client sessions would hold close() forever.
        setTimeout(resolve, 1_000).unref();
      }),
  };
}

/** Account{account_id: "s-123", balance: 1000000, version: 42}: the GetBalance request's bytes plus two varints. */
export function nullAnswerBytes(): Buffer {
  const id = encodeRequest('get', { accountId: 's-123' }).subarray(5);
  return Buffer.concat([id, Buffer.from([0x10, 0xc0, 0x84, 0x3d, 0x18, 42])]);
}
