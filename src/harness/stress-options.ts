import { InvalidArgumentError } from 'commander';
import { HARNESS_LIMITS } from './harness-limits.js';

/** `--target host:port[,host:port...]`: each must name a host and a port. */
export function parseTargets(value: string): string[] {
  const targets = value.split(',').map((t) => t.trim());
  for (const t of targets) {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(t);
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65_535) {
      throw new InvalidArgumentError(`"${t}" is not host:port`);
    }
  }
  return targets;
}

export function parseSeed(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 32 - 1) {
    throw new InvalidArgumentError('expected an integer from 0 to 4294967295');
  }
  return Number(value);
}

export function parseGeneratorThreads(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > HARNESS_LIMITS.maxGeneratorThreads) {
    throw new InvalidArgumentError(`expected an integer from 1 to ${HARNESS_LIMITS.maxGeneratorThreads}`);
  }
  return Number(value);
}
