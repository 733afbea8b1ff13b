import type { InvariantVerdict, RunObservation } from '../history.js';
import { describeRecord, Evidence } from './evidence.js';

const countBy = (codes: string[]): string =>
  [...new Set(codes)]
    .sort()
    .map((c) => `${c} x${codes.filter((x) => x === c).length}`)
    .join(', ');

/**
 * Only the errors the scenario expects: every failed call's code is allowed. Indeterminate calls
 * (deadline exceeded, connection lost) are not failures; they are counted and reported apart.
 */
export function checkExpectedErrors(
  observation: RunObservation,
  allowedErrorCodes: string[],
): InvariantVerdict {
  const allowed = new Set(allowedErrorCodes);
  const evidence = new Evidence();
  const failCodes: string[] = [];
  const infoCodes: string[] = [];
  for (const r of observation.records) {
    if (r.type === 'fail') {
      failCodes.push(r.code ?? 'UNKNOWN');
      if (!allowed.has(r.code ?? 'UNKNOWN')) evidence.add(`unexpected ${r.code}: ${describeRecord(r)}`);
    } else if (r.type === 'info') infoCodes.push(r.code ?? 'UNKNOWN');
  }
  const deadlines = infoCodes.filter((c) => c === 'DEADLINE_EXCEEDED').length;
  const otherInfo = infoCodes.filter((c) => c !== 'DEADLINE_EXCEEDED');
  return {
    name: 'expected-errors',
    passed: evidence.empty,
    summary: `errors [${countBy(failCodes) || 'none'}] within allowed [${allowedErrorCodes.join(', ')}]; indeterminate: ${deadlines} DEADLINE_EXCEEDED${otherInfo.length > 0 ? `, ${countBy(otherInfo)}` : ''}`,
    evidence: evidence.toArray(),
  };
}
