import { describe, expect, it } from 'vitest';
import type { Caller } from '../src/harness/call-op.js';
import { scriptedSource } from '../src/harness/call-source.js';
import { runGroup } from '../src/harness/run-group.js';
import { RunIds } from '../src/harness/run-ids.js';
import { summariseOps } from '../src/harness/run-metrics.js';
import { RunRecorder } from '../src/harness/run-recorder.js';
import type { GroupSpec } from '../src/harness/scenario-schema.js';
import { SeededRandom } from '../src/harness/seeded-random.js';

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // The generator's loop is stuck (a GC pause, a slow callback): sends cannot leave on time.
  }
}

describe('open-loop send time', () => {
  it('how late each send left is its own histogram; latency still counts from the schedule', async () => {
    const spec = {
      name: 'late',
      script: { op: 'get', account: 'a' },
      load: { model: 'open', rate_per_s: 200, arrivals: 'uniform' },
      duration: 1_000,
    } as GroupSpec;
    const recorder = new RunRecorder(undefined, { keepHistory: false });
    // A responder that answers at once: whatever latency is seen is the instrument's.
    const answer: Caller = async () => ({ type: 'ok' });
    const stall = setTimeout(() => busyWait(60), 400);
    const result = await runGroup({
      phase: 'p',
      spec,
      source: scriptedSource(spec.name, spec.script!, new RunIds('')),
      recorder,
      callers: [answer],
      batchCallers: [],
      random: new SeededRandom(1),
      callerBase: 0,
      deadlineMs: 1_000,
      stop: { stopped: false },
      acknowledged: [],
    });
    clearTimeout(stall);
    expect(result.dropped).toBe(0);
    const all = summariseOps(recorder).find((o) => o.op === '*')!;
    expect(all.count).toBe(200);
    // The sends due during the 60 ms stall left up to 60 ms late: the report says so...
    expect(all.sendLatenessUs!.max).toBeGreaterThanOrEqual(50_000);
    // ...and counts it as latency (no coordinated omission), though every answer was immediate.
    expect(all.latencyUs.max).toBeGreaterThanOrEqual(50_000);
    expect(all.serviceUs.max).toBeLessThan(50_000);
    // Twelve sends fell inside the stall; the rest left near their time.
    expect(all.sendLatenessUs!.p50).toBeLessThan(50_000);
  });

  it('closed loop has no schedule, so no send lateness', async () => {
    const spec = {
      name: 'closed',
      script: { op: 'get', account: 'a' },
      load: { model: 'closed', callers: 2 },
      ops: 20,
    } as GroupSpec;
    const recorder = new RunRecorder(undefined, { keepHistory: false });
    await runGroup({
      phase: 'p',
      spec,
      source: scriptedSource(spec.name, spec.script!, new RunIds('')),
      recorder,
      callers: [async () => ({ type: 'ok' })],
      batchCallers: [],
      random: new SeededRandom(1),
      callerBase: 0,
      deadlineMs: 1_000,
      stop: { stopped: false },
      acknowledged: [],
    });
    const all = summariseOps(recorder).find((o) => o.op === '*')!;
    expect(all.count).toBe(20);
    expect(all.sendLatenessUs).toBeUndefined();
  });
});
