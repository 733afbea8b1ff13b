import type { RuleContext } from './rule-context.js';

/** One rule of the ledger.v1 contract; its verdict is named `conformance:<name>`. */
export interface ConformanceRule {
  name: string;
  /** One line on what the rule checks (the verdict's summary). */
  summary: string;
  run(ctx: RuleContext): Promise<void>;
}
