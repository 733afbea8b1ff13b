import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { formatChange, formatComparisonValue } from './compare-baseline.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { PAGE_SCRIPT } from './html-page-script.js';
import type { IntervalSeries } from './interval-series.js';
import { latencyAtTicks, percentileTicks } from './percentile-distribution.js';
import type { LatencySummary, RunResult } from './run-result.js';
import { STAGE_COLUMNS, stageRows } from './stage-report.js';
import { formatBytes, formatDurationUs } from './units.js';

/** Text from the run (scenario and group names, messages, evidence) made inert in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/**
 * JSON inside a <script> block: no `<` can close the element and no U+2028/2029 can end a line,
 * whatever the strings hold.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

let assets: { js: string; css: string } | undefined;

/** uPlot's own files, read from the installed package and inlined: the page opens offline. */
function uplotAssets(): { js: string; css: string } {
  if (assets === undefined) {
    const require = createRequire(import.meta.url);
    assets = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return assets;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

interface PlotSeries {
  label: string;
  values: (number | null)[];
  dash?: boolean;
}

interface SectionData {
  pct?: { x: number[]; series: PlotSeries[] };
  /** `marks`: where a ramp's stages begin, in seconds since the run started (dashed lines). */
  time?: { x: number[]; latency: PlotSeries[]; rate: PlotSeries[]; marks: number[] };
}

/** Stage starts of every ramp in the run (after the first), on the over-time plots' axis. */
function stageMarks(r: RunResult): number[] {
  const marks: number[] = [];
  for (const g of r.groups) {
    const origin = g.scheduleStarts?.[0]?.startedAtS;
    if (origin === undefined || g.stages === undefined) continue;
    for (const st of g.stages.slice(1)) marks.push(origin + st.startMs / 1000);
    marks.push(origin + (g.stages.at(-1)?.endMs ?? 0) / 1000);
  }
  return marks;
}

const toMs = (v: number | null) => (v === null ? null : v / 1000);

/** The plots' data for one run: the percentile distribution per op, and its per-second series. */
function sectionData(r: RunResult): SectionData {
  const out: SectionData = {};
  const withHistogram = r.ops.filter((o) => o.latencyHistogram !== undefined && o.count > 0);
  if (withHistogram.length > 0) {
    const ticks = percentileTicks();
    const series = withHistogram.map((o) => ({
      label: opLabel(o.op),
      values: latencyAtTicks(o.latencyHistogram!, ticks).map(toMs),
    }));
    // Up to the deepest tick any op reaches (the rest would be an empty stretch of axis).
    const used = Math.max(...series.map((s) => s.values.findLastIndex((v) => v !== null))) + 1;
    out.pct = {
      x: ticks.slice(0, used).map((p) => 1 / (1 - p / 100)),
      series: series.map((s) => ({ ...s, values: s.values.slice(0, used) })),
    };
  }
  // A sliver of an interval (the tail after the last tick) makes a rate out of a handful of calls.
  const intervals = (r.intervals ?? [])
    .map((s) => withoutSlivers(s))
    .filter((s) => s.count.some((n) => n > 0));
  const first = intervals[0];
  if (first !== undefined) {
    const all = intervals.find((s) => s.op === '*');
    const perOp = intervals.filter((s) => s.op !== '*');
    const perS = (s: IntervalSeries, column: number[]) =>
      column.map((n, i) => (s.spanS[i]! > 0 ? n / s.spanS[i]! : null));
    const latency: PlotSeries[] = perOp.map((s) => ({
      label: `p99 ${opLabel(s.op)}`,
      values: s.p99Us.map(toMs),
    }));
    if (all !== undefined) {
      latency.push({ label: 'p99 all', values: all.p99Us.map(toMs) });
      latency.push({ label: 'p50 all', values: all.p50Us.map(toMs), dash: true });
    }
    const rate: PlotSeries[] = perOp.map((s) => ({
      label: `${opLabel(s.op)} answered`,
      values: perS(s, s.count),
    }));
    if (all !== undefined) {
      rate.push({ label: 'all answered', values: perS(all, all.count) });
      rate.push({ label: 'errors', values: perS(all, all.errors) });
      if (all.offered.some((n) => n > 0))
        rate.push({ label: 'offered (open loop)', values: perS(all, all.offered) });
      if (all.dropped.some((n) => n > 0)) rate.push({ label: 'dropped', values: perS(all, all.dropped) });
    }
    out.time = { x: first.endS, latency, rate, marks: stageMarks(r) };
  }
  return out;
}

const MIN_PLOTTED_SPAN_S = 0.25;

function withoutSlivers(s: IntervalSeries): IntervalSeries {
  const keep = s.spanS.map((span) => span >= MIN_PLOTTED_SPAN_S);
  const pick = <T>(column: T[]) => column.filter((_, i) => keep[i]);
  return {
    op: s.op,
    endS: pick(s.endS),
    spanS: pick(s.spanS),
    count: pick(s.count),
    errors: pick(s.errors),
    offered: pick(s.offered),
    dropped: pick(s.dropped),
    p50Us: pick(s.p50Us),
    p99Us: pick(s.p99Us),
    maxUs: pick(s.maxUs),
  };
}

const opLabel = (op: string) => (op === '*' ? 'all' : op);
const us = (x: number) => formatDurationUs(x);

function table(head: string[], rows: string[][], className = ''): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${className}"><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

/** A cell of plain text (escaped); cells built of markup are passed as they are. */
const text = (value: string | number) => escapeHtml(String(value));

function status(kind: 'pass' | 'fail' | 'skipped' | 'cannot-judge'): string {
  const label = { pass: 'pass', fail: 'FAIL', skipped: 'skipped', 'cannot-judge': 'CANNOT JUDGE' }[kind];
  return `<span class="status ${kind}">${label}</span>`;
}

function latencyCells(l: LatencySummary): string[] {
  return [l.p50, l.p90, l.p99, l.p999, l.max].map((x) => text(us(x)));
}

const VERDICT_TEXT: Record<RunResult['verdict'], string> = {
  pass: 'pass',
  'invariant-failed': 'invariant FAILED',
  'threshold-failed': 'threshold FAILED',
};

function renderSection(r: RunResult, i: number, exitCode: number | undefined, plots: SectionData): string {
  const out: string[] = [];
  const verdictClass = r.verdict === 'pass' ? 'pass' : 'fail';
  out.push(
    `<section id="s${i}"><h2>${text(r.scenario)} <span class="status ${verdictClass}">${text(VERDICT_TEXT[r.verdict])}</span></h2>`,
    `<p class="meta">file ${text(r.file)} &middot; kind ${text(r.kind)} &middot; seed ${text(r.seed)} &middot; target ${text(r.target)} &middot; started ${text(r.startedAt)} &middot; ${text((r.durationMs / 1000).toFixed(1))} s${exitCode === undefined ? '' : ` &middot; exit code ${text(exitCode)}`}</p>`,
  );
  if (r.ops.length > 0) {
    const rows = r.ops.map((o) => {
      const errors =
        Object.entries(o.errorsByCode)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ') || '0';
      return [
        text(opLabel(o.op)),
        text(o.count),
        text(o.ok),
        text(errors),
        text(o.throughputPerS.toFixed(1)),
        ...latencyCells(o.latencyUs),
      ];
    });
    out.push(
      '<h3>Latency</h3><p class="note">open loop: from the scheduled send time; closed loop: from the send. Warm-up excluded.</p>',
      table(['op', 'count', 'ok', 'errors', 'rate/s', 'p50', 'p90', 'p99', 'p99.9', 'max'], rows, 'num'),
      plots.pct === undefined ? '' : `<div class="plot" id="plot-pct-${i}"></div>`,
      plots.time === undefined
        ? '<p class="note">no over-time plots: the load did not fill a quarter of a second.</p>'
        : `<div class="plot" id="plot-latency-${i}"></div>\n<div class="plot" id="plot-rate-${i}"></div>`,
    );
    const timed = r.ops.filter((o) => o.serverUs !== undefined);
    if (timed.length > 0) {
      out.push(
        '<h3>Client latency beside server time</h3><p class="note">server time: the ledger-server-time-us trailer, handler start to answer.</p>',
        table(
          ['op', 'client p50', 'server p50', 'client p99', 'server p99', 'client p99.9', 'server p99.9'],
          timed.map((o) => {
            const c = o.latencyUs;
            const v = o.serverUs!;
            return [opLabel(o.op), us(c.p50), us(v.p50), us(c.p99), us(v.p99), us(c.p999), us(v.p999)].map(
              text,
            );
          }),
          'num',
        ),
      );
    }
  }
  if (r.floor !== undefined) {
    const f = r.floor;
    const rows = [
      [
        `before the load, ${f.ratePerS}/s${f.rateSource === 'default' ? ' (default)' : ''}, ${f.calls} calls`,
        f.latencyUs,
      ],
      ...(f.during === undefined
        ? []
        : [
            [
              `during the load, ${f.during.ratePerS}/s probe, ${f.during.calls} calls`,
              f.during.latencyUs,
            ] as const,
          ]),
    ] as const;
    out.push(
      `<h3>Instrument floor</h3><p class="note">latency against a null responder; a latency threshold missed under ${HARNESS_LIMITS.floorJudgeFactor}x the floor (the probe's during the load once it made ${HARNESS_LIMITS.floorProbeMinCalls} calls, else the worse of the two) cannot be judged; one that is met passes, since the instrument only adds latency.</p>`,
      table(
        ['measured', 'p50', 'p90', 'p99', 'p99.9', 'max'],
        rows.map(([what, l]) => [text(what), ...latencyCells(l)]),
        'num',
      ),
    );
  }
  const open = r.groups.filter((g) => g.model === 'open');
  if (open.length > 0) {
    out.push(
      '<h3>Open loop</h3>',
      table(
        ['phase', 'group', 'offered/s', 'achieved/s', 'dropped'],
        open.map((g) =>
          [
            g.phase,
            g.name,
            (g.offeredRatePerS ?? 0).toFixed(1),
            (g.achievedRatePerS ?? 0).toFixed(1),
            g.dropped ?? 0,
          ].map(text),
        ),
        'num',
      ),
    );
  }
  for (const g of open.filter((x) => x.stages !== undefined)) {
    out.push(
      `<h3>Ramp ${text(g.name)} by stage</h3><p class="note">latency from the scheduled send; calls binned by when they were due.</p>`,
      table(
        [...STAGE_COLUMNS],
        stageRows(g).map((row) => row.map(text)),
        'num',
      ),
    );
  }
  if (r.verdicts.length > 0) {
    out.push(
      '<h3>Invariants</h3>',
      table(
        ['invariant', 'result', 'summary'],
        r.verdicts.map((v) => [
          text(v.name),
          status(v.passed ? 'pass' : 'fail'),
          text(v.summary) +
            (v.evidence.length === 0
              ? ''
              : `<details><summary>${text(v.evidence.length)} evidence lines</summary><pre>${text(v.evidence.join('\n'))}</pre></details>`),
        ]),
      ),
    );
  }
  if (r.thresholds.length > 0) {
    out.push(
      '<h3>Thresholds</h3>',
      table(
        ['threshold', 'limit', 'observed', 'result'],
        r.thresholds.map((t) => [
          text(t.threshold),
          text(t.limit),
          text(t.observed),
          status(t.status) + (t.note === undefined ? '' : ` ${text(t.note)}`),
        ]),
      ),
    );
  }
  if (r.comparison !== undefined) {
    out.push(
      `<h3>Against the baseline</h3><p class="note">${text(r.comparison.baselineFile)}</p>`,
      table(
        ['rule', 'op', 'baseline', 'this run', 'change', 'result'],
        r.comparison.rows.map((c) => [
          text(c.rule),
          text(opLabel(c.op)),
          text(formatComparisonValue(c.metric, c.baseline)),
          text(formatComparisonValue(c.metric, c.current)),
          text(formatChange(c.change)),
          status(c.regressed ? 'fail' : 'pass'),
        ]),
      ),
    );
  }
  if (r.resources !== undefined) {
    const x = r.resources;
    out.push(
      '<h3>Resources</h3>',
      `<p class="meta">process CPU ${text(x.processCpuCores.toFixed(2))} cores &middot; client ELU ${text((x.clientEventLoopUtilization * 100).toFixed(0))}% &middot; RSS max ${text(formatBytes(x.rssMaxBytes))}${x.serverRssMaxBytes === undefined ? '' : ` &middot; server RSS max ${text(formatBytes(x.serverRssMaxBytes))}`}</p>`,
    );
  }
  if (r.stuckPhases.length > 0) {
    out.push(
      '<h3>Stuck phases</h3>',
      ...r.stuckPhases.map(
        (s) =>
          `<p>${text(s.phase)}: ${text(s.pending.length)} calls pending after ${text(s.timeoutMs)} ms</p><pre>${text(s.pending.join('\n'))}</pre>`,
      ),
    );
  }
  if (r.notes.length > 0) {
    out.push('<h3>Notes</h3><ul>', ...r.notes.map((n) => `<li>${text(n)}</li>`), '</ul>');
  }
  out.push('</section>');
  return out.join('\n');
}

const PAGE_STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1150px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.25em; border-top: 1px solid #ccc; padding-top: .8em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
table.num td { text-align: right; } table.num td:first-child { text-align: left; }
.status { font-weight: 600; padding: 0 4px; border-radius: 3px; }
.status.pass { color: #176117; } .status.fail { color: #fff; background: #c62828; }
.status.skipped { color: #666; } .status.cannot-judge { color: #8a5a00; }
.meta, .note { color: #555; } pre { white-space: pre-wrap; font-size: 12px; }
.plot { margin: .8em 0; }
`;

/**
 * One self-contained HTML page for one or more runs (gate: a section per scenario): tables of the
 * report plus uPlot plots, the library inlined, a Content-Security-Policy that lets only this
 * page's own scripts run and nothing load from the network.
 */
export function renderHtmlReport(
  results: readonly RunResult[],
  exitCodes: readonly (number | undefined)[] = [],
): string {
  const { js, css } = uplotAssets();
  const sections = results.map(sectionData);
  const data = jsonForScript({ sections });
  const title =
    results.length === 1
      ? `ledgerctl: ${results[0]!.scenario}`
      : `ledgerctl gate: ${results.length} scenarios`;
  const summary =
    results.length > 1
      ? table(
          ['scenario', 'result', 'exit code'],
          results.map((r, i) => [
            `<a href="#s${i}">${text(r.scenario)}</a>`,
            `<span class="status ${r.verdict === 'pass' ? 'pass' : 'fail'}">${text(VERDICT_TEXT[r.verdict])}</span>`,
            text(exitCodes[i] ?? '-'),
          ]),
        )
      : '';
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(js)} ${sha256(PAGE_SCRIPT)}`,
    "style-src 'unsafe-inline'",
    "img-src 'none'",
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${text(title)}</title>
<style>${css}</style>
<style>${PAGE_STYLE}</style>
</head>
<body>
<h1>${text(title)}</h1>
${summary}
${results.map((r, i) => renderSection(r, i, exitCodes[i], sections[i]!)).join('\n')}
<script id="report-data" type="application/json">${data}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
