import * as grpc from '@grpc/grpc-js';

/** How a client proves the server and itself: TLS (optionally with a client certificate) and a token. */
export interface ClientSecurity {
  /** When set, the channel speaks TLS. */
  tls?: {
    /** PEM of the CA(s) that signed the server's certificate; the system's roots when absent. */
    caPem?: Buffer | undefined;
    /** Client certificate and key for mTLS (both or neither). */
    certPem?: Buffer | undefined;
    keyPem?: Buffer | undefined;
  };
  /** Sent as `authorization: Bearer <token>` on every ledger call. */
  token?: string | undefined;
}

export function channelCredentials(security: ClientSecurity | undefined): grpc.ChannelCredentials {
  const tls = security?.tls;
  if (tls === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.caPem ?? null, tls.keyPem ?? null, tls.certPem ?? null);
}

/** The metadata every call starts from (a copy per call: grpc-js may add to it). */
export function callMetadata(security: ClientSecurity | undefined): () => grpc.Metadata {
  const token = security?.token;
  if (token === undefined) return () => new grpc.Metadata();
  const base = new grpc.Metadata();
  base.set('authorization', `Bearer ${token}`);
  return () => base.clone();
}
