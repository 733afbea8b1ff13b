import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export interface H2Tls {
  caPem?: Buffer | undefined;
  certPem?: Buffer | undefined;
  keyPem?: Buffer | undefined;
}

/** Where the lean caller's socket goes, and the :authority and :scheme its requests carry. */
export interface H2Endpoint {
  secure: boolean;
  /** `:authority` of every request (host:port as given; `localhost` for a unix socket). */
  authority: string;
  host?: string;
  port?: number;
  path?: string;
}

/**
 * The load generator speaks HTTP/2 itself, so the target forms grpc-js understands (and the CLI
 * accepts: host:port, [ipv6]:port, dns:host:port, dns:///host:port, dns://resolver/host:port,
 * unix:path, unix:///abs/path, unix-abstract:name) are mapped here, behind an http:// or https://
 * scheme. A dns: resolver authority is not used: the name is resolved by the system resolver.
 */
export function h2Endpoint(target: string): H2Endpoint {
  const scheme = /^https?:\/\//.exec(target)?.[0] ?? 'http://';
  const secure = scheme === 'https://';
  const bare = target.startsWith(scheme) ? target.slice(scheme.length) : target;
  const unix = /^unix:(?:\/\/(?=\/))?(.+)$/.exec(bare);
  const abstract = /^unix-abstract:(.+)$/.exec(bare);
  const path = unix?.[1] ?? (abstract === null ? undefined : `\0${abstract[1]}`);
  if (path !== undefined) return { secure, authority: 'localhost', path };
  let hostPort = bare;
  if (hostPort.startsWith('dns:')) {
    hostPort = hostPort.slice('dns:'.length);
    if (hostPort.startsWith('//')) hostPort = hostPort.slice(hostPort.indexOf('/', 2) + 1);
  }
  const colon = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(hostPort.slice(colon + 1));
  return { secure, authority: hostPort, host, port };
}

/** Opens the endpoint's socket; a TLS socket offers only h2 by ALPN. */
export function openH2Socket(endpoint: H2Endpoint, tls: H2Tls | undefined): Socket | TLSSocket {
  if (!endpoint.secure) {
    return endpoint.path !== undefined
      ? netConnect(endpoint.path)
      : netConnect({ host: endpoint.host!, port: endpoint.port! });
  }
  const common = { ca: tls?.caPem, cert: tls?.certPem, key: tls?.keyPem, ALPNProtocols: ['h2'] };
  if (endpoint.path !== undefined)
    return tlsConnect({ ...common, path: endpoint.path, servername: 'localhost' });
  return tlsConnect({
    ...common,
    host: endpoint.host!,
    port: endpoint.port!,
    ...(isIP(endpoint.host!) === 0 ? { servername: endpoint.host! } : {}),
  });
}
