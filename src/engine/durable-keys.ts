import type { Database } from 'lmdb';

/** The first (or, reversed, the last) key of a sub-database; undefined when it is empty. */
export function edgeKey(db: Database, last: boolean): unknown {
  for (const key of db.getKeys({ reverse: last, limit: 1 })) return key;
  return undefined;
}
