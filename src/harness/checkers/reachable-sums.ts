/**
 * The values a sum can take when some of its terms are uncertain (indeterminate writes: each one
 * contributes one of its options, 0 when it did not happen). Exact while the set of reachable
 * values stays small; past that only the bounds are kept, and the verdict says so.
 */
export interface ReachableSums {
  exact: boolean;
  min: bigint;
  max: bigint;
  /** Only when exact. */
  values: Set<bigint> | undefined;
  /** Number of uncertain terms folded in. */
  uncertain: number;
}

export const MAX_EXACT_VALUES = 4096;

export function reachableSums(base: bigint, choices: readonly (readonly bigint[])[]): ReachableSums {
  let values: Set<bigint> | undefined = new Set([base]);
  let min = base;
  let max = base;
  for (const options of choices) {
    let lo = options[0] ?? 0n;
    let hi = lo;
    for (const o of options) {
      if (o < lo) lo = o;
      if (o > hi) hi = o;
    }
    min += lo;
    max += hi;
    if (values !== undefined) {
      const next = new Set<bigint>();
      for (const v of values) for (const o of options) next.add(v + o);
      values = next.size > MAX_EXACT_VALUES ? undefined : next;
    }
  }
  return { exact: values !== undefined, min, max, values, uncertain: choices.length };
}

export function reachable(sums: ReachableSums, value: bigint): boolean {
  return sums.values !== undefined ? sums.values.has(value) : value >= sums.min && value <= sums.max;
}

/** For summaries: "exact over 3 indeterminate writes" or "bounds [a, b] over 40 indeterminate writes". */
export function describeReachable(sums: ReachableSums): string {
  if (sums.uncertain === 0) return 'no indeterminate writes';
  if (sums.exact) {
    return `exact subset-sum over ${sums.uncertain} indeterminate writes (${sums.values!.size} reachable values)`;
  }
  return `bounds only [${sums.min}, ${sums.max}] over ${sums.uncertain} indeterminate writes`;
}

/** The expected value(s) in a violation line: a number, a small set, or the bounds. */
export function describeExpected(sums: ReachableSums): string {
  if (sums.uncertain === 0) return `${sums.min}`;
  if (sums.values !== undefined && sums.values.size <= 8) {
    const sorted = [...sums.values].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    return `one of {${sorted.join(', ')}}`;
  }
  return `within [${sums.min}, ${sums.max}]`;
}
