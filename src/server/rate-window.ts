/** Rates are judged over fixed windows of this length. */
export const RATE_WINDOW_MS = 1_000;

/**
 * Events counted in fixed one-second windows: `add` counts one and says how many the current
 * window holds with it (1: this event opened a new window). Cheap enough to keep one per connection.
 */
export class RateWindow {
  private startMs = Number.NEGATIVE_INFINITY;
  private count = 0;

  add(nowMs: number): number {
    if (nowMs - this.startMs >= RATE_WINDOW_MS) {
      this.startMs = nowMs;
      this.count = 0;
    }
    return ++this.count;
  }
}
