import { decodeFromCompressedBase64, HistogramLogWriter } from 'hdr-histogram-js';
import type { RunResult } from './run-result.js';

/**
 * Every op's full latency distribution in the HdrHistogram log format (version 1.3), one tagged
 * interval per op (`Tag=<scenario>/<op>`), so HdrHistogram's own tools (HistogramLogProcessor,
 * the online plotter) read it. Values are microseconds; the Interval_Max column is in
 * milliseconds (the format's unit ratio of 1000).
 */
export function renderHdrLog(results: readonly RunResult[]): string {
  const lines: string[] = [];
  const writer = new HistogramLogWriter((text) => lines.push(text));
  const startMs = Date.parse(results[0]?.startedAt ?? new Date().toISOString());
  writer.outputLogFormatVersion();
  // Written here: the library's own StartTime comment ends with an extra blank line.
  lines.push(
    `#[StartTime: ${(startMs / 1000).toFixed(3)} (seconds since epoch), ${new Date(startMs).toISOString()}]\n`,
  );
  writer.outputComment('[values in microseconds; one tagged interval per scenario and op]');
  writer.outputLegend();
  for (const r of results) {
    const offsetS = (Date.parse(r.startedAt) - startMs) / 1000;
    for (const op of r.ops) {
      if (op.latencyHistogram === undefined) continue;
      const histogram = decodeFromCompressedBase64(op.latencyHistogram, 64, false);
      // Tags may not hold commas or spaces; `*` (all ops) reads as `all`.
      histogram.tag = `${r.scenario}/${op.op === '*' ? 'all' : op.op}`.replace(/[,\s]/g, '_');
      writer.outputIntervalHistogram(histogram, offsetS, offsetS + r.durationMs / 1000, 1000);
    }
  }
  return lines.join('');
}
