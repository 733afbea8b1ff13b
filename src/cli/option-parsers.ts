import { InvalidArgumentError } from 'commander';
import { LIMITS } from '../domain/limits.js';
import { parseInt64 } from '../domain/money.js';
import { HARNESS_LIMITS } from '../harness/harness-limits.js';
import { parseDurationMs } from '../harness/units.js';

// Commander prints these as "option '--flag <x>' argument 'value' is invalid. <message>", so
// every bad value is reported with the flag and the value that was given.

export function portArg(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) throw new InvalidArgumentError('A port is an integer from 0 to 65535.');
  return port;
}

/** An integer of at least `min`. */
export function intAtLeastArg(min: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!(Number.isSafeInteger(n) && n >= min))
      throw new InvalidArgumentError(`Expected an integer of at least ${min}.`);
    return n;
  };
}

export function positiveIntArg(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(Number.isSafeInteger(n) && n > 0)) throw new InvalidArgumentError('Expected a positive integer.');
  return n;
}

/** Whole milliseconds above 0: a sub-millisecond part would be dropped silently by every timer. */
export function durationArg(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    throw new InvalidArgumentError(
      'Expected a number and a unit (ms, s, m, h, d), e.g. 500ms, 30s, 24h, 90d.',
    );
  }
  if (!(Number.isSafeInteger(ms) && ms > 0)) {
    throw new InvalidArgumentError('Expected a whole number of milliseconds above 0.');
  }
  return ms;
}

/**
 * A duration a timer will hold (Node's timers and grpc-js's deadlines are 32-bit: past 2^31-1 ms,
 * about 24.8 days, they fire after 1 ms instead). Longer values are refused, not cut short.
 */
export function timerDurationArg(value: string): number {
  const ms = durationArg(value);
  if (ms > LIMITS.maxTimerMs) {
    throw new InvalidArgumentError(
      `Longer than a timer can hold: at most ${LIMITS.maxTimerMs} ms (about 24.8 days, e.g. 24d).`,
    );
  }
  return ms;
}

export function nonEmptyArg(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('The value must not be empty.');
  return value;
}

/** An exact int64 amount in minor units: a float or an out-of-range value would be changed silently on the wire. */
export function int64Arg(value: string): bigint {
  const amount = parseInt64(value.trim());
  if (amount === undefined) {
    throw new InvalidArgumentError(
      'Expected an integer amount in minor units within int64 (no fractions, no exponent), e.g. 250 or -100.',
    );
  }
  return amount;
}

/** A harness seed: what makes a run's random choices repeatable, printed in every report. */
export function seedArg(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 32 - 1) {
    throw new InvalidArgumentError('Expected an integer from 0 to 4294967295.');
  }
  return Number(value);
}

export function generatorThreadsArg(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= HARNESS_LIMITS.maxGeneratorThreads)) {
    throw new InvalidArgumentError(`Expected an integer from 1 to ${HARNESS_LIMITS.maxGeneratorThreads}.`);
  }
  return n;
}

/** A rate or other quantity that may be 0 or fractional; the scenario schema checks its range. */
export function nonNegativeArg(value: string): number {
  const n = /^\d+(?:\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) throw new InvalidArgumentError('Expected a number >= 0.');
  return n;
}
