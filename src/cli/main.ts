import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBackup } from './commands/backup.js';
import { registerBalance } from './commands/balance.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerCompletion } from './commands/completion.js';
import { registerCreateAccount } from './commands/create-account.js';
import { registerGate } from './commands/gate.js';
import { registerImport } from './commands/import.js';
import { registerLoad } from './commands/load.js';
import { registerMigrate } from './commands/migrate.js';
import { registerQueryLog } from './commands/query-log.js';
import { registerScenarios } from './commands/scenarios.js';
import { registerServe } from './commands/serve.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerStress } from './commands/stress.js';
import { registerTransfer } from './commands/transfer.js';
import { registerUpdate } from './commands/update.js';
import { registerVerify } from './commands/verify.js';
import { CliError, EXIT } from './exit-codes.js';
import { escapeControls } from './output.js';

// grpc-js hands an IP target (127.0.0.1:50051) to TLS as the server name, and Node warns about
// that (DEP0123) on every TLS connection. The certificate is still checked against the IP (its
// subjectAltName), so the warning tells a user nothing: it alone is dropped.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const option = rest[0];
  const code = typeof option === 'object' && option !== null ? (option as { code?: string }).code : rest[1];
  if (code === 'DEP0123') return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

// A reader that stops early (`ledgerctl snapshot --accounts | head`) is not an error to report.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? EXIT.ok);
});

/** One version, the package's: read from package.json next to dist/ (three levels up from here). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return String(manifest.version);
}

const program = new Command('ledgerctl')
  .description(
    'A gRPC ledger that stays exactly right under concurrency, and the stress harness that proves it',
  )
  .version(packageVersion())
  .exitOverride()
  .configureOutput({
    // One line per mistake: commander splits some messages ("Did you mean") over two.
    outputError: (message, write) =>
      write(
        `ledgerctl: ${message
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')
          .trim()} (see --help)\n`,
      ),
  });

for (const register of [
  registerServe,
  registerQueryLog,
  registerBalance,
  registerSnapshot,
  registerCalibrate,
  registerCreateAccount,
  registerUpdate,
  registerTransfer,
  registerImport,
  registerVerify,
  registerBackup,
  registerStress,
  registerLoad,
  registerScenarios,
  registerGate,
  registerMigrate,
  registerCompletion,
]) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed its message (help and version exit 0).
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliError) {
    // The message may quote the server's, with a client-chosen id in it.
    // Each line escaped on its own: a line break inside a quoted id cannot start a forged line.
    process.stderr.write(`ledgerctl: ${err.lines.map(escapeControls).join('\n')}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(
      `ledgerctl: unexpected error (a bug, please report it):\n${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exitCode = EXIT.internal;
  }
}
