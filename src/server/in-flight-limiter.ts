/**
 * Counts ledger calls being served and refuses more than `max` at once, so a flood of callers
 * meets a clear RESOURCE_EXHAUSTED instead of unbounded queues in the engine.
 */
export class InFlightLimiter {
  private current = 0;

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.current;
  }

  tryAcquire(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    return true;
  }

  release(): void {
    this.current--;
  }
}
