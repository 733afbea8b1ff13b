import { createHash, hash as cryptoHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';

type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>['getAuthContext']>;

import { Errors } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';

/** What a principal may do: `read` < `write` < `admin`, each role includes the ones before it. */
export type Role = 'read' | 'write' | 'admin';
export const ROLES: readonly Role[] = ['read', 'write', 'admin'];
const RANK: Readonly<Record<Role, number>> = { read: 0, write: 1, admin: 2 };

/** The caller as the ledger records it (LogEntry.principal) and authorises it. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

interface TokenEntry {
  readonly hash: Buffer;
  readonly principal: Principal;
}

/** The parsed `--auth-tokens` file: token hashes and client-certificate subjects with their roles. */
export interface AccessTable {
  readonly tokens: readonly TokenEntry[];
  /** Client-certificate subject CN -> principal (name = the CN). */
  readonly certs: ReadonlyMap<string, Principal>;
}

/** The access file cannot be used: one line naming the file, the line and what is wrong. */
export class AccessFileError extends Error {
  override readonly name = 'AccessFileError';
}

const SHA256_HEX = /^sha256:([0-9a-fA-F]{64})$/;
/** Names end up in the audit log and in log lines: printable, no spaces, bounded. */
const NAME = new RegExp(`^[A-Za-z0-9._@:=+-]{1,${LIMITS.maxPrincipalChars}}$`);

/**
 * One entry per line, `#` starts a comment:
 *   token sha256:<hex of SHA-256 of the token> <principal> <role>
 *   cert  <client-certificate subject CN> <role>
 * Only hashes are stored, so the file (and a copy of it) does not hand out the tokens.
 */
export function parseAccessTable(text: string, file: string): AccessTable {
  const tokens: TokenEntry[] = [];
  const certs = new Map<string, Principal>();
  const seenHashes = new Set<string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `${file}:${index + 1}`;
    const fields = line.split(/\s+/);
    const role = fields.at(-1) as Role;
    if (fields[0] === 'token' && fields.length === 4) {
      const hash = SHA256_HEX.exec(fields[1]!)?.[1]?.toLowerCase();
      if (hash === undefined) throw new AccessFileError(`${where}: expected sha256:<64 hex digits>`);
      if (seenHashes.has(hash)) throw new AccessFileError(`${where}: the same token hash is listed twice`);
      seenHashes.add(hash);
      tokens.push({
        hash: Buffer.from(hash, 'hex'),
        principal: { name: checkName(fields[2]!, where), role },
      });
    } else if (fields[0] === 'cert' && fields.length === 3) {
      const name = checkName(fields[1]!, where);
      if (certs.has(name)) throw new AccessFileError(`${where}: certificate subject ${name} is listed twice`);
      certs.set(name, { name, role });
    } else {
      throw new AccessFileError(
        `${where}: expected "token sha256:<hex> <principal> <role>" or "cert <subject-cn> <role>"`,
      );
    }
    if (!ROLES.includes(role)) throw new AccessFileError(`${where}: role must be one of ${ROLES.join(', ')}`);
  });
  if (tokens.length === 0 && certs.size === 0) {
    throw new AccessFileError(`${file}: lists no token and no certificate: nobody could call the ledger`);
  }
  return { tokens, certs };
}

function checkName(name: string, where: string): string {
  if (!NAME.test(name)) {
    throw new AccessFileError(
      `${where}: a principal is 1-${LIMITS.maxPrincipalChars} characters of A-Z a-z 0-9 . _ @ : = + -`,
    );
  }
  return name;
}

export function readAccessTable(file: string): AccessTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AccessFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseAccessTable(text, file);
}

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** The role a client-certificate holder gets when there is no access file: the CA vouches for it. */
const CA_TRUSTED_ROLE: Role = 'admin';

/**
 * Who is calling. With an access table: a bearer token (its SHA-256 compared in constant time
 * against every listed hash, so timing reveals neither which entry matched nor how much of it),
 * else a client certificate whose subject CN is listed. Without one, but with client certificates
 * required (mTLS), every certificate the CA signed is trusted as `admin` under its CN.
 */
export class AccessControl {
  /** `table` undefined: only valid with client certificates required (mTLS). */
  constructor(private table: AccessTable | undefined) {}

  /** SIGHUP: the operator rotated tokens. */
  replaceTable(table: AccessTable): void {
    this.table = table;
  }

  /**
   * `auth` is asked only when no token decides: it decodes the peer certificate (getPeerCertificate
   * builds a new object on every call), which would otherwise cost every call on a TLS connection.
   */
  authenticate(metadata: Metadata, auth: () => AuthContext | null): Principal {
    const table = this.table;
    const peerCn = (): string | undefined => {
      const subject = auth()?.sslPeerCertificate?.subject?.CN;
      return typeof subject === 'string' ? subject : undefined;
    };
    if (table === undefined) {
      const cn = peerCn();
      // Only constructed without a table when mTLS is on, so the handshake checked the certificate.
      if (cn === undefined) throw Errors.unknownCredentials();
      return { name: cn, role: CA_TRUSTED_ROLE };
    }
    const headers = metadata.get('authorization');
    if (headers.length > 0) {
      const token = headers.length === 1 && typeof headers[0] === 'string' ? BEARER.exec(headers[0]) : null;
      if (token === null) throw Errors.unknownCredentials();
      const found = matchToken(table.tokens, token[1]!);
      if (found === undefined) throw Errors.unknownCredentials();
      return found;
    }
    const cn = table.certs.size === 0 ? undefined : peerCn();
    if (cn !== undefined) {
      const listed = table.certs.get(cn);
      if (listed === undefined) throw Errors.unknownCredentials();
      return listed;
    }
    throw Errors.missingCredentials();
  }
}

function matchToken(tokens: readonly TokenEntry[], token: string): Principal | undefined {
  // No ledgerctl client sends a longer token: not worth hashing up to the header limit for.
  if (token.length > LIMITS.maxBearerTokenChars) return undefined;
  // The one-shot hash: half the CPU of createHash().update().digest() on this path.
  const hash = cryptoHash('sha256', token, 'buffer');
  let found: Principal | undefined;
  // No early exit: every entry is compared whatever matched.
  for (const entry of tokens) {
    if (timingSafeEqual(hash, entry.hash)) found = entry.principal;
  }
  return found;
}

/** Throws PERMISSION_DENIED unless `principal`'s role includes `needed`. */
export function authorize(principal: Principal, needed: Role, action: string): void {
  if (RANK[principal.role] < RANK[needed])
    throw Errors.permissionDenied(principal.name, principal.role, action);
}

/** The hash an operator lists for a token (`printf %s "$TOKEN" | sha256sum` gives the same hex). */
export function tokenHash(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}
