/** Why a data directory was refused. The CLI prints the message as one line and exits 2. */
export type DataDirProblem = 'locked' | 'too-new' | 'corrupt' | 'not-a-data-dir' | 'io';

/**
 * A data directory that cannot be used as it is: held by another server, written by a newer
 * ledgerctl, damaged, or not a ledger directory at all. It is the operator's situation, not a
 * bug, so it carries a one-line message and no stack is meant to be shown. The directory is left
 * exactly as it was found.
 */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  constructor(
    readonly problem: DataDirProblem,
    readonly dataDir: string,
    message: string,
  ) {
    super(message);
  }
}
