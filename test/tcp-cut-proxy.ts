import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of the test PostgreSQL that can cut every connection and stop listening
 * (the database "goes away": connections refused, as while it restarts) and later listen again
 * on the same port.
 */
export class TcpCutProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
    public port: number,
  ) {}

  static async start(upstreamHost: string, upstreamPort: number): Promise<TcpCutProxy> {
    const proxy = new TcpCutProxy(upstreamHost, upstreamPort, 0);
    await proxy.restore();
    return proxy;
  }

  private accept(client: Socket): void {
    const upstream = new Socket();
    upstream.connect(this.upstreamPort, this.upstreamHost);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }

  /**
   * Drops every open connection and stops listening until `restore`. `reset`: with a TCP RST
   * instead of a FIN (the client sees ECONNRESET, as when a peer host vanishes or a firewall drops
   * the connection).
   */
  async cut(options: { reset?: boolean } = {}): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) {
      if (options.reset === true) s.resetAndDestroy();
      else s.destroy();
    }
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again (on the same port once it had one). */
  async restore(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');
    this.port = address.port;
    this.server = server;
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
