import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

/** The PEM files `serve` reads at start and again on SIGHUP. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate signed by one of these CAs (mTLS). */
  clientCaFile?: string | undefined;
}

/** The certificate files cannot be used: one line naming the file and why. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsConfigError(
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/**
 * Reads and checks the files: a key that does not match the certificate, or a file that is not
 * PEM, fails here (at start: exit 2; on reload: the old certificate stays) rather than in the
 * middle of a client's handshake.
 */
export function readTlsContext(files: TlsFiles): SecureContextOptions {
  // No `ticketKeys`: each context gets fresh ones, so a reload also ends every session ticket
  // issued before it. With keys kept across reloads, a client whose CA was just removed could
  // still resume (and skip the certificate check); test/tls-resumption.test.ts holds this.
  const options: SecureContextOptions = {
    cert: readPem(files.certFile, 'certificate'),
    key: readPem(files.keyFile, 'private key'),
    minVersion: 'TLSv1.2',
  };
  if (files.clientCaFile !== undefined) options.ca = readPem(files.clientCaFile, 'client CA');
  try {
    createSecureContext(options);
  } catch (err) {
    const names = [files.certFile, files.keyFile, files.clientCaFile].filter((f) => f !== undefined);
    throw new TlsConfigError(`unusable TLS files (${names.join(', ')}): ${(err as Error).message}`);
  }
  return options;
}

/**
 * Server credentials whose certificate, key and client CA can be replaced while the listener
 * keeps running: grpc-js calls `setSecureContext` on its HTTP/2 server for every update, so new
 * handshakes use the new files and open connections carry on. (grpc-js's own `createSsl` cannot
 * change after bind; its certificate-provider credentials are experimental and watch files on a
 * timer instead of on the operator's signal.)
 */
export class ReloadableServerCredentials extends grpc.ServerCredentials {
  constructor(
    private readonly files: TlsFiles,
    initial: SecureContextOptions = readTlsContext(files),
  ) {
    // requestCert + rejectUnauthorized (Node's default): the handshake itself refuses a client
    // without a certificate signed by the client CA, before any call is read.
    const mutual = files.clientCaFile !== undefined;
    super({ requestCert: mutual, rejectUnauthorized: mutual }, initial);
  }

  get mutual(): boolean {
    return this.files.clientCaFile !== undefined;
  }

  /** Reads the files again; throws TlsConfigError (and keeps the current ones) if they are unusable. */
  reload(): void {
    this.updateSecureContextOptions(readTlsContext(this.files));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}
