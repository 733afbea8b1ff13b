import { parse } from 'pg-connection-string';
import { describe, expect, it } from 'vitest';
import { libpqSslModes } from '../src/engine/postgres/pg-group-client.js';

// The group transactions' client (pg) must read a URL's sslmode as postgres.js and libpq do, or
// one server would encrypt its reads without checking the certificate and refuse its writes.
describe('the group pool reads sslmode as libpq does', () => {
  it('sslmode=require: encrypted, certificate not checked (pg alone would check it)', () => {
    const url = 'postgres://u:p@db.example:5432/ledger?sslmode=require';
    expect((parse(url).ssl as { rejectUnauthorized?: boolean }).rejectUnauthorized).toBeUndefined();
    expect(parse(libpqSslModes(url)).ssl).toMatchObject({ rejectUnauthorized: false });
  });

  it('verify-full still checks; disable stays plain; a URL without sslmode is left as it is', () => {
    const full = libpqSslModes('postgres://u@db.example/ledger?sslmode=verify-full');
    expect((parse(full).ssl as { rejectUnauthorized?: boolean }).rejectUnauthorized).toBeUndefined();
    expect(parse(libpqSslModes('postgres://u@db.example/ledger?sslmode=disable')).ssl).toBe(false);
    const plain = 'postgres://u@127.0.0.1:5432/ledger';
    expect(libpqSslModes(plain)).toBe(plain);
  });

  it('an explicit uselibpqcompat is the user’s choice and is kept', () => {
    const url = 'postgres://u@db.example/ledger?sslmode=require&uselibpqcompat=false';
    expect(libpqSslModes(url)).toBe(url);
  });
});
