import { connect, createServer } from 'node:net';

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
