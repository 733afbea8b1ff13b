import { describe, expect, it } from 'vitest';
import { runFloor } from '../src/harness/calibrate.js';
import { HARNESS_LIMITS } from '../src/harness/harness-limits.js';
import { renderHumanReport } from '../src/harness/human-report.js';
import { parseScenario } from '../src/harness/load-scenario.js';
import { runScenario } from '../src/harness/run-scenario.js';

// The in-process server runs in a worker thread that loads dist/ (`npm test` builds first).
const SCENARIO = `name: floor-probe-e2e
accounts:
  - { count: 10, prefix: p-, balance: 1000 }
phases:
  - name: load
    groups:
      - name: reads
        mix: { get: 1 }
        load: { model: open, rate_per_s: 100, arrivals: uniform }
        duration: 3s
expect:
  thresholds: ['p99(get) < 50ms']
`;

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // The generator's event loop is stuck, as in a long GC pause or on a starved machine.
  }
}

describe('the continuous floor probe', () => {
  it('reaches the report, and a generator stalled during the load makes a latency limit CANNOT JUDGE', async () => {
    const scenario = parseScenario(SCENARIO, 'probe.yaml');
    // The calibration before the load is measured once per rate in a process: take it now, on a
    // loop that is not stalled, so only the probe can see the stalls below.
    const before = await runFloor(scenario, HARNESS_LIMITS.defaultConnectionsPerTarget);
    // 150 ms stuck in every 400: the server (its own thread) is unaffected, the instrument is not.
    const stall = setInterval(() => busyWait(150), 400);
    let result: Awaited<ReturnType<typeof runScenario>>;
    try {
      result = await runScenario(scenario, { file: 'probe.yaml', seed: 1 });
    } finally {
      clearInterval(stall);
    }
    expect(result.floor!.latencyUs).toEqual(before.latencyUs);
    const during = result.floor!.during!;
    expect(during.ratePerS).toBe(HARNESS_LIMITS.floorProbeRatePerS);
    expect(during.calls).toBeGreaterThan(50);
    expect(during.latencyUs.p99).toBeGreaterThanOrEqual(100_000);
    const threshold = result.thresholds.find((t) => t.threshold === 'p99(get) < 50ms')!;
    // The stalls put p99(get) over 50 ms, but the probe saw the instrument itself stalled that long.
    const observed = threshold.observed;
    const scale = observed.endsWith('ms') ? 1 : observed.endsWith('us') ? 1e-3 : 1e3;
    expect(Number.parseFloat(observed) * scale).toBeGreaterThan(50);
    expect(threshold.status).toBe('cannot-judge');
    expect(threshold.note).toContain('(before and during the load)');
    expect(result.verdict).toBe('pass');
    expect(renderHumanReport(result)).toMatch(/during the load, 50\/s probe: p50 .*, p99 .*, \d+ calls/);
  });
});
