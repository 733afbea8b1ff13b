import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { type ClientSecurity, channelCredentials } from './client-security.js';

/** grpc.health.v1 serving states as the server reports them. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthWatch {
  /** Ends the stream from the client side. */
  cancel(): void;
  /** Settles when the stream ends: resolves on a cancel or a clean end, rejects on any other status. */
  readonly ended: Promise<grpc.StatusObject>;
}

/** A failed health call: status code and the server's message. */
export class HealthCallError extends Error {
  override readonly name = 'HealthCallError';
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${grpc.status[code]}: ${details}`);
  }
}

interface HealthStub extends grpc.Client {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: { status: ServingStatus }) => void,
  ): grpc.ClientUnaryCall;
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: ServingStatus }>;
}

/** A typed client of grpc.health.v1.Health (what grpc_health_probe speaks). */
export class HealthClient {
  private readonly stub: HealthStub;

  constructor(
    readonly target: string,
    channelOptions: grpc.ChannelOptions = {},
    /** TLS only: health stays open without a token (see docs/security.md). */
    security?: ClientSecurity,
  ) {
    const Ctor = grpc.makeGenericClientConstructor(healthService, 'Health');
    this.stub = new Ctor(target, channelCredentials(security), channelOptions) as unknown as HealthStub;
  }

  /** The serving status of `service` ("" is the server as a whole). */
  check(service: string, deadlineMs = 5_000): Promise<ServingStatus> {
    return new Promise((resolve, reject) => {
      this.stub.Check({ service }, { deadline: Date.now() + deadlineMs }, (err, response) => {
        if (err) reject(new HealthCallError(err.code, err.details));
        else resolve(response?.status ?? 'UNKNOWN');
      });
    });
  }

  /** Streams every status change of `service` (the first message is the current status). */
  watch(service: string, onStatus: (status: ServingStatus) => void): HealthWatch {
    const call = this.stub.Watch({ service });
    let cancelled = false;
    call.on('data', (message: { status: ServingStatus }) => onStatus(message.status));
    const ended = new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on('status', (status: grpc.StatusObject) => {
        if (status.code === grpc.status.OK || (cancelled && status.code === grpc.status.CANCELLED))
          resolve(status);
        else reject(new HealthCallError(status.code, status.details));
      });
    });
    // A stream error is also reported through 'status'; without a listener it would be thrown.
    call.on('error', () => {});
    return {
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
      ended,
    };
  }

  close(): void {
    this.stub.close();
  }
}
