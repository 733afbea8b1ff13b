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
