/**
 * The one list of operations the harness can call, in the order reports show them. Scenario
 * files (`script.op`, `mix`), thresholds (`p99(transfer)`), history records and the report all
 * name operations from here.
 */
export const OP_KINDS = ['create', 'get', 'update', 'transfer', 'snapshot', 'query'] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** The operations that change the ledger (and carry a transaction id). */
export const WRITE_OP_KINDS = ['create', 'update', 'transfer'] as const satisfies readonly OpKind[];
export type WriteOp = (typeof WRITE_OP_KINDS)[number];

const WRITES: ReadonlySet<string> = new Set(WRITE_OP_KINDS);
export const isWriteOp = (op: string): op is WriteOp => WRITES.has(op);

/** What a scenario mix may pick: every op, and `batch` (one ExecuteBatch call of several writes). */
export const MIX_OP_KINDS = [...OP_KINDS, 'batch'] as const;
export type MixOpKind = (typeof MIX_OP_KINDS)[number];

/** The writes a batch is made of. */
export const BATCH_ITEM_OPS = WRITE_OP_KINDS;

/** Rows of the report and ops of thresholds: the calls, and `batch-item` for the writes inside batches. */
export const REPORT_OPS = [...MIX_OP_KINDS, 'batch-item'] as const;

/** Reports and thresholds name every operation together as `*`. */
export const ALL_OPS = '*';
