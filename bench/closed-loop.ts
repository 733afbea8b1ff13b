export interface ClosedLoopResult {
  ops: number;
  elapsedMs: number;
  opsPerSec: number;
}

/**
 * `concurrency` callers, each issuing its next operation as soon as the previous one finished,
 * until `totalOps` operations are done. A synchronous op still costs one await per call, as it
 * would for a caller in an async request handler.
 */
export async function runClosedLoop(
  concurrency: number,
  totalOps: number,
  op: (index: number, caller: number) => unknown,
): Promise<ClosedLoopResult> {
  let next = 0;
  const caller = async (callerId: number): Promise<void> => {
    while (next < totalOps) {
      const index = next++;
      await op(index, callerId);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => caller(i)));
  const elapsedMs = performance.now() - started;
  return { ops: totalOps, elapsedMs, opsPerSec: (totalOps / elapsedMs) * 1000 };
}
