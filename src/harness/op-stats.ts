import * as hdr from 'hdr-histogram-js';
import { HARNESS_LIMITS } from './harness-limits.js';

/** A latency histogram in microseconds; every build option spelled out (the defaults differ by version). */
export function buildLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 64,
    autoResize: false,
    lowestDiscernibleValue: HARNESS_LIMITS.histogramLowestUs,
    highestTrackableValue: HARNESS_LIMITS.histogramHighestUs,
    numberOfSignificantValueDigits: HARNESS_LIMITS.histogramSignificantDigits,
    useWebAssembly: false,
  });
}

/** Counts and latency of one op kind (or all of them) over the measured, non-warm-up calls. */
export class OpStats {
  /** Open loop: from the scheduled send time; closed loop: from the actual send. */
  readonly latencyUs = buildLatencyHistogram();
  /** From the actual send to the answer, always. */
  readonly serviceUs = buildLatencyHistogram();
  /** The server's own handling time (its trailer), for the calls that carried one. */
  readonly serverUs = buildLatencyHistogram();
  /**
   * Open loop: how late each send left after its scheduled time. The instrument's own figure:
   * it is inside every latency above and is not the server's.
   */
  readonly sendLateUs = buildLatencyHistogram();
  /**
   * The latency of the calls recorded since the interval sampler last read and reset it. Recorded
   * with every call (a second recordValue is ~0.2 us), so a sample is a read and a reset instead
   * of copying and subtracting the cumulative histogram: that took 1-10 ms of the generator's
   * loop every second (allocation and GC of the copies), during which sends could not leave.
   */
  readonly intervalLatencyUs = buildLatencyHistogram();
  count = 0;
  ok = 0;
  /** Replayed answers among ok and errors. */
  replayed = 0;
  readonly errorsByCode = new Map<string, number>();
  /** Open loop: sends that were due but dropped because too many were in flight. */
  dropped = 0;
  /** Open loop: sends that were due (offered), including dropped ones. */
  offered = 0;
  warmup = 0;
  /** Measured window: first measured send to last measured answer (nanoseconds since run start). */
  firstInvokeNs: bigint | undefined;
  lastCompleteNs: bigint | undefined;

  record(
    invokeNs: bigint,
    completeNs: bigint,
    latencyUs: number,
    serviceUs: number,
    code: string | undefined,
    replayed: boolean,
    serverUs?: number,
    sendLateUs?: number,
  ): void {
    this.count++;
    if (this.firstInvokeNs === undefined || invokeNs < this.firstInvokeNs) this.firstInvokeNs = invokeNs;
    if (this.lastCompleteNs === undefined || completeNs > this.lastCompleteNs)
      this.lastCompleteNs = completeNs;
    if (code === undefined) this.ok++;
    else this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    if (replayed) this.replayed++;
    this.latencyUs.recordValue(clampUs(latencyUs));
    this.intervalLatencyUs.recordValue(clampUs(latencyUs));
    this.serviceUs.recordValue(clampUs(serviceUs));
    if (serverUs !== undefined) this.serverUs.recordValue(clampUs(serverUs));
    if (sendLateUs !== undefined) this.sendLateUs.recordValue(clampUs(sendLateUs));
  }

  /** Measured calls per second over the measured window. */
  get throughputPerS(): number {
    if (this.firstInvokeNs === undefined || this.lastCompleteNs === undefined) return 0;
    const windowS = Number(this.lastCompleteNs - this.firstInvokeNs) / 1e9;
    return windowS > 0 ? this.count / windowS : 0;
  }

  get errors(): number {
    return this.count - this.ok;
  }
}

function clampUs(us: number): number {
  return Math.min(
    Math.max(Math.round(us), HARNESS_LIMITS.histogramLowestUs),
    HARNESS_LIMITS.histogramHighestUs,
  );
}
