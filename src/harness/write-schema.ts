import { writeFileSync } from 'node:fs';
import { scenarioJsonSchema } from './scenario-schema.js';

/** The exact text of scenarios/schema.json; a test fails when the committed file differs. */
export function scenarioSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}

// `node dist/src/harness/write-schema.js scenarios/schema.json` regenerates it.
if (process.argv[1]?.endsWith('write-schema.js') && process.argv[2] !== undefined) {
  writeFileSync(process.argv[2], scenarioSchemaText());
}
