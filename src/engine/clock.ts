export interface Clock {
  nowMs(): number;
  /** Wall-clock nanoseconds since the Unix epoch, with real sub-millisecond resolution. */
  nowNs(): bigint;
}

/** Anchors the monotonic high-resolution timer to the wall clock once, at creation. */
export function systemClock(): Clock {
  const anchorWallNs = BigInt(Date.now()) * 1_000_000n;
  const anchorHrNs = process.hrtime.bigint();
  return {
    nowMs: () => Date.now(),
    nowNs: () => anchorWallNs + (process.hrtime.bigint() - anchorHrNs),
  };
}
