import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ClientSecurity } from '../client/client-security.js';
import { RunSetupError } from './run-setup-error.js';

/** How long the diagnosis may take: it runs only after a connection already failed. */
const DIAGNOSIS_TIMEOUT_MS = 3_000;

/**
 * Why a connection to `target` failed, when it is a TLS mismatch: both clients only say
 * "failed to connect" (grpc-js retries; the lean caller sees a closed session), which hides
 * the one thing the user can fix. One handshake, made the way the run's clients make it,
 * names the cause: the server speaks TLS and the run does not, or the other way round, or the
 * server's certificate does not verify against the CA given, or it wants a client certificate.
 * Undefined when it is not about TLS (or the target is not host:port).
 */
export async function diagnoseTls(
  target: string,
  security: ClientSecurity | undefined,
): Promise<string | undefined> {
  const match = /^(?:\[([^\]]+)\]|([^:/[\]]+)):(\d+)$/.exec(target);
  if (match === null) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  const tls = security?.tls;
  if (tls === undefined) {
    // Plaintext client: does the server answer a TLS handshake (any certificate)?
    const speaksTls = await handshake(host, port, { rejectUnauthorized: false });
    return speaksTls !== 'unreachable' && speaksTls !== 'not tls'
      ? 'the server speaks TLS and this run does not: give --tls-ca (and --tls-cert/--tls-key for mTLS)'
      : undefined;
  }
  const outcome = await handshake(host, port, {
    ca: tls.caPem,
    cert: tls.certPem,
    key: tls.keyPem,
  });
  if (outcome === 'ok' || outcome === 'unreachable') return undefined;
  if (outcome === 'not tls') return 'the server does not speak TLS (plaintext?): run without --tls-ca';
  if (/certificate required|alert number 116|handshake failure/i.test(outcome))
    return `TLS: the server wants a client certificate (--tls-cert, --tls-key): ${outcome}`;
  return `TLS: the server's certificate does not verify (is --tls-ca the CA that signed it, for this address?): ${outcome}`;
}

/**
 * The run-setup error for connections to `targets` that failed with `err`: its message, and the
 * TLS mismatch behind it when one of the targets shows one (the user's to fix).
 */
export async function connectFailure(
  err: unknown,
  targets: readonly string[],
  security: ClientSecurity | undefined,
): Promise<RunSetupError> {
  const reasons = await Promise.all(targets.map((t) => diagnoseTls(t, security)));
  const tls = reasons.find((r) => r !== undefined);
  return new RunSetupError(`${(err as Error).message}${tls === undefined ? '' : `: ${tls}`}`);
}

type Outcome = 'ok' | 'unreachable' | 'not tls' | string;

function handshake(
  host: string,
  port: number,
  options: {
    rejectUnauthorized?: boolean;
    ca?: Buffer | undefined;
    cert?: Buffer | undefined;
    key?: Buffer | undefined;
  },
): Promise<Outcome> {
  return new Promise((resolve) => {
    // Is anything listening at all? A refused TCP connect is not a TLS problem.
    const probe = netConnect({ host, port });
    probe.once('error', () => resolve('unreachable'));
    probe.once('connect', () => {
      probe.destroy();
      const socket = tlsConnect({
        host,
        port,
        ALPNProtocols: ['h2'],
        // An IP address is no server name (RFC 6066); the certificate is checked against the IP anyway.
        ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
        ...options,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve('not tls');
      }, DIAGNOSIS_TIMEOUT_MS);
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(outcome);
      };
      socket.once('secureConnect', () => {
        // TLS 1.3: a missing client certificate is refused after the handshake, in the first read.
        socket.once('error', (err) => done(briefly(err.message)));
        socket.once('close', () => done('ok'));
        setTimeout(() => done('ok'), 200).unref();
      });
      socket.once('error', (err: NodeJS.ErrnoException) =>
        done(
          err.code === 'ECONNRESET' || /wrong version number|packet length/i.test(err.message)
            ? 'not tls'
            : briefly(err.message),
        ),
      );
    });
  });
}

/** OpenSSL's alerts come with a file and line: `...:tlsv13 alert certificate required:../deps/...`. */
function briefly(message: string): string {
  return /tlsv1\d? alert [a-z ]+/.exec(message)?.[0] ?? message;
}
