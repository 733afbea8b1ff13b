import { randomBytes } from 'node:crypto';
import type { ClientSecurity } from '../../client/client-security.js';
import { LedgerClient } from '../../client/ledger-client.js';
import type { InvariantVerdict, OpRecord } from '../history.js';
import { batchRules } from './batch-rules.js';
import type { ConformanceRule } from './conformance-rule.js';
import { errorRules } from './error-rules.js';
import { idempotencyRules } from './idempotency-rules.js';
import { int64Rules } from './int64-rules.js';
import { logRules } from './log-rules.js';
import { type KitState, RuleAborted, RuleContext } from './rule-context.js';
import { snapshotRules } from './snapshot-rules.js';
import { standardServicesRules } from './standard-services-rules.js';
import { strictWireRules } from './strict-wire-rules.js';

export type { ConformanceRule } from './conformance-rule.js';

/** Every rule of the ledger.v1 contract the kit checks, in the order they run. */
export const CONFORMANCE_RULES: readonly ConformanceRule[] = [
  ...errorRules,
  ...idempotencyRules,
  ...logRules,
  ...int64Rules,
  ...snapshotRules,
  ...standardServicesRules,
  ...batchRules,
  ...strictWireRules,
];

export interface ConformanceOptions {
  /** Per-call deadline. */
  deadlineMs: number;
  /** TLS and token for a server that requires them. */
  security?: ClientSecurity | undefined;
  /** Run only these rules (by name, without the `conformance:` prefix); default all. */
  rules?: string[];
}

export interface ConformanceReport {
  /** One per rule, named `conformance:<rule>`. */
  verdicts: InvariantVerdict[];
  /** Every ledger call the kit made, as a history. */
  records: OpRecord[];
}

/**
 * Checks any server implementing ledger.v1 against the contract, rule by rule. Every id it
 * uses starts with a random prefix, so it can run against a shared server; rules run one after
 * another (the int64-edge rule briefly holds most of the int64 range and gives it back).
 */
export async function runConformance(
  target: string,
  options: ConformanceOptions,
): Promise<ConformanceReport> {
  const client = new LedgerClient(target, { deadlineMs: options.deadlineMs, security: options.security });
  const kit: KitState = {
    client,
    target,
    security: options.security,
    prefix: `cf${randomBytes(4).toString('hex')}`,
    deadlineMs: options.deadlineMs,
    startNs: process.hrtime.bigint(),
    records: [],
  };
  const selected =
    options.rules === undefined
      ? CONFORMANCE_RULES
      : CONFORMANCE_RULES.filter((r) => options.rules!.includes(r.name));
  const verdicts: InvariantVerdict[] = [];
  try {
    for (const [i, rule] of selected.entries()) {
      const ctx = new RuleContext(kit, rule.name, i);
      try {
        await rule.run(ctx);
      } catch (err) {
        if (!(err instanceof RuleAborted)) {
          ctx.violations.push(
            `${ctx.request || rule.name} -> ${err instanceof Error ? err.message : String(err)}; the rule could not finish`,
          );
        }
      }
      verdicts.push({
        name: `conformance:${rule.name}`,
        passed: ctx.violations.length === 0,
        summary: rule.summary,
        evidence: ctx.violations.slice(0, 20),
      });
    }
  } finally {
    client.close();
  }
  return { verdicts, records: kit.records };
}
