/** Human-written quantities in scenario files and thresholds: durations, sizes, rates, percents. */

const DURATION_UNITS_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
/** Binary multiples: 1 MB = 2^20 bytes, as RSS tools report it. */
const SIZE_UNITS_BYTES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d)$/;
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)$/;

/** "250ms", "5s", "2m" -> milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  return Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
}

export function durationUnitMs(unit: string): number | undefined {
  return DURATION_UNITS_MS[unit];
}

export function sizeUnitBytes(unit: string): number | undefined {
  return SIZE_UNITS_BYTES[unit];
}

export function formatDurationUs(us: number): string {
  if (us < 1_000) return `${us.toFixed(0)}us`;
  if (us < 1_000_000) return `${(us / 1_000).toFixed(us < 10_000 ? 2 : 1)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)}KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)}MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)}GB`;
}
