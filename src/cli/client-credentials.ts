import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { ClientSecurity } from '../client/client-security.js';
import { LIMITS } from '../domain/limits.js';
import { CliError } from './exit-codes.js';

export const TOKEN_ENV = 'LEDGER_TOKEN';

/** The client flags for a server that requires TLS or a token. */
export interface ClientSecurityFlags {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tokenFile?: string;
}

export function addClientSecurityOptions(command: Command): Command {
  return command
    .addOption(new Option('--tls-ca <file>', 'speak TLS; trust server certificates signed by this CA (PEM)'))
    .addOption(new Option('--tls-cert <file>', 'speak TLS with this client certificate (PEM, for mTLS)'))
    .addOption(new Option('--tls-key <file>', 'private key of --tls-cert (PEM)'))
    .addOption(
      new Option(
        '--token-file <file>',
        `file holding the bearer token to send (default: the ${TOKEN_ENV} environment variable)`,
      ),
    );
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** A token travels in an HTTP/2 header: visible ASCII only, as `Bearer <token>` allows. */
const TOKEN = new RegExp(`^[\\x21-\\x7e]{1,${LIMITS.maxBearerTokenChars}}$`);

/** Reads the files the flags name; a missing or unusable one is one line and exit 2. */
export function clientSecurityFrom(
  flags: ClientSecurityFlags,
  env = process.env,
): ClientSecurity | undefined {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new CliError('--tls-cert and --tls-key go together (a client certificate needs its key)');
  }
  const security: ClientSecurity = {};
  if (flags.tlsCa !== undefined || flags.tlsCert !== undefined) {
    security.tls = {
      caPem: flags.tlsCa === undefined ? undefined : readFlagFile('--tls-ca', flags.tlsCa),
      certPem: flags.tlsCert === undefined ? undefined : readFlagFile('--tls-cert', flags.tlsCert),
      keyPem: flags.tlsKey === undefined ? undefined : readFlagFile('--tls-key', flags.tlsKey),
    };
  }
  // A token file usually ends with a newline; the token is the text without it.
  const [token, from] =
    flags.tokenFile !== undefined
      ? [
          readFlagFile('--token-file', flags.tokenFile).toString('utf8').trim(),
          `--token-file ${flags.tokenFile}`,
        ]
      : [env[TOKEN_ENV], TOKEN_ENV];
  if (token !== undefined && token !== '') {
    // Never echo the token itself: the message names only where it came from.
    if (!TOKEN.test(token))
      throw new CliError(
        `${from}: a bearer token is 1-${LIMITS.maxBearerTokenChars} visible ASCII characters`,
      );
    security.token = token;
  }
  return security.tls === undefined && security.token === undefined ? undefined : security;
}

/**
 * The security of a command whose `--target` is optional (stress, load, calibrate): undefined
 * without a target (LEDGER_TOKEN alone does not fail a run against a server the command starts),
 * and the client flags without one are refused, `why` saying what the command speaks instead.
 */
export function securityForTarget(
  flags: ClientSecurityFlags,
  target: unknown,
  why: string,
): ClientSecurity | undefined {
  const given = [flags.tlsCa, flags.tlsCert, flags.tlsKey, flags.tokenFile].some((f) => f !== undefined);
  if (given && target === undefined)
    throw new CliError(`--tls-ca, --tls-cert, --tls-key and --token-file apply to ${why}`);
  return target === undefined ? undefined : clientSecurityFrom(flags);
}
