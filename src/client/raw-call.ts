import * as grpc from '@grpc/grpc-js';
import { type ClientSecurity, callMetadata, channelCredentials } from './client-security.js';

/** The answer to a call sent as raw bytes: the response bytes, or the status code and details. */
export type RawOutcome = { ok: true; bytes: Buffer } | { ok: false; code: grpc.status; details: string };

const identity = (b: Buffer): Buffer => b;

/**
 * A client that sends request bytes exactly as given (no protobuf encoding on our side), so a
 * test or the conformance kit can put malformed wire input in front of any ledger.v1 server.
 */
export class RawCaller {
  private readonly client: grpc.Client;
  private readonly metadata: () => grpc.Metadata;

  constructor(target: string, security?: ClientSecurity) {
    this.client = new grpc.Client(target, channelCredentials(security));
    this.metadata = callMetadata(security);
  }

  /** `path` is the full method path, e.g. /ledger.v1.Ledger/GetBalance. */
  call(path: string, bytes: Uint8Array, deadlineMs: number): Promise<RawOutcome> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        path,
        identity,
        identity,
        Buffer.from(bytes),
        this.metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, value) => {
          if (err) resolve({ ok: false, code: err.code, details: err.details });
          else resolve({ ok: true, bytes: value ?? Buffer.alloc(0) });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
