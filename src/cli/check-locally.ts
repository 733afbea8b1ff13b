import { LedgerError } from '../domain/errors.js';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Runs a domain validation before any connection: the server would refuse the value with the
 * same message, and checking first also gives the right answer when no server is up.
 */
export function checkLocally(validate: () => void): void {
  try {
    validate();
  } catch (err) {
    if (err instanceof LedgerError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}
