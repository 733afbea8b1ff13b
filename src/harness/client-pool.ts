import type { ClientSecurity } from '../client/client-security.js';
import { LedgerClient } from '../client/ledger-client.js';
import { LIMITS } from '../domain/limits.js';
import { type BatchCaller, type Caller, callBatch, callOp } from './call-op.js';
import { h2CallOp } from './h2-call-op.js';
import { H2Channel } from './h2-channel.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { connectFailure } from './tls-diagnosis.js';

/** Which client sends the load: the lean HTTP/2 caller (default) or grpc-js (for comparison). */
export type LoadClient = 'lean' | 'grpc-js';

/**
 * The run's connections: `connections` per target. Setup, checks and fault retries use the
 * grpc-js `clients`; the load goes through `callers` (lean HTTP/2 channels by default). Both are
 * read at every call, so after a server restart `reconnect` swaps them in place.
 */
export class ClientPool {
  readonly clients: LedgerClient[];
  private readonly channels: H2Channel[];
  /** The target each channel talks to, in step with `channels`. */
  private readonly channelTargets: string[];
  readonly callers: Caller[];
  /** ExecuteBatch always goes through grpc-js: its cost is shared by every operation of a batch. */
  readonly batchCallers: BatchCaller[];
  /** Told the new address after a restart (generator threads move their own connections). */
  readonly reconnectListeners: ((target: string, previous: string | undefined) => void)[] = [];
  /** The current addresses (a restarted server has a new one). */
  targets: readonly string[];
  readonly loadClient: LoadClient;

  constructor(
    targets: readonly string[],
    readonly connections: number,
    loadClient: LoadClient = 'lean',
    readonly security?: ClientSecurity,
  ) {
    this.targets = targets;
    this.loadClient = loadClient;
    this.clients = targets.flatMap((t) => this.open(t));
    this.channels =
      loadClient === 'lean'
        ? targets.flatMap((t) =>
            Array.from(
              { length: connections },
              () =>
                new H2Channel(`${security?.tls === undefined ? 'http' : 'https'}://${t}`, {
                  maxResponseBytes: LIMITS.maxClientResponseBytes,
                  deadlineTickMs: HARNESS_LIMITS.deadlineTickMs,
                  tls: security?.tls,
                  token: security?.token,
                }),
            ),
          )
        : [];
    this.channelTargets =
      loadClient === 'lean' ? targets.flatMap((t) => Array.from({ length: connections }, () => t)) : [];
    this.callers =
      loadClient === 'lean'
        ? this.channels.map((ch) => (op, args, deadlineMs) => h2CallOp(ch, op, args, deadlineMs))
        : this.clients.map(
            (_, i) => (op, args, deadlineMs) => callOp(this.clients[i]!, op, args, deadlineMs),
          );
    this.batchCallers = this.clients.map(
      (_, i) => (items, deadlineMs) => callBatch(this.clients[i]!, items, deadlineMs),
    );
  }

  private open(target: string): LedgerClient[] {
    return Array.from(
      { length: this.connections },
      (_, i) =>
        new LedgerClient(target, {
          channelKey: `ledgerctl-stress-${i}`,
          maxResponseBytes: LIMITS.maxClientResponseBytes,
          security: this.security,
        }),
    );
  }

  /** Waits until every connection is up; an unreachable target is the user's to fix. */
  async ready(clients: readonly LedgerClient[] = this.clients): Promise<void> {
    const timeoutMs = HARNESS_LIMITS.targetConnectTimeoutMs;
    try {
      await Promise.all([
        ...clients.map((c) => c.waitForReady(timeoutMs)),
        ...(clients === this.clients ? this.channels.map((ch) => ch.connect(timeoutMs)) : []),
      ]);
    } catch (err) {
      // Both clients say only "failed to connect"; a TLS mismatch is worth naming.
      throw await connectFailure(err, [...new Set(clients.map((c) => c.target))], this.security);
    }
  }

  /**
   * A server restarted on another address: the clients and channels of `previous` (every one when
   * it is not given: a single-target run) move there; those of other instances stay.
   */
  readonly reconnect = async (target: string, previous?: string): Promise<void> => {
    const moves = (t: string) => previous === undefined || t === previous;
    const fresh = this.open(target);
    await this.ready(fresh);
    let next = 0;
    for (let i = 0; i < this.clients.length && next < fresh.length; i++) {
      if (!moves(this.clients[i]!.target)) continue;
      this.clients[i]!.close();
      this.clients[i] = fresh[next++]!;
    }
    const moved = this.channels.filter((_, i) => moves(this.channelTargets[i]!));
    this.channels.forEach((ch, i) => {
      if (!moves(this.channelTargets[i]!)) return;
      ch.retarget(target);
      this.channelTargets[i] = target;
    });
    this.targets = this.targets.map((t) => (moves(t) ? target : t));
    for (const listener of this.reconnectListeners) listener(target, previous);
    await Promise.all(moved.map((ch) => ch.connect(HARNESS_LIMITS.targetConnectTimeoutMs).catch(() => {})));
  };

  get first(): LedgerClient {
    return this.clients[0]!;
  }

  close(): void {
    for (const c of this.clients) c.close();
    for (const ch of this.channels) ch.close();
  }
}
