import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** Microsecond histograms; every build option spelled out so every thread builds the same shape. */
export function newHistogramUs(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Worker threads hand histograms over as compressed base64, merged on the main thread. */
export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function mergeEncoded(into: Histogram, encoded: string): void {
  into.add(hdr.decodeFromCompressedBase64(encoded, 32, false));
}

export interface LatencySummaryUs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarizeUs(histogram: Histogram): LatencySummaryUs {
  return {
    count: histogram.totalCount,
    p50: histogram.getValueAtPercentile(50),
    p90: histogram.getValueAtPercentile(90),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
  };
}
