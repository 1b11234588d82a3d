import { createServer, type Server } from 'node:http';
import { TransportError } from '../errors.js';
import { POD } from './pod.js';

/**
 * The pack's HTTP endpoint: /healthz answers while the process runs; /readyz turns 200 once the pack has
 * joined the start barrier (the operator sees joins as pod readiness).
 */
export class Health {
  ready = false;
  private server: Server | undefined;

  async listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const ok = req.url === POD.livenessPath || (req.url === POD.readinessPath && this.ready);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not joined\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TransportError('http', `cannot listen on ${host}:${port}: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
