/** Why a database was refused at start. The CLI prints the message as one line and exits 2. */
export type DatabaseProblem = 'unreachable' | 'schema-too-new' | 'schema-too-old' | 'bad-url';

/**
 * A database that cannot be used as it is: unreachable, refusing the login, or with a schema of
 * another ledgerctl version. The operator's situation, not a bug: one line, no stack.
 */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  constructor(
    readonly problem: DatabaseProblem,
    message: string,
  ) {
    super(message);
  }
}
