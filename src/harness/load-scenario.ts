import { readFile } from 'node:fs/promises';
import { isMap, isNode, isPair, isScalar, LineCounter, type Node, parse, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Scenario, ScenarioSchema } from './scenario-schema.js';

/** A scenario file the harness cannot run: every problem as `file:line:col: what is wrong`. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export async function loadScenarioFile(path: string, overrides: readonly string[] = []): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ScenarioError([`${path}: cannot read scenario file (${code ?? String(err)})`]);
  }
  return parseScenario(text, path, overrides);
}

/** One `--set key.path=value`: a path into the scenario and a YAML value (`500`, `2m`, `[a, b]`). */
export interface ScenarioOverride {
  text: string;
  path: (string | number)[];
  value: unknown;
}

const OVERRIDE = /^([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)=(.*)$/s;

export function parseOverride(text: string): ScenarioOverride {
  const match = OVERRIDE.exec(text);
  if (match === null) {
    throw new ScenarioError([
      `--set ${text}: expected key.path=value, e.g. phases.0.groups.0.load.rate_per_s=800`,
    ]);
  }
  let value: unknown;
  try {
    value = parse(match[2]!);
  } catch (err) {
    throw new ScenarioError([
      `--set ${text}: the value is not YAML (${(err as Error).message.split('\n')[0]})`,
    ]);
  }
  const path = match[1]!.split('.').map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
  return { text, path, value };
}

/** Parses and validates; `file` only labels the messages. `overrides` (`--set`) apply before validation. */
export function parseScenario(text: string, file: string, overrideTexts: readonly string[] = []): Scenario {
  const overrides = overrideTexts.map(parseOverride);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    // yaml's own message ends with a code excerpt; the first line says what is wrong.
    throw new ScenarioError(
      doc.errors.map(
        (e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      ),
    );
  }
  for (const o of overrides) {
    try {
      // `key=null` removes a key (e.g. rate_per_s and duration when stages replace them).
      if (o.value === null) doc.deleteIn(o.path);
      else doc.setIn(o.path, doc.createNode(o.value));
    } catch (err) {
      throw new ScenarioError([
        `--set ${o.text}: cannot set ${o.path.join('.')} (${(err as Error).message})`,
      ]);
    }
  }
  const input = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ScenarioError([`${at(0)}: a scenario file must be a YAML mapping (name, phases, expect, ...)`]);
  }
  const result = ScenarioSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw new ScenarioError(
    result.error.issues.map((issue) => {
      // A value that came from --set is reported against the flag: the file does not hold it.
      const from = overrides.findLast((o) =>
        o.path.every((segment, i) => String(issue.path[i]) === String(segment)),
      );
      return from === undefined
        ? `${at(offsetOf(doc.contents, issue))}: ${describe(issue)}`
        : `--set ${from.text}: ${describe(issue)}`;
    }),
  );
}

function describe(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value':
      return `${where}expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return `${where}${issue.input === undefined ? 'is required' : `expected ${issue.expected}`}`;
    default:
      return `${where}${issue.message}`;
  }
}

/** The source offset an issue points at: the offending key for unknown keys, else the value, else its nearest parent. */
function offsetOf(root: unknown, issue: z.core.$ZodIssue): number {
  let node: unknown = root;
  let best = rangeStart(root) ?? 0;
  for (const segment of issue.path) {
    const child = childOf(node, segment);
    if (child === undefined) {
      // Missing key: point at the key of the mapping that lacks it, if there is one.
      break;
    }
    node = child;
    best = rangeStart(child) ?? best;
  }
  if (issue.code === 'unrecognized_keys' && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === issue.keys[0]);
    if (pair !== undefined) best = rangeStart(pair.key) ?? best;
  }
  return best;
}

function childOf(node: unknown, segment: PropertyKey): unknown {
  if (isMap(node)) {
    const pair = node.items.find(
      (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment),
    );
    return pair?.value ?? undefined;
  }
  if (isNode(node) && 'items' in node && Array.isArray((node as { items: unknown[] }).items)) {
    return (node as { items: unknown[] }).items[Number(segment)];
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) ? ((node as Node).range?.[0] ?? undefined) : undefined;
}
