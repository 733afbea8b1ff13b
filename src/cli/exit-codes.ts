/** Every exit code of ledgerctl; README.md ("Exit codes") documents the same table. */
export const EXIT = {
  /** Success: the command did what was asked, every invariant and threshold passed. */
  ok: 0,
  /**
   * A negative answer: an invariant failed (stress, gate), the entry/account does not exist, the
   * server answered another error, or `serve` got a second signal during its drain.
   */
  failed: 1,
  /**
   * Cannot run: bad flag or value, invalid scenario file, target unreachable, port in use, data
   * dir unusable.
   */
  usage: 2,
  /** Stress/gate only: every invariant held but a threshold (latency, rate, memory) failed. */
  threshold: 3,
  /** A bug in ledgerctl itself (an unexpected error); details are printed. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * An error meant for the user: printed as one line, no stack trace, with its exit code. Several
 * problems found at once (a scenario file's) are printed one per line.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly lines: readonly string[];
  constructor(
    message: string | readonly string[],
    readonly exitCode: ExitCode = EXIT.usage,
  ) {
    super(typeof message === 'string' ? message : message.join('\n'));
    this.lines = typeof message === 'string' ? [message] : message;
  }
}
