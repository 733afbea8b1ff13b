import type * as grpc from '@grpc/grpc-js';

type StreamingCall = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/**
 * Remembers the open server-streaming calls (health Watch, reflection sessions) so shutdown can
 * end them cleanly. They never end by themselves, and while one is open `tryShutdown` waits
 * forever; ending them (rather than `forceShutdown`) lets the unary calls in flight finish and
 * flush their answers, and lets a watcher receive NOT_SERVING before its stream closes.
 */
export class StreamTracker {
  private readonly open = new Set<StreamingCall>();
  private ended = false;

  get size(): number {
    return this.open.size;
  }

  /** A stand-in for the server's addService that tracks the streaming methods it registers. */
  tracking(server: Pick<grpc.Server, 'addService'>): Pick<grpc.Server, 'addService'> {
    return {
      addService: (service, implementation) => {
        const wrapped: grpc.UntypedServiceImplementation = { ...implementation };
        for (const [name, method] of Object.entries(service)) {
          const key = implementation[name] !== undefined ? name : method.originalName;
          const handler = key === undefined ? undefined : implementation[key];
          if (!method.responseStream || key === undefined || handler === undefined) continue;
          wrapped[key] = (call: StreamingCall) => {
            (handler as (call: StreamingCall) => void)(call);
            this.add(call);
          };
        }
        server.addService(service, wrapped);
      },
    };
  }

  /** Ends every open stream with status OK, and any stream that opens from now on right away. */
  endAll(): void {
    this.ended = true;
    for (const call of this.open) call.end();
    this.open.clear();
  }

  private add(call: StreamingCall): void {
    if (this.ended) {
      call.end();
      return;
    }
    this.open.add(call);
    const forget = () => this.open.delete(call);
    call.once('cancelled', forget);
    call.once('finish', forget);
    call.once('close', forget);
  }
}
