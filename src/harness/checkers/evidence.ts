import type { AccountView, InvariantVerdict, OpRecord } from '../history.js';

/** Evidence is for a human reading a failed verdict: a few concrete lines, never the whole run. */
export const MAX_EVIDENCE_LINES = 20;

export class Evidence {
  private readonly lines: string[] = [];
  private dropped = 0;

  constructor(private readonly max = MAX_EVIDENCE_LINES) {}

  add(line: string): void {
    if (this.lines.length < this.max) this.lines.push(line);
    else this.dropped++;
  }

  get count(): number {
    return this.lines.length + this.dropped;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  toArray(): string[] {
    return this.dropped === 0 ? [...this.lines] : [...this.lines, `... and ${this.dropped} more`];
  }
}

const signed = (n: bigint): string => (n >= 0n ? `+${n}` : `${n}`);

export function describeArgs(record: OpRecord): string {
  const a = record.args;
  const tx = a.transactionId ? `, tx=${a.transactionId}` : '';
  switch (record.op) {
    case 'create':
      return `create(${a.accountId}, initial=${a.amount}${tx})`;
    case 'get':
      return `get(${a.accountId})`;
    case 'update':
      return `update(${a.accountId}, delta=${signed(a.amount ?? 0n)}${tx})`;
    case 'transfer':
      return `transfer(${a.fromId} -> ${a.toId}, amount=${a.amount}${tx})`;
    case 'snapshot':
      return `snapshot(include_accounts=${a.includeAccounts === true})`;
    case 'query':
      return `query(${a.transactionId})`;
  }
}

export const describeAccount = (a: AccountView): string => `${a.accountId}=${a.balance} v${a.version}`;

export function describeOutcome(record: OpRecord): string {
  const replay = record.replayed ? ' (replayed)' : '';
  if (record.type !== 'ok') return `${record.type} ${record.code ?? '?'} '${record.message ?? ''}'${replay}`;
  const parts: string[] = [];
  if (record.accounts !== undefined) parts.push(record.accounts.map(describeAccount).join(', '));
  if (record.snapshot !== undefined) {
    const s = record.snapshot;
    parts.push(`total=${s.totalBalance} count=${s.accountCount} log=${s.logPosition}`);
  }
  return `ok ${parts.join(' ')}${replay}`.trimEnd();
}

/** "#12 caller 3 [phase/group] update(a1, delta=+10, tx=t5) -> ok a1=1010 v3" */
export function describeRecord(record: OpRecord): string {
  return `#${record.index} caller ${record.caller} [${record.phase}/${record.group}] ${describeArgs(record)} -> ${describeOutcome(record)}`;
}

/** The verdict of a checker that needs the final snapshot when the run recorded none. */
export function missingFinalSnapshot(name: string): InvariantVerdict {
  return {
    name,
    passed: false,
    summary: 'no final snapshot was recorded',
    evidence: ['finalSnapshot missing'],
  };
}
