/**
 * A TCP proxy on a loopback port in front of the test PostgreSQL server, which a test can cut
 * (every connection dropped, new ones refused) and restore: a database outage without stopping
 * the server that other test files share.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>()
  private down = false
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy!: TcpProxy
    const server = net.createServer((client) => proxy.accept(client, target))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    proxy = new TcpProxy(server, (server.address() as AddressInfo).port)
    return proxy
  }

  private accept(client: net.Socket, target: { host: string; port: number }) {
    if (this.down) return client.destroy()
    const upstream = net.connect(target.port, target.host)
    for (const socket of [client, upstream]) {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  }

  /** Drops every connection and refuses new ones, as a database that went away. */
  cut(): void {
    this.down = true
    for (const socket of this.sockets) socket.destroy()
  }

  restore(): void {
    this.down = false
  }

  close(): Promise<void> {
    this.cut()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
