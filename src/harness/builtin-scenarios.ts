import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile, ScenarioError } from './load-scenario.js';

/**
 * The scenarios shipped with ledgerctl (package.json "files" includes scenarios/), so a global
 * install can run them by name: `ledgerctl stress deadlock-storm`. Found next to dist/, three
 * levels up from this compiled file.
 */
export const BUILTIN_SCENARIO_DIR = [
  new URL('../../../scenarios/', import.meta.url),
  // Loaded from the sources (tests): two levels up.
  new URL('../../scenarios/', import.meta.url),
]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'schema.json')))!;

const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** A bare name (no path, no extension) that could name a built-in scenario. */
export const isScenarioName = (text: string): boolean => NAME.test(text);

export function builtinScenarioNames(): string[] {
  return readdirSync(BUILTIN_SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/**
 * A path that exists is a file; otherwise a bare name is looked up among the built-in scenarios.
 * Anything else is returned unchanged, so reading it reports the missing file.
 */
export function resolveScenario(pathOrName: string): string {
  if (existsSync(pathOrName) || !NAME.test(pathOrName)) return pathOrName;
  const builtin = `${BUILTIN_SCENARIO_DIR}${pathOrName}.yaml`;
  return existsSync(builtin) ? builtin : pathOrName;
}

export interface BuiltinScenario {
  name: string;
  ci: boolean;
  /** The first sentence of the scenario's description: one line for a listing. */
  summary: string;
  file: string;
}

export async function listBuiltinScenarios(): Promise<BuiltinScenario[]> {
  const list: BuiltinScenario[] = [];
  for (const name of builtinScenarioNames()) {
    const file = `${BUILTIN_SCENARIO_DIR}${name}.yaml`;
    try {
      const scenario = await loadScenarioFile(file);
      list.push({ name, ci: scenario.ci, summary: firstSentence(scenario.description ?? ''), file });
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      list.push({ name, ci: false, summary: `(invalid: ${err.problems[0]})`, file });
    }
  }
  return list;
}

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const end = flat.search(/\.(\s|$)/);
  return end < 0 ? flat : flat.slice(0, end + 1);
}
