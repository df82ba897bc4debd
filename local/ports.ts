import { createServer } from 'node:net';

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
