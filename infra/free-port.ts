import { createServer } from 'node:net';

/** How many fresh ports a server we place ourselves gets before its start fails for good. */
export const DEFAULT_PORT_ATTEMPTS = 5;

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a start failed because the port it was given was taken (the server's own words differ). */
export function isAddressInUse(err: unknown): boolean {
  const text =
    err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` : String(err);
  return /EADDRINUSE|address already in use/i.test(text);
}

/**
 * Starts a server on a port picked by {@link freePort}, starting it again on a fresh one when the start
 * fails because a port was taken (a server that needs more ports picks the others inside `start`). A free
 * port is only free until someone binds it: another test worker's server or any client's ephemeral source
 * port can take it between our probe and the server's bind, which failed CI once (nats-server: "bind:
 * address already in use").
 */
export async function startOnFreePort<T>(
  start: (port: number) => Promise<T>,
  attempts = DEFAULT_PORT_ATTEMPTS,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt >= attempts || !isAddressInUse(err)) throw err;
    }
  }
}
