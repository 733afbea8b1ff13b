import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Many tests run compiled code (the CLI, spawned servers, the server worker thread). Run against
 * a dist/ older than its sources, they would test yesterday's code and pass or fail for nothing:
 * so a stale or missing build is rebuilt before any test starts, whatever started vitest.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/** The first source whose compiled file is missing or older, if any. */
export function staleSource(root = ROOT): string | undefined {
  for (const dir of ['src', 'bench']) {
    for (const source of sources(join(root, dir))) {
      const compiled = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
      let compiledMs: number;
      try {
        compiledMs = statSync(compiled).mtimeMs;
      } catch {
        return relative(root, source);
      }
      if (compiledMs < statSync(source).mtimeMs) return relative(root, source);
    }
  }
  return undefined;
}

export default function setup(): void {
  const root = ROOT;
  const stale = staleSource();
  if (stale === undefined) return;
  process.stderr.write(`dist/ is older than ${stale}: building first (npm run build)\n`);
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
