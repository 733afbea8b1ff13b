import type { ErrorCode } from '../domain/errors.js';
import type { WriteResult } from '../domain/types.js';

/** The decided outcome of a write: kept by idempotency records and replayed verbatim. */
export type Outcome =
  | { readonly ok: true; readonly result: WriteResult }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      /** Not recorded (the id stays unused): duplicates that waited get it without the replay flag. */
      readonly transient?: true;
    };

export interface TxRecord {
  readonly transactionId: string;
  readonly fingerprint: string;
  readonly outcome: Outcome;
  /** Wall-clock milliseconds after which the id may be used again. */
  readonly expiresAtMs: number;
}
