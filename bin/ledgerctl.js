#!/usr/bin/env node
// The CLI runs compiled code (dist/). Before a build there is none, and Node's own answer would
// be a stack trace that does not say what to do.
try {
  await import('../dist/src/cli/main.js');
} catch (err) {
  const missing = err !== null && typeof err === 'object' && err.code === 'ERR_MODULE_NOT_FOUND';
  if (!missing) throw err;
  const notBuilt = String(err.message).includes('dist/src/cli/main.js');
  process.stderr.write(
    notBuilt
      ? 'ledgerctl: not built yet: run `npm run build` (or `npm ci`, which builds) in the ledgerctl checkout\n'
      : `ledgerctl: a dependency is missing (${String(err.message).split('\n')[0]}): run \`npm ci\` in the ledgerctl checkout\n`,
  );
  process.exitCode = 2;
}
