import Table from 'cli-table3';
import type { InstrumentFloor } from './calibrate.js';
import { type Comparison, formatChange, formatComparisonValue } from './compare-baseline.js';
import type { FaultReport } from './fault-injector.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { ProcessMemory } from './process-rss.js';
import type { LatencySummary, RunResult } from './run-result.js';
import { STAGE_COLUMNS, stageRows } from './stage-report.js';
import { tableStyle } from './table-style.js';
import { formatBytes, formatDurationUs } from './units.js';

function table(head: string[], colWidths?: number[]): Table.Table {
  const style = tableStyle();
  // Long summaries wrap inside their column instead of stretching the table past the terminal.
  const layout = colWidths === undefined ? {} : { colWidths, wordWrap: true };
  return new Table(style === undefined ? { head, ...layout } : { head, style, ...layout });
}

const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const us = (x: number) => formatDurationUs(x);

function latencyCells(l: LatencySummary): string[] {
  return [us(l.p50), us(l.p90), us(l.p99), us(l.p999), us(l.max)];
}

/** The instrument's own floor in one line (stress reports and `ledgerctl calibrate`). */
export function floorLine(f: InstrumentFloor): string {
  const l = f.latencyUs;
  const rate =
    f.rateSource === 'default'
      ? `${f.ratePerS}/s (default: the run has no open-loop rate)`
      : `${f.ratePerS}/s`;
  const late = f.sendLatenessUs;
  const lateness = late === undefined ? '' : `, send lateness p50 ${us(late.p50)}, p99 ${us(late.p99)}`;
  const before = `instrument floor at ${rate}: p50 ${us(l.p50)}, p99 ${us(l.p99)}, p99.9 ${us(l.p999)}, max ${us(l.max)} (null responder, ${f.calls} calls in ${(f.durationMs / 1000).toFixed(1)}s${lateness}`;
  const d = f.during;
  const during =
    d === undefined
      ? ''
      : `; during the load, ${d.ratePerS}/s probe: p50 ${us(d.latencyUs.p50)}, p99 ${us(d.latencyUs.p99)}, p99.9 ${us(d.latencyUs.p999)}, ${d.calls} calls`;
  const judged =
    d !== undefined && d.calls >= HARNESS_LIMITS.floorProbeMinCalls
      ? 'the probe during the load'
      : d === undefined
        ? 'it'
        : 'the worse of them';
  return `${before}${during}; a latency threshold missed under ${HARNESS_LIMITS.floorJudgeFactor}x ${judged} cannot be judged)`;
}

/** The report a person reads on stdout. */
/** `exitCode`: what the CLI will exit with for this run, shown on the result line when given. */
export function renderHumanReport(r: RunResult, verbose = false, exitCode?: number): string {
  const out: string[] = [];
  out.push(
    `scenario ${r.scenario} (${r.file}) kind ${r.kind}  seed ${r.seed}  target ${r.target}  ${(r.durationMs / 1000).toFixed(1)}s`,
  );
  if (r.ops.length > 0) {
    const t = table(['op', 'count', 'ok', 'errors', 'rate/s', 'p50', 'p90', 'p99', 'p99.9', 'max']);
    for (const o of r.ops) {
      const errors =
        Object.entries(o.errorsByCode)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ') || '0';
      t.push([o.op, o.count, o.ok, errors, o.throughputPerS.toFixed(1), ...latencyCells(o.latencyUs)]);
    }
    out.push('\nlatency (open loop: from the scheduled send time; closed loop: from the send)', t.toString());
    const timed = r.ops.filter((o) => o.serverUs !== undefined);
    if (timed.length > 0) {
      const s = table([
        'op',
        'client p50',
        'server p50',
        'client p99',
        'server p99',
        'client p99.9',
        'server p99.9',
      ]);
      for (const o of timed) {
        const c = o.latencyUs;
        const v = o.serverUs!;
        s.push([o.op, us(c.p50), us(v.p50), us(c.p99), us(v.p99), us(c.p999), us(v.p999)]);
      }
      out.push(
        '\nclient latency beside server time (the ledger-server-time-us trailer: handler start to answer)',
        s.toString(),
      );
    }
  }
  if (r.floor !== undefined) out.push(`\n${floorLine(r.floor)}`);
  const open = r.groups.filter((g) => g.model === 'open');
  if (open.length > 0) {
    const t = table([
      'group',
      'offered/s',
      'achieved/s',
      'dropped',
      'service p50',
      'service p99',
      'send late p50',
      'send late p99',
    ]);
    const all = r.ops.find((o) => o.op === '*');
    for (const g of open) {
      t.push([
        g.name,
        (g.offeredRatePerS ?? 0).toFixed(1),
        (g.achievedRatePerS ?? 0).toFixed(1),
        g.dropped ?? 0,
        all ? us(all.serviceUs.p50) : '-',
        all ? us(all.serviceUs.p99) : '-',
        all?.sendLatenessUs ? us(all.sendLatenessUs.p50) : '-',
        all?.sendLatenessUs ? us(all.sendLatenessUs.p99) : '-',
      ]);
    }
    out.push(
      "\nopen loop (service time: from the actual send, all ops; send late: actual send after the scheduled one, the instrument's own part of the latency)",
      t.toString(),
    );
    for (const g of open.filter((x) => x.stages !== undefined)) {
      const st = table([...STAGE_COLUMNS]);
      for (const row of stageRows(g)) st.push(row);
      out.push(
        `\nramp ${g.name} by stage (latency from the scheduled send; calls binned by when they were due)`,
        st.toString(),
      );
    }
  }
  if (r.faults !== undefined) out.push(...faultLines(r.faults));
  if (r.verdicts.length > 0) {
    const t = table(['invariant', 'result', 'summary'], [34, 8, 72]);
    for (const v of r.verdicts) t.push([v.name, v.passed ? 'pass' : 'FAIL', v.summary]);
    out.push('\ninvariants', t.toString());
    for (const v of r.verdicts.filter((x) => !x.passed)) {
      const limit = verbose ? v.evidence.length : HARNESS_LIMITS.reportEvidenceLines;
      out.push(`\n${v.name} FAILED: ${v.summary}`);
      for (const line of v.evidence.slice(0, limit)) out.push(`  ${line}`);
      if (v.evidence.length > limit) out.push(`  ... ${v.evidence.length - limit} more lines (see --json)`);
    }
  }
  if (r.thresholds.length > 0) {
    const t = table(['threshold', 'limit', 'observed', 'result'], [30, 14, 14, 40]);
    for (const th of r.thresholds) {
      t.push([
        th.threshold,
        th.limit,
        th.observed,
        th.status === 'fail'
          ? 'FAIL'
          : th.status === 'cannot-judge'
            ? `CANNOT JUDGE (${th.note})`
            : th.status + (th.note ? ` (${th.note})` : ''),
      ]);
    }
    out.push('\nthresholds', t.toString());
  }
  if (r.resources !== undefined) {
    const x = r.resources;
    const t = table(['resource', 'value', 'meaning']);
    t.push([
      'process CPU',
      `${x.processCpuCores.toFixed(2)} cores`,
      'all threads of this process over wall time',
    ]);
    if (x.generatorCpuCores !== undefined) {
      const server = x.serverCpuCores === undefined ? '' : `, server ${x.serverCpuCores.toFixed(2)}`;
      const other = x.processCpuCores - x.generatorCpuCores - (x.serverCpuCores ?? 0);
      t.push([
        'thread CPU',
        `generator ${x.generatorCpuCores.toFixed(2)}${server}, other ${other.toFixed(2)} cores`,
        'per-thread clocks; other: GC and compiler helpers, libuv',
      ]);
    }
    t.push([
      'client ELU',
      pct(x.clientEventLoopUtilization),
      "busy share of the load generator's event loop",
    ]);
    if (x.server === 'in-process') {
      t.push([
        'server ELU',
        pct(x.serverEventLoopUtilization),
        "busy share of the server thread's event loop",
      ]);
      t.push(['server CPU share', pct(x.serverCpuShare), 'server loop busy time / process CPU time']);
      t.push(['lock-wait share', pct(x.lockWaitShare), 'engine lock waits / write calls service time']);
      t.push([
        'server heap',
        `${formatBytes(x.serverHeapBeforeBytes ?? 0)} -> ${formatBytes(x.serverHeapAfterBytes ?? 0)}`,
        'server isolate, after a GC',
      ]);
      t.push([
        'txids held / swept',
        `${x.txidsHeld} / ${x.txidSwept}`,
        `longest sweep slice ${(x.txidSweepMaxSliceMs ?? 0).toFixed(1)}ms`,
      ]);
    }
    t.push([
      'RSS',
      `${formatBytes(x.rssBeforeBytes)} -> ${formatBytes(x.rssAfterBytes)} (max ${formatBytes(x.rssMaxBytes)})`,
      x.server === 'in-process' ? 'whole process: client and server' : 'this client only',
    ]);
    if (x.serverRssMaxBytes !== undefined) {
      t.push(['server RSS', `max ${formatBytes(x.serverRssMaxBytes)}`, 'spawned server process, sampled']);
    }
    const m = x.serverMemory;
    if (m !== undefined) {
      const at = (p: ProcessMemory) =>
        `${formatBytes(p.rssBytes)} (anon ${formatBytes(p.anonBytes)}, file ${formatBytes(p.fileBytes)})`;
      t.push(['server RSS start', at(m.before), 'file: mapped data-file pages, evictable']);
      t.push(['server RSS baseline', at(m.baseline), 'after the first phase']);
      t.push(['server RSS end', at(m.after), '']);
    }
    t.push([
      'client heap',
      `${formatBytes(x.clientHeapBeforeBytes)} -> ${formatBytes(x.clientHeapAfterBytes)}`,
      'load generator isolate',
    ]);
    out.push('\nresources', t.toString());
  }
  for (const s of r.stuckPhases) {
    out.push(
      `\nphase ${s.phase} hit its ${s.timeoutMs}ms timeout with ${s.pending.length} calls pending (suspected deadlock):`,
    );
    for (const p of s.pending.slice(0, HARNESS_LIMITS.reportEvidenceLines)) out.push(`  ${p}`);
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  const failed = r.verdicts.filter((v) => !v.passed).length;
  const thresholdFails = r.thresholds.filter((t) => t.status === 'fail').length;
  const unjudged = r.thresholds.filter((t) => t.status === 'cannot-judge').length;
  if (unjudged > 0)
    out.push(
      `\n${unjudged} latency thresholds could not be judged: their limits are too close to this instrument's own floor`,
    );
  if (r.comparison !== undefined) out.push(...comparisonLines(r.comparison));
  const regressions = r.comparison?.rows.filter((row) => row.regressed).length ?? 0;
  out.push(
    `\nresult: ${r.verdict === 'pass' && regressions === 0 ? 'PASS' : 'FAIL'} (${failed} invariants failed, ${thresholdFails} thresholds failed${regressions > 0 ? `, ${regressions} regressions against the baseline` : ''}; ${exitCode === undefined ? '' : `exit ${exitCode}; `}seed ${r.seed})`,
  );
  return `${out.join('\n')}\n`;
}

const ms = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(0)}ms`);

/** Kills, restarts (time down, time to ready, recovery as the server logged it) and the retries. */
function faultLines(f: FaultReport): string[] {
  const out = [
    `\nfaults: ${f.kills} kills (${f.signal}), ${f.restarts.length} restarts, ${f.indeterminateCalls} indeterminate calls`,
  ];
  if (f.restarts.length > 0) {
    const t = table(['kill', 'at', 'down', 'to ready', 'recovery', 'recovered']);
    for (const r of f.restarts) {
      const recovered =
        r.recoveredAccounts === undefined
          ? 'n/a'
          : `${r.recoveredAccounts} accounts, ${r.recoveredLogEntries} log entries`;
      t.push([
        r.kill,
        `${(r.atMs / 1000).toFixed(2)}s`,
        ms(r.downMs),
        ms(r.readyMs),
        ms(r.recoveryMs),
        recovered,
      ]);
    }
    const down = f.restarts.map((r) => r.downMs).sort((a, b) => a - b);
    const recovery = f.restarts.flatMap((r) => (r.recoveryMs === undefined ? [] : [r.recoveryMs]));
    out.push(t.toString());
    out.push(
      `down per restart: median ${ms(down[Math.floor(down.length / 2)])}, max ${ms(down.at(-1))}; recovery (server log): max ${recovery.length === 0 ? 'n/a' : ms(Math.max(...recovery))}`,
    );
  }
  if (f.retries !== undefined) {
    const x = f.retries;
    out.push(
      `retried indeterminate writes with their ids: ${x.sent} sent, ${x.replayed} replayed (had landed), ${x.executed} executed now (had not), ${x.refused} refused, ${x.indeterminate} interrupted again`,
    );
  }
  for (const line of [...f.restartFailures, ...f.unexpectedExits]) out.push(`  server: ${line}`);
  return out;
}

/** `--compare`: every op's change against the baseline, with the rule that judged it. */
function comparisonLines(c: Comparison): string[] {
  const t = table(['rule', 'op', 'baseline', 'now', 'change', 'result']);
  for (const row of c.rows) {
    t.push([
      row.rule,
      row.op,
      formatComparisonValue(row.metric, row.baseline),
      formatComparisonValue(row.metric, row.current),
      formatChange(row.change),
      row.regressed ? 'REGRESSED' : 'ok',
    ]);
  }
  return [`\ncompared with ${c.baselineFile}`, t.toString(), ...c.missing.map((m) => `note: ${m}`)];
}
