import { decodeFromCompressedBase64 } from 'hdr-histogram-js';

/**
 * The percentiles of HdrHistogram's percentile-distribution view: 5 ticks per halving of the
 * remaining tail (50%, 56.5%, ..., 75%, ..., 99.9%, ...), as its own tools print them. The plot's
 * x-axis is 1/(1 - percentile) on a log scale, so 90%, 99% and 99.9% are evenly spaced.
 */
const TICKS_PER_HALF = 5;
/** Deepest tail plotted: 1/(1-p) up to 10^7 (p = 99.99999%). */
const MAX_X = 1e7;

export function percentileTicks(): number[] {
  const ticks: number[] = [];
  for (let k = 0; ; k++) {
    const tail = 2 ** (-k / TICKS_PER_HALF);
    if (1 / tail > MAX_X) break;
    ticks.push(100 * (1 - tail));
  }
  return ticks;
}

/**
 * Latency (microseconds) at each tick for one op's distribution (compressed base64 histogram).
 * Ticks deeper than the samples can resolve (1/(1-p) beyond the count) are null, except the first
 * of them, which carries the maximum, so every curve ends at its op's max as in HdrHistogram's plots.
 */
export function latencyAtTicks(encoded: string, ticks: readonly number[]): (number | null)[] {
  const h = decodeFromCompressedBase64(encoded, 64, false);
  const count = h.totalCount;
  const out: (number | null)[] = [];
  let ended = count === 0;
  for (const p of ticks) {
    if (ended) {
      out.push(null);
      continue;
    }
    if (1 / (1 - p / 100) > count) {
      out.push(h.maxValue);
      ended = true;
      continue;
    }
    out.push(h.getValueAtPercentile(p));
  }
  return out;
}
