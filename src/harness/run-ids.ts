/**
 * Scenario account ids and transaction ids are logical; the physical ones carry a per-run prefix
 * when the target is a shared server, so a second run never collides with the first (an old
 * transaction id would be replayed, an old account id would already exist). The in-process
 * server is fresh each run and needs no prefix, which keeps evidence readable.
 */
export class RunIds {
  constructor(readonly prefix: string) {}

  account(logical: string): string {
    return this.prefix + logical;
  }

  txid(logical: string): string {
    return this.prefix + logical;
  }

  logicalAccount(physical: string): string {
    return physical.startsWith(this.prefix) ? physical.slice(this.prefix.length) : physical;
  }
}

/** Expands {i} (call index in the group), {round}, {caller} and {group} in a scripted id. */
export function expandTemplate(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  );
}
