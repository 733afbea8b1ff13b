/**
 * ExecuteBatch requests encoded by hand (not with the product's protobuf code), for the batch
 * benches: ExecuteBatchRequest{operations: [BatchOperation{transfer_funds, linked}]}.
 */

export const ACCOUNTS = 1_000;
export const INITIAL_BALANCE = 1_000_000_000_000n;

function varint(out: number[], value: number): void {
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function field(out: number[], tag: number, bytes: Buffer | number[]): void {
  out.push(tag);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** One TransferFundsRequest wrapped in BatchOperation (field 3), with `linked` (field 4). */
function transferOp(
  out: number[],
  from: Buffer,
  to: Buffer,
  amount: number,
  txid: Buffer,
  linked: boolean,
): void {
  const inner: number[] = [];
  field(inner, 0x0a, from);
  field(inner, 0x12, to);
  inner.push(0x18);
  varint(inner, amount);
  field(inner, 0x22, txid);
  const op: number[] = [];
  field(op, 0x1a, inner);
  if (linked) op.push(0x20, 0x01);
  field(out, 0x0a, op);
}

export const ids = Array.from({ length: ACCOUNTS }, (_, i) =>
  Buffer.from(`acct-${String(i).padStart(5, '0')}`),
);

/** A batch of `size` transfers between random distinct accounts, each with a fresh id. */
export function encodeBatch(tag: string, batchNo: number, size: number, linkedShare: number): Buffer {
  const out: number[] = [];
  for (let i = 0; i < size; i++) {
    const from = Math.floor(Math.random() * ACCOUNTS);
    const to = (from + 1 + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS;
    // A linked operation is never the last one (a chain left open refuses the whole batch).
    const linked = i < size - 1 && Math.random() < linkedShare;
    transferOp(out, ids[from]!, ids[to]!, 1 + (i % 100), Buffer.from(`${tag}-${batchNo}-${i}`), linked);
  }
  return Buffer.from(out);
}

/** Digits of the batch number in every transaction id of a templated batch (10^12 batches). */
const BATCH_DIGITS = 12;
const TEMPLATE_PLACEHOLDER = '0'.repeat(BATCH_DIGITS);

/**
 * Batches of `size` transfers encoded once, before any timing, as a few templates (each with its
 * own random account pairs); every batch taken is a copy of one template with its own batch
 * number written into each transaction id (`tag-NNNNNNNNNNNN-i`). So every transfer sent is a
 * distinct write with its own id, and the generator's CPU per transfer is a memory copy plus a
 * few digits instead of an encoding: the CPU left on a shared machine goes to the server.
 */
export class BatchTemplates {
  private readonly templates: Buffer[] = [];
  /** Per template: the byte offset of each transaction id's batch-number digits. */
  private readonly digitsAt: Int32Array[] = [];
  private readonly digits = Buffer.alloc(BATCH_DIGITS);
  private taken = 0;

  constructor(
    readonly size: number,
    linkedShare: number,
    private nextBatchNo: number,
    tag: string,
    count = 8,
  ) {
    for (let t = 0; t < count; t++) {
      const body = encodeBatch(`${tag}-${TEMPLATE_PLACEHOLDER}`, 0, size, linkedShare);
      // The ids are `${tag}-000000000000-0-${i}`: find each placeholder in order.
      const at = new Int32Array(size);
      const marker = Buffer.from(`${tag}-${TEMPLATE_PLACEHOLDER}-0-`);
      let from = 0;
      for (let i = 0; i < size; i++) {
        const found = body.indexOf(marker, from);
        if (found < 0) throw new Error('batch template: transaction id not found');
        at[i] = found + tag.length + 1;
        from = found + marker.length;
      }
      this.templates.push(body);
      this.digitsAt.push(at);
    }
  }

  /** The batch numbers used so far end before this one. */
  get batchNo(): number {
    return this.nextBatchNo;
  }

  /** The next batch: a template's copy with a batch number no other batch of this run has. */
  next(): Buffer {
    const t = this.taken++ % this.templates.length;
    const template = this.templates[t]!;
    const body = Buffer.allocUnsafe(template.length);
    template.copy(body);
    const digits = this.digits;
    digits.write(String(this.nextBatchNo++).padStart(BATCH_DIGITS, '0'), 'latin1');
    const at = this.digitsAt[t]!;
    for (let i = 0; i < at.length; i++) {
      const offset = at[i]!;
      for (let d = 0; d < BATCH_DIGITS; d++) body[offset + d] = digits[d]!;
    }
    return body;
  }
}
