import { LedgerError } from '../src/domain/errors.js';

/** The LedgerError a promise rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(work: Promise<unknown>): Promise<LedgerError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof LedgerError) return err;
    throw err;
  }
  throw new Error('expected a LedgerError');
}
