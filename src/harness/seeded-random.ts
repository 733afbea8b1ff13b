/**
 * A seeded PRNG (mulberry32 over a splitmix-style seed hash): every random choice of a run comes
 * from one of these, so `--seed N` reproduces the exact same sequence of requests.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    // Mix the seed so that nearby seeds (1, 2, 3) do not start with correlated streams.
    let h = (seed ^ 0x9e3779b9) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (h ^ (h >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform bigint in [min, max] (money ranges in scenarios are small, so 2^53 precision suffices). */
  bigintBetween(min: bigint, max: bigint): bigint {
    const span = max - min + 1n;
    if (span <= 0n) return min;
    if (span <= BigInt(Number.MAX_SAFE_INTEGER)) return min + BigInt(Math.floor(this.next() * Number(span)));
    // Wider than 2^53: combine two draws so every value stays reachable.
    const hi = BigInt(Math.floor(this.next() * 2 ** 32));
    const lo = BigInt(Math.floor(this.next() * 2 ** 32));
    return min + (((hi << 32n) | lo) % span);
  }

  /** An independent stream derived from this one (one per caller, so callers do not share state). */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 2 ** 32));
  }
}
