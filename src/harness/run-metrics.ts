import { encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { FaultReport } from './fault-injector.js';
import { ALL_OPS, REPORT_OPS } from './op-kinds.js';
import type { RunRecorder } from './run-recorder.js';
import type { LatencySummary, OpSummary, ResourceReport } from './run-result.js';
import type { MetricSource } from './thresholds.js';

export const latencySummary = (h: Histogram): LatencySummary => ({
  p50: h.getValueAtPercentile(50),
  p90: h.getValueAtPercentile(90),
  p99: h.getValueAtPercentile(99),
  p999: h.getValueAtPercentile(99.9),
  max: h.maxValue,
  mean: h.mean,
});

const OP_ORDER: readonly string[] = [...REPORT_OPS, ALL_OPS];

export function summariseOps(recorder: RunRecorder): OpSummary[] {
  return [...recorder.stats.entries()]
    .sort(([a], [b]) => OP_ORDER.indexOf(a) - OP_ORDER.indexOf(b))
    .map(([op, s]) => ({
      op,
      count: s.count,
      ok: s.ok,
      errorsByCode: Object.fromEntries(s.errorsByCode),
      replayed: s.replayed,
      throughputPerS: s.throughputPerS,
      latencyUs: latencySummary(s.latencyUs),
      latencyHistogram: encodeIntoCompressedBase64(s.latencyUs),
      serviceUs: latencySummary(s.serviceUs),
      ...(s.serverUs.totalCount > 0 ? { serverUs: latencySummary(s.serverUs) } : {}),
      ...(s.sendLateUs.totalCount > 0 ? { sendLatenessUs: latencySummary(s.sendLateUs) } : {}),
      offered: s.offered,
      dropped: s.dropped,
      warmup: s.warmup,
    }));
}

export function metricSource(
  recorder: RunRecorder,
  resources: ResourceReport,
  faults: FaultReport | undefined,
): MetricSource {
  const inProcessOnly = { unavailable: 'measured for the in-process server only' };
  return (t) => {
    if (t.op !== undefined) {
      const stats = recorder.stats.get(t.op);
      if (stats === undefined || stats.count === 0) {
        if (t.metric === 'dropped') return 0;
        return { unavailable: `no measured ${t.op === '*' ? '' : `${t.op} `}calls` };
      }
      if (t.percentile !== undefined) return stats.latencyUs.getValueAtPercentile(t.percentile);
      switch (t.metric) {
        case 'max':
          return stats.latencyUs.maxValue;
        case 'mean':
          return stats.latencyUs.mean;
        case 'error_rate':
          return stats.errors / stats.count;
        case 'rate':
          return stats.throughputPerS;
        case 'dropped':
          return stats.dropped;
      }
      return { unavailable: `unknown metric ${t.metric}` };
    }
    if (t.metric === 'kills' || t.metric === 'max_down') {
      if (faults === undefined) return { unavailable: 'no faults injected' };
      if (t.metric === 'kills') return faults.kills;
      // Thresholds compare times in microseconds.
      return Math.max(0, ...faults.restarts.map((x) => x.downMs)) * 1_000;
    }
    const r = resources;
    const growth = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined || before === 0 ? inProcessOnly : (after - before) / before;
    switch (t.metric) {
      case 'max_rss':
        // A spawned server is measured on its own; in-process, client and server share one process.
        if (r.serverRssMaxBytes !== undefined) return r.serverRssMaxBytes;
        return r.server === 'in-process'
          ? r.rssMaxBytes
          : { unavailable: 'server RSS is not observable on a remote target' };
      case 'rss_growth':
        return r.server === 'in-process' ? growth(r.rssBaselineBytes, r.rssAfterBytes) : inProcessOnly;
      case 'server_heap_growth':
        return growth(r.serverHeapBaselineBytes, r.serverHeapAfterBytes);
      case 'server_rss_growth':
      case 'server_anon_rss_growth': {
        const m = r.serverMemory;
        if (m === undefined) return { unavailable: 'server RSS growth needs a spawned server' };
        return t.metric === 'server_rss_growth'
          ? growth(m.baseline.rssBytes, m.after.rssBytes)
          : growth(m.baseline.anonBytes, m.after.anonBytes);
      }
      case 'server_elu':
        return r.serverEventLoopUtilization ?? inProcessOnly;
      case 'txid_sweep_ratio': {
        if (r.txidSwept === undefined || r.txidsHeld === undefined) return inProcessOnly;
        const seen = r.txidSwept + r.txidsHeld;
        return seen === 0 ? 0 : r.txidSwept / seen;
      }
    }
    return { unavailable: `unknown metric ${t.metric}` };
  };
}
