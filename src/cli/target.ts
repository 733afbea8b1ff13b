import * as grpc from '@grpc/grpc-js';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { LedgerCallError, LedgerClient } from '../client/ledger-client.js';
import { LIMITS } from '../domain/limits.js';
import {
  addClientSecurityOptions,
  type ClientSecurityFlags,
  clientSecurityFrom,
  TOKEN_ENV,
} from './client-credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { formatDuration } from './format-duration.js';
import { timerDurationArg } from './option-parsers.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 50_051;
export const DEFAULT_TARGET = `${DEFAULT_HOST}:${DEFAULT_PORT}`;
export const TARGET_ENV = 'LEDGER_TARGET';

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/;
/** Shown with every refused target, so the user sees every form that works. */
export const TARGET_FORMS = 'host:port, [ipv6]:port, dns:host:port, dns:///host:port or unix:/path/to.sock';

/**
 * The one parser of a server address, for every command that talks to a ledger: `host:port`,
 * `[ipv6]:port`, or grpc-js's own `dns:` and `unix:` target forms, which are passed to grpc-js
 * unchanged. Checked before any connection is attempted, so a typo is a usage error (exit 2),
 * not a connection timeout.
 */
export function parseTarget(value: string): string {
  const text = value.trim();
  const refuse = () =>
    new InvalidArgumentError(`Expected ${TARGET_FORMS}, with a port from 1 to 65535, e.g. 127.0.0.1:50051.`);
  for (const scheme of ['unix:', 'unix-abstract:']) {
    if (text.startsWith(scheme)) {
      const path = text.slice(scheme.length);
      // unix://x would read "x" as an authority, which grpc-js does not support: absolute paths use three slashes.
      if (path === '' || /\s/.test(path) || (path.startsWith('//') && !path.startsWith('///')))
        throw refuse();
      return text;
    }
  }
  let hostPort = text;
  if (text.startsWith('dns:')) {
    hostPort = text.slice('dns:'.length);
    if (hostPort.startsWith('//')) {
      // dns://[authority]/host:port: the authority names a DNS server; the name to resolve follows it.
      const slash = hostPort.indexOf('/', 2);
      if (slash < 0) throw refuse();
      hostPort = hostPort.slice(slash + 1);
    }
  }
  const match = HOST_PORT.exec(hostPort);
  const port = Number(match?.[2]);
  if (match === null || !(port >= 1 && port <= 65_535)) throw refuse();
  return hostPort === text ? `${match[1]}:${port}` : text;
}

/** `--target a,b,...` of the harness commands: each part parsed like a single target. */
export function parseTargets(value: string): string[] {
  return value.split(',').map(parseTarget);
}

export interface ConnectionOptions extends ClientSecurityFlags {
  target: string;
  timeout: number;
  json: boolean;
}

/** The flags every client verb shares: where the ledger is, how long to wait, how to print. */
export function addConnectionOptions(command: Command): Command {
  command
    .addOption(
      new Option('--target <host:port>', `ledger server to ask (${TARGET_FORMS})`)
        .env(TARGET_ENV)
        .default(DEFAULT_TARGET)
        .argParser(parseTarget),
    )
    .addOption(
      new Option('--timeout <duration>', 'deadline for the call, e.g. 500ms, 5s')
        .default(LIMITS.defaultCliCallTimeoutMs, formatDuration(LIMITS.defaultCliCallTimeoutMs))
        .argParser(timerDurationArg),
    )
    .option('--json', 'print JSON (64-bit integers as strings) instead of a table', false);
  return addClientSecurityOptions(command);
}

/**
 * Runs one conversation with the ledger and turns every failure the user can act on into one
 * line with a documented exit code: the server's own "not found" is a negative answer (1); a
 * target that does not answer, or refuses the request as malformed, means the command could
 * not run (2).
 */
export async function withLedger<T>(
  options: ConnectionOptions,
  conversation: (client: LedgerClient) => Promise<T>,
  writeTxid?: string,
): Promise<T> {
  const client = new LedgerClient(options.target, {
    deadlineMs: options.timeout,
    maxResponseBytes: LIMITS.maxClientResponseBytes,
    security: clientSecurityFrom(options),
  });
  try {
    return await conversation(client);
  } catch (err) {
    if (err instanceof LedgerCallError) throw callFailure(err, options, writeTxid);
    throw err;
  } finally {
    client.close();
  }
}

/** The server's own refusals of a request it understood: a negative answer, in the contract's words. */
const REFUSALS = new Set([
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
]);

function callFailure(
  err: LedgerCallError,
  { target, timeout }: ConnectionOptions,
  writeTxid: string | undefined,
): CliError {
  if (REFUSALS.has(err.code)) {
    // A replayed refusal is the outcome recorded for this id earlier, not a new attempt.
    const replay = err.replayed ? ` (replayed: the outcome recorded for transaction ${writeTxid})` : '';
    return new CliError(`${err.details}${replay}`, EXIT.failed);
  }
  // A write that timed out or lost its connection may have committed: only its id can tell.
  const neverSent = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN)\b/.test(err.details);
  const unknownOutcome =
    writeTxid === undefined || neverSent
      ? ''
      : `; the write may or may not have happened: send it again with --txid ${writeTxid} to find out`;
  switch (err.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new CliError(err.details, EXIT.usage);
    case grpc.status.UNAUTHENTICATED:
      return new CliError(
        `the ledger at ${target} wants credentials: ${err.details} (--token-file, ${TOKEN_ENV}, --tls-cert)`,
        EXIT.usage,
      );
    case grpc.status.PERMISSION_DENIED:
      return new CliError(err.details, EXIT.failed);
    case grpc.status.UNAVAILABLE:
      return new CliError(
        `cannot reach the ledger at ${target}: ${unavailableReason(err.details)}${unknownOutcome}`,
        EXIT.usage,
      );
    case grpc.status.DEADLINE_EXCEEDED:
      return new CliError(
        `the ledger at ${target} did not answer within ${formatDuration(timeout)} (raise --timeout?)${unknownOutcome}`,
        EXIT.usage,
      );
    case grpc.status.UNIMPLEMENTED:
      return new CliError(`${target} does not serve ledger.v1.Ledger (${err.details})`, EXIT.usage);
    default:
      return new CliError(`the ledger at ${target} answered ${err.codeName}: ${err.details}`, EXIT.failed);
  }
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is `ledgerctl serve` running there?)',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};
const SOCKET_ERROR = new RegExp(`\\b(${Object.keys(SOCKET_ERRORS).join('|')})\\b`);

/** grpc-js wraps the socket error in a long sentence with a timestamp; the errno is what helps. */
function unavailableReason(details: string): string {
  const errno = SOCKET_ERROR.exec(details)?.[1];
  return errno === undefined ? details : SOCKET_ERRORS[errno]!;
}
