const UNITS_MS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
] as const;

/** Whole milliseconds as an operator would type them (`24h`, `10s`, `500ms`), for help and messages. */
export function formatDuration(ms: number): string {
  for (const [unit, unitMs] of UNITS_MS) {
    if (ms !== 0 && ms % unitMs === 0) return `${ms / unitMs}${unit}`;
  }
  return `${ms}ms`;
}
