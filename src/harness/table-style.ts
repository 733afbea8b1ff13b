/**
 * The one colour rule of every table ledgerctl prints (CLI verbs, stress and gate reports,
 * benchmarks): colour only for a person at a terminal who has not opted out. Per
 * https://no-color.org, NO_COLOR disables colour when it is set to a non-empty value; set but
 * empty (`NO_COLOR=`) counts as unset.
 */
export function colourEnabled(stream: { isTTY?: boolean } = process.stdout): boolean {
  return stream.isTTY === true && (process.env.NO_COLOR ?? '') === '';
}

/** cli-table3 emits ANSI colour even when piped: this style turns it off, unless colour is wanted. */
export function tableStyle(): { head: string[]; border: string[] } | undefined {
  return colourEnabled() ? undefined : { head: [], border: [] };
}
