import { LedgerClient } from '../client/ledger-client.js';
import { LIMITS } from '../domain/limits.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { RunSetupError } from './run-setup-error.js';

/**
 * The run's connections: `connections` clients per target. Callers read `clients` at every call,
 * so after a server restart the fault injector swaps its entries in place (`reconnect`).
 */
export class ClientPool {
  readonly clients: LedgerClient[];

  constructor(
    targets: readonly string[],
    private readonly connections: number,
  ) {
    this.clients = targets.flatMap((t) => this.open(t));
  }

  private open(target: string): LedgerClient[] {
    return Array.from(
      { length: this.connections },
      (_, i) =>
        new LedgerClient(target, {
          channelKey: `ledgerctl-stress-${i}`,
          maxResponseBytes: LIMITS.maxClientResponseBytes,
        }),
    );
  }

  /** Waits until every connection is up; an unreachable target is the user's to fix. */
  async ready(clients: readonly LedgerClient[] = this.clients): Promise<void> {
    await Promise.all(
      clients.map((c) =>
        c.waitForReady(HARNESS_LIMITS.targetConnectTimeoutMs).catch((err: Error) => {
          throw new RunSetupError(err.message);
        }),
      ),
    );
  }

  /** Fresh, connected clients to a (restarted) target. */
  readonly connect = async (target: string): Promise<LedgerClient[]> => {
    const fresh = this.open(target);
    await this.ready(fresh);
    return fresh;
  };

  get first(): LedgerClient {
    return this.clients[0]!;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
