import type { Server } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';

/**
 * Fails with EADDRINUSE when `port` is taken on `host`, before anything is started or cleaned: a second
 * `npm start --clean` must not wipe the state folder of the runtime that holds the port.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** Whether something accepts TCP connections at the URL's host and port (within a second). */
export async function answers(url: string): Promise<boolean> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: target.hostname, port, timeout: 1000 });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** A local service's HTTP server once it listens: its address, and how to stop it (open connections included). */
export interface ListeningServer {
  readonly endpoint: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Listens on `host` and `port` (0: a free one) and resolves once the server accepts connections; `close` drops
 * the connections still open (kept-alive SDK clients) and waits for the server to stop. `beforeClose` releases
 * what the service holds besides (an outgoing agent).
 */
export async function listenLocally(server: Server, options: { readonly host: string; readonly port?: number }, beforeClose?: () => void): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${options.host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        beforeClose?.();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
