/**
 * A round-robin TCP proxy on loopback, standing in for the load balancer in front of several
 * instances: each new connection goes to the next instance that accepts it (no sticky sessions).
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './helpers.js';

export async function roundRobin(ports: () => readonly number[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    client.pause();
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    const list = ports();
    const attempt = (tries: number) => {
      if (tries >= list.length || client.destroyed) return client.destroy();
      const port = list[next++ % list.length]!;
      const upstream = connect(port, '127.0.0.1');
      open.add(upstream);
      upstream.on('close', () => {
        open.delete(upstream);
        client.destroy();
      });
      upstream.once('error', () => {
        upstream.removeAllListeners('close');
        open.delete(upstream);
        upstream.destroy();
        attempt(tries + 1);
      });
      upstream.once('connect', () => {
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  onCleanup(close);
  return { url: `http://127.0.0.1:${port}`, close };
}
