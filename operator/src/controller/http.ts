import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * /metrics (Prometheus), /healthz (the process and its caches are alive) and /readyz (caches synced: the
 * operator can act, or take over as leader at once).
 */
export interface HealthSources {
  registry: Registry;
  healthy: () => string | null;
  ready: () => string | null;
}

export async function serveHttp(bind: string, src: HealthSources): Promise<{ server: Server; port: number }> {
  const i = bind.lastIndexOf(':');
  const host = bind.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(bind.slice(i + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      src.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': src.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const problem = path === '/healthz' ? src.healthy() : src.ready();
      res.writeHead(problem === null ? 200 : 503, { 'content-type': 'text/plain' }).end(problem === null ? 'ok\n' : `${problem}\n`);
      return;
    }
    res.writeHead(404).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
