import { LedgerClient } from '../src/client/ledger-client.js';

/** One sentinel call. Times are CLOCK_MONOTONIC (process.hrtime), the same clock in every process. */
export interface SentinelSample {
  /** When the call started, ns. */
  t0Ns: number;
  us: number;
  ok: boolean;
  /** How late the sentinel's own timer fired before this call: its process's pauses, not the server's. */
  lateUs: number;
}

/**
 * GetBalance on account `sentinel` every `periodMs` on its own connection, until `stopped()`.
 * Runs in the sentinel's own process (sentinel-process.ts, the default) or in the bench's.
 */
export async function sentinelLoop(
  target: string,
  periodMs: number,
  stopped: () => boolean,
  samples: SentinelSample[],
): Promise<void> {
  const client = new LedgerClient(target, { deadlineMs: 10_000, channelKey: 'sentinel' });
  let lateUs = 0;
  while (!stopped()) {
    const t0 = process.hrtime.bigint();
    let ok = true;
    try {
      await client.getBalance('sentinel');
    } catch {
      ok = false;
    }
    const us = Number(process.hrtime.bigint() - t0) / 1_000;
    samples.push({ t0Ns: Number(t0), us, ok, lateUs });
    const wait = periodMs - us / 1_000;
    lateUs = 0;
    if (wait > 0) {
      const due = performance.now() + wait;
      await new Promise((r) => setTimeout(r, wait));
      lateUs = (performance.now() - due) * 1_000;
    }
  }
  client.close();
}
