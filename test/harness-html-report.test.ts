import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeHtml, jsonForScript, renderHtmlReport } from '../src/harness/html-report.js';
import { IntervalSampler } from '../src/harness/interval-series.js';
import { OpStats } from '../src/harness/op-stats.js';
import { latencyAtTicks, percentileTicks } from '../src/harness/percentile-distribution.js';
import { summariseOps } from '../src/harness/run-metrics.js';
import type { RunRecorder } from '../src/harness/run-recorder.js';
import type { RunResult } from '../src/harness/run-result.js';

/** The report's own structure, checked without a browser (test-browser/ opens it in Chromium). */
const EVIL = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>\u2028&amp;';

function runWith(name: string): RunResult {
  const stats = new Map<string, OpStats>([
    ['transfer', new OpStats()],
    ['*', new OpStats()],
  ]);
  let now = 0n;
  const sampler = new IntervalSampler(stats, () => now, 1_000);
  for (let s = 1; s <= 3; s++) {
    for (let i = 0; i < 100; i++) {
      for (const o of stats.values()) o.record(0n, 1_000_000n, 100 + i * s, 90, undefined, false);
    }
    now = BigInt(s) * 1_000_000_000n;
    sampler.sample();
  }
  return {
    scenario: name,
    file: `${name}.yaml`,
    kind: 'load',
    seed: 1,
    target: 'in-process',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 3000,
    ops: summariseOps({ stats } as unknown as RunRecorder),
    intervals: sampler.stop(),
    groups: [{ name, phase: name, model: 'open', elapsedMs: 3000, calls: 300, dropped: 0 }],
    verdicts: [{ name, passed: false, summary: name, evidence: [name] }],
    thresholds: [{ threshold: name, limit: name, observed: name, status: 'cannot-judge', note: name }],
    resources: undefined,
    stuckPhases: [{ phase: name, timeoutMs: 1, pending: [name] }],
    notes: [name],
    verdict: 'invariant-failed',
  };
}

describe('HTML report', () => {
  it('escapes text and script data whatever they hold', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const json = jsonForScript({ s: EVIL });
    expect(json).not.toMatch(/[<>\u2028]/);
    expect(JSON.parse(json)).toEqual({ s: EVIL });
  });

  it('a hostile run leaves no markup of its own: every string from the run is text', () => {
    const html = renderHtmlReport([runWith(EVIL), runWith('plain')], [1, 0]);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script>alert');
    // Exactly the page's three script blocks: data, uPlot, the page script.
    expect(html.match(/<script/g)).toHaveLength(3);
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(html).toContain(escapeHtml(EVIL));
    expect(html).toContain('<a href="#s1">plain</a>');
  });

  it('is self-contained: uPlot inlined, nothing fetched, and the CSP allows exactly its own scripts', () => {
    const html = renderHtmlReport([runWith('plain')]);
    expect(html).toContain('var uPlot=');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/
      .exec(html)![1]!
      .replaceAll('&#39;', "'");
    expect(csp).toContain("default-src 'none'");
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(2);
    for (const body of scripts) {
      const hash = createHash('sha256').update(body, 'utf8').digest('base64');
      expect(csp).toContain(`'sha256-${hash}'`);
    }
  });

  it('plots percentiles up to the deepest one the samples resolve, ending at the max', () => {
    const o = new OpStats();
    for (let i = 1; i <= 1000; i++) o.record(0n, 1n, i, i, undefined, false);
    const ops = summariseOps({ stats: new Map([['get', o]]) } as unknown as RunRecorder);
    const ticks = percentileTicks();
    expect(ticks[0]).toBe(0);
    expect(ticks[5]).toBeCloseTo(50, 9);
    expect(ticks[10]).toBeCloseTo(75, 9);
    const values = latencyAtTicks(ops[0]!.latencyHistogram!, ticks);
    expect(values[5]).toBe(500);
    const last = values.findLastIndex((v) => v !== null);
    // 1000 samples resolve 1/(1-p) up to 1000 (99.9%); the next tick carries the max.
    expect(1 / (1 - ticks[last - 1]! / 100)).toBeLessThanOrEqual(1000);
    expect(1 / (1 - ticks[last]! / 100)).toBeGreaterThan(1000);
    expect(values[last]).toBe(1000);
  });
});
