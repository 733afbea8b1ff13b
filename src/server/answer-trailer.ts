import { Metadata } from '@grpc/grpc-js';
import { REPLAYED_METADATA_KEY, SERVER_TIME_METADATA_KEY } from '../wire/ledger-proto.js';

/**
 * The trailer of every ledger answer (docs/contract.md): how long the server handled the call,
 * in whole microseconds, and `ledger-replayed: true` on a replay. Built for the one thing grpc-js
 * does with a trailer, on every call: clone it and turn it into HTTP/2 headers. Its keys and
 * values are known to be legal, so they skip Metadata's per-set validation; unless something
 * changes it after it is built, its clone is the trailer itself and its headers are made directly.
 */
export class AnswerTrailer extends Metadata {
  private readonly serverTimeUs: string;
  private readonly replayed: boolean;
  /** Changed after it was built: then it is plain Metadata. */
  private changed = false;

  constructor(startedMs: number, replayed: boolean) {
    super();
    this.serverTimeUs = String(Math.round((performance.now() - startedMs) * 1000));
    this.replayed = replayed;
    // Kept in Metadata's own form too, so get() and toJSON() see what goes on the wire.
    this.internalRepr.set(SERVER_TIME_METADATA_KEY, [this.serverTimeUs]);
    if (replayed) this.internalRepr.set(REPLAYED_METADATA_KEY, ['true']);
  }

  override set(key: string, value: string | Buffer): void {
    this.changed = true;
    super.set(key, value);
  }

  override add(key: string, value: string | Buffer): void {
    this.changed = true;
    super.add(key, value);
  }

  override remove(key: string): void {
    this.changed = true;
    super.remove(key);
  }

  override merge(other: Metadata): void {
    this.changed = true;
    super.merge(other);
  }

  override clone(): Metadata {
    return this.changed ? super.clone() : this;
  }

  override toHttp2Headers(): ReturnType<Metadata['toHttp2Headers']> {
    if (this.changed) return super.toHttp2Headers();
    return this.replayed
      ? { [SERVER_TIME_METADATA_KEY]: this.serverTimeUs, [REPLAYED_METADATA_KEY]: 'true' }
      : { [SERVER_TIME_METADATA_KEY]: this.serverTimeUs };
  }
}
