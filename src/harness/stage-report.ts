import type { Histogram } from 'hdr-histogram-js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpRecord } from './history.js';
import { buildLatencyHistogram } from './op-stats.js';
import type { GroupResult } from './run-group.js';
import { formatDurationUs } from './units.js';

interface OpTally {
  count: number;
  errors: number;
  latencyUs: Histogram;
}

/**
 * A ramp's figures per stage, after the run: each sent call is binned by its scheduled send time
 * into its group's stage, and each op's latency (from the scheduled send, as in the main table;
 * warm-up excluded) is read from a histogram per stage. Offered and dropped come from the schedule
 * itself. Batch items count one by one, as their own ops. Nothing of this runs during the load.
 */
export function addStageFigures(groups: readonly GroupResult[], records: readonly OpRecord[]): void {
  const ramps = groups.filter((g) => g.stages !== undefined && (g.scheduleStarts?.length ?? 0) > 0);
  if (ramps.length === 0) return;
  const byGroup = new Map<
    string,
    {
      group: GroupResult;
      starts: { callerBase: number; originNs: bigint }[];
      tallies: Map<string, OpTally>[];
    }
  >();
  for (const g of ramps) {
    byGroup.set(`${g.phase}\u0000${g.name}`, {
      group: g,
      // Each generator thread's schedule has its own origin (and uniform offset): its calls are
      // told apart by caller id, each thread having its own range from its callerBase up.
      starts: [...g.scheduleStarts!]
        .sort((a, b) => a.callerBase - b.callerBase)
        .map((s) => ({
          callerBase: s.callerBase,
          originNs: BigInt(Math.round(s.startedAtS * 1e9 + s.offsetMs * 1e6)),
        })),
      tallies: g.stages!.map(() => new Map()),
    });
  }
  for (const r of records) {
    if (r.scheduledNs === undefined) continue;
    const entry = byGroup.get(`${r.phase}\u0000${r.group}`);
    if (entry === undefined) continue;
    let k = entry.starts.length - 1;
    while (k > 0 && r.caller < entry.starts[k]!.callerBase) k--;
    const dueMs = Number(r.scheduledNs - entry.starts[k]!.originNs) / 1e6;
    const stages = entry.group.stages!;
    // Stages are few (at most 100): a linear scan from the end finds the last one begun by then.
    let i = stages.length - 1;
    while (i > 0 && dueMs < stages[i]!.startMs) i--;
    for (const op of [r.op, '*']) {
      const tallies = entry.tallies[i]!;
      let t = tallies.get(op);
      if (t === undefined) {
        t = { count: 0, errors: 0, latencyUs: buildLatencyHistogram() };
        tallies.set(op, t);
      }
      t.count++;
      if (r.type !== 'ok') t.errors++;
      if (r.completeNs >= 0n && r.warmup !== true) {
        const us = Math.round(Number(r.completeNs - r.scheduledNs) / 1000);
        t.latencyUs.recordValue(
          Math.min(Math.max(us, HARNESS_LIMITS.histogramLowestUs), HARNESS_LIMITS.histogramHighestUs),
        );
      }
    }
  }
  for (const { group, tallies } of byGroup.values()) {
    for (const [i, stage] of group.stages!.entries()) {
      stage.ops = [...tallies[i]!.entries()]
        .sort(([a], [b]) => (a === '*' ? 1 : b === '*' ? -1 : a.localeCompare(b)))
        .map(([op, t]) => ({
          op,
          count: t.count,
          errors: t.errors,
          p50Us: t.latencyUs.getValueAtPercentile(50),
          p99Us: t.latencyUs.getValueAtPercentile(99),
        }));
    }
  }
}

export const STAGE_COLUMNS = [
  'stage',
  'time',
  'target rate',
  'offered/s',
  'sent/s',
  'dropped',
  'op',
  'calls',
  'errors',
  'p50',
  'p99',
] as const;

/** A ramp's table, one row per stage and op (the stage's own cells on its first row), for both reports. */
export function stageRows(group: GroupResult): string[][] {
  const rows: string[][] = [];
  for (const [i, s] of (group.stages ?? []).entries()) {
    const seconds = (s.endMs - s.startMs) / 1000;
    const perS = (n: number) => (seconds > 0 ? (n / seconds).toFixed(1) : '-');
    const head = [
      String(i + 1),
      `${fmtS(s.startMs)}-${fmtS(s.endMs)}`,
      `${fmtRate(s.fromPerS)} -> ${fmtRate(s.toPerS)}/s`,
      perS(s.offered),
      perS(s.offered - s.dropped),
      String(s.dropped),
    ];
    const ops = s.ops ?? [];
    if (ops.length === 0) rows.push([...head, '-', '0', '0', '-', '-']);
    for (const [j, o] of ops.entries()) {
      rows.push([
        ...(j === 0 ? head : head.map(() => '')),
        o.op === '*' ? 'all' : o.op,
        String(o.count),
        String(o.errors),
        formatDurationUs(o.p50Us),
        formatDurationUs(o.p99Us),
      ]);
    }
  }
  return rows;
}

const fmtS = (ms: number) => `${Number((ms / 1000).toFixed(3))}s`;
const fmtRate = (r: number) => String(Number(r.toFixed(1)));
