/**
 * One log line per key and second, for events that come in floods (refused streams, closed
 * connections): one line each would be a log flood of its own. `take` says how many were skipped
 * since the last line, or -1 to skip this one.
 */
export class OncePerSecond {
  private readonly last = new Map<string, { atMs: number; skipped: number }>();

  take(key: string): number {
    const now = performance.now();
    const entry = this.last.get(key);
    if (entry !== undefined && now - entry.atMs < 1_000) {
      entry.skipped++;
      return -1;
    }
    const skipped = entry?.skipped ?? 0;
    this.last.set(key, { atMs: now, skipped: 0 });
    return skipped;
  }
}
