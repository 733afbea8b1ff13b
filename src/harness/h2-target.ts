import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

/** What node:http2 needs to reach a grpc-js style target. */
export interface H2ConnectArgs {
  url: string;
  /** A unix socket, which an http URL cannot name. */
  createConnection?: () => Duplex;
}

export interface H2Tls {
  caPem?: Buffer;
  certPem?: Buffer;
  keyPem?: Buffer;
}

/**
 * The load generator speaks HTTP/2 itself, so the target forms grpc-js understands (and the CLI
 * accepts: host:port, dns:host:port, dns:///host:port, dns://resolver/host:port, unix:path,
 * unix:///abs/path, unix-abstract:name) are mapped here, behind an http:// or https:// scheme. A
 * dns: resolver authority is not used: the name is resolved by the system resolver.
 */
export function h2ConnectArgs(authority: string, tls?: H2Tls): H2ConnectArgs {
  const scheme = /^https?:\/\//.exec(authority)?.[0] ?? 'http://';
  const bare = authority.startsWith(scheme) ? authority.slice(scheme.length) : authority;
  const unix = /^unix:(?:\/\/(?=\/))?(.+)$/.exec(bare);
  const abstract = /^unix-abstract:(.+)$/.exec(bare);
  const path = unix?.[1] ?? (abstract === null ? undefined : `\0${abstract[1]}`);
  if (path !== undefined) {
    const createConnection =
      tls === undefined
        ? () => netConnect(path)
        : () =>
            tlsConnect({ path, ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, ALPNProtocols: ['h2'] });
    return { url: `${scheme}localhost`, createConnection };
  }
  let hostPort = bare;
  if (hostPort.startsWith('dns:')) {
    hostPort = hostPort.slice('dns:'.length);
    if (hostPort.startsWith('//')) hostPort = hostPort.slice(hostPort.indexOf('/', 2) + 1);
  }
  return { url: `${scheme}${hostPort}` };
}
