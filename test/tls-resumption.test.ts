import { copyFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './server-fixture.js';
import { type Issued, TestPki } from './tls-fixture.js';

// Session resumption (TLS 1.3 tickets) as a client that keeps tickets would use it (grpc-js does
// not; other gRPC stacks can): a resumed connection skips the certificate exchange, so the
// principal must still come from the certificate the session was made with, and a SIGHUP that
// changes the client CA must not be bypassed by a ticket issued before it.

const pki = new TestPki('resume-ca');
const otherPki = new TestPki('resume-other-ca');
let serverCert: Issued;
let alice: Issued;
let t: TestServer | undefined;

beforeAll(() => {
  serverCert = pki.issue('server-r', 'server');
  alice = pki.issue('alice', 'client');
});
afterAll(() => {
  pki.remove();
  otherPki.remove();
});
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

interface Attempt {
  /** The handshake resumed the offered session. */
  resumed: boolean;
  /** grpc-status of the call made on the connection; undefined if the connection failed. */
  grpcStatus: string | undefined;
  /** The first ticket the server sent on this connection. */
  ticket: Buffer | undefined;
}

/** CreateAccount {account_id, transaction_id} on one fresh TLS connection, offering `session`. */
function createAccountOver(port: number, accountId: string, session: Buffer | undefined): Promise<Attempt> {
  return new Promise((resolve) => {
    let ticket: Buffer | undefined;
    let resumed = false;
    let grpcStatus: string | undefined;
    const socket: TLSSocket = connect({
      host: '127.0.0.1',
      port,
      ca: pki.ca.cert,
      cert: alice.cert,
      key: alice.key,
      servername: 'localhost',
      ALPNProtocols: ['h2'],
      session,
    });
    socket.on('session', (t: Buffer) => {
      ticket ??= t;
    });
    const done = () => resolve({ resumed, grpcStatus, ticket });
    socket.on('error', done);
    socket.once('secureConnect', () => {
      resumed = socket.isSessionReused();
      const session = h2connect(`https://localhost:${port}`, { createConnection: () => socket });
      session.on('error', () => {});
      const id = Buffer.from(accountId);
      const message = Buffer.concat([Buffer.from([0x0a, id.length]), id, Buffer.from([0x1a, id.length]), id]);
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      const stream = session.request({
        ':method': 'POST',
        ':path': '/ledger.v1.Ledger/CreateAccount',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('response', (headers) => {
        grpcStatus ??= headers['grpc-status'] as string | undefined;
      });
      stream.on('trailers', (trailers) => {
        grpcStatus = trailers['grpc-status'] as string | undefined;
      });
      stream.on('error', () => {});
      stream.resume();
      stream.end(frame);
      stream.on('close', () => {
        // Tickets may come after the answer: give them a moment before closing.
        setTimeout(() => {
          session.close();
          done();
        }, 50);
      });
    });
  });
}

describe('TLS session resumption', () => {
  it('a resumed mTLS connection keeps its certificate principal; a SIGHUP invalidates earlier tickets', async () => {
    const clientCa = join(pki.dir, 'resume-client-ca.pem');
    copyFileSync(pki.ca.certFile, clientCa);
    t = await startTestServer({
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: clientCa },
    });
    const { port } = t.server;
    const first = await createAccountOver(port, 'full', undefined);
    expect(first).toMatchObject({ resumed: false, grpcStatus: '0' });
    expect(first.ticket).toBeDefined();

    const again = await createAccountOver(port, 'resumed', first.ticket);
    expect(again).toMatchObject({ resumed: true, grpcStatus: '0' });
    // The write on the resumed connection is recorded under the certificate's subject.
    expect((await t.server.engine.getTransaction('resumed')).principal).toBe('alice');

    // The operator replaces the client CA (alice's CA is no longer trusted) and sends SIGHUP.
    copyFileSync(otherPki.ca.certFile, clientCa);
    t.server.reloadCredentials();
    const afterReload = await createAccountOver(port, 'after-reload', first.ticket);
    expect(afterReload.resumed).toBe(false);
    expect(afterReload.grpcStatus).toBeUndefined();
    await expect(t.server.engine.getTransaction('after-reload')).rejects.toThrow(/not found/);
  });
});
