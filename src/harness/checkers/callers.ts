import type { AccountView, OpRecord } from '../history.js';
import { pushTo } from './multimap.js';

/** Each caller's records in its own (sequential) order: invocation order is completion order. */
export function recordsByCaller(records: readonly OpRecord[]): Map<number, OpRecord[]> {
  const byCaller = new Map<number, OpRecord[]>();
  for (const r of [...records].sort((a, b) => a.index - b.index)) {
    pushTo(byCaller, r.caller, r);
  }
  return byCaller;
}

/**
 * The account states an answer shows as current. A replayed answer shows the state right after
 * the original request, which may be older than what the caller has seen since: not a read.
 */
export function observedAccounts(r: OpRecord): AccountView[] {
  if (r.type !== 'ok' || r.replayed === true) return [];
  return [...(r.accounts ?? []), ...(r.snapshot?.accounts ?? [])];
}
