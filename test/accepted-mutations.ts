import { SeededRandom } from '../src/harness/seeded-random.js';
import { fuzzMethods, mutate, validRequest } from '../src/harness/wire-fuzz.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import { strictService } from '../src/wire/strict-service.js';

const strict = strictService(ledgerServiceDefinition());

/**
 * Seeded request bytes of one method (every fourth valid, the rest mutated) that the strict wire
 * check lets through: what a hand-written codec must decode exactly as proto-loader does.
 */
export function* acceptedMutations(methodName: string, seed: number, count: number): Generator<Buffer> {
  const type = fuzzMethods().find((m) => m.name === methodName)!.requestType;
  const rng = new SeededRandom(seed);
  let n = 0;
  const ids = { accounts: ['a', 'b', 'é€'], transactionId: () => `t${n++}` };
  for (let i = 0; i < count; i++) {
    const valid = validRequest(type, rng, ids);
    const bytes = Buffer.from(i % 4 === 0 ? valid : mutate(valid, rng).bytes);
    const checked = strict[methodName]!.requestDeserialize(bytes) as object;
    if (checked.constructor.name !== 'MalformedRequest') yield bytes;
  }
}
