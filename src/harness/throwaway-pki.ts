import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as files and as PEM. */
export interface Issued {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** openssl req: a new P-256 key, written unencrypted. */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** The openssl CLI is missing or refused a step: a setup problem, named in one line. */
export class PkiError extends Error {
  override readonly name = 'PkiError';
}

/**
 * A throwaway PKI made with the openssl CLI (EC P-256, valid 2 days): a CA, and certificates it
 * signs for servers (SAN 127.0.0.1, ::1 and localhost) and clients (subject CN = the principal).
 * The tests make theirs with it, and so does the harness for a scenario's TLS server
 * (`server: { tls: true }`). openssl rather than a JavaScript X.509 library: it is on every
 * machine that has the server's dependencies, and its output is what operators make too
 * (docs/security.md).
 */
export class ThrowawayPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'ledger-pki-'));
  readonly ca: Issued;

  constructor(readonly name = 'test-ca') {
    try {
      this.ca = this.selfSigned(name);
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  private openssl(args: string[]): void {
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      const why =
        e.code === 'ENOENT'
          ? 'the openssl command is not installed'
          : (e.stderr?.toString().trim().split('\n')[0] ?? e.message);
      throw new PkiError(`cannot make a throwaway certificate: ${why}`);
    }
  }

  private files(stem: string): Issued {
    const certFile = join(this.dir, `${stem}.pem`);
    const keyFile = join(this.dir, `${stem}.key`);
    return {
      certFile,
      keyFile,
      get cert() {
        return readFileSync(certFile);
      },
      get key() {
        return readFileSync(keyFile);
      },
    };
  }

  private selfSigned(cn: string): Issued {
    const out = this.files(cn);
    this.openssl([
      'req',
      '-x509',
      ...NEW_EC_KEY,
      '-keyout',
      out.keyFile,
      '-out',
      out.certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
    ]);
    return out;
  }

  /** A certificate for `cn` signed by this CA; servers get SANs for 127.0.0.1, ::1 and localhost. */
  issue(cn: string, kind: 'server' | 'client'): Issued {
    const out = this.files(`${kind}-${cn}`);
    const csr = join(this.dir, `${kind}-${cn}.csr`);
    const ext = join(this.dir, `${kind}-${cn}.ext`);
    writeFileSync(
      ext,
      kind === 'server'
        ? 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
        : 'extendedKeyUsage=clientAuth\n',
    );
    this.openssl(['req', ...NEW_EC_KEY, '-keyout', out.keyFile, '-out', csr, '-subj', `/CN=${cn}`]);
    this.openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca.certFile,
      '-CAkey',
      this.ca.keyFile,
      '-CAcreateserial',
      '-out',
      out.certFile,
      '-days',
      '2',
      '-extfile',
      ext,
    ]);
    return out;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
