import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransportKind } from '../../worker-runtime/src/transport/types.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Compiled fixture module (make test builds them before jest runs). */
export function fixture(name: string): string {
  return join(ROOT, 'test', 'fixtures', 'dist', `${name}.js`);
}

export const REDIS_URL = process.env.KB_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.KB_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * The transports every BCM test runs over. The direct transport has no server: an empty url lets the
 * launcher put a Unix socket per pack in the flare's temp dir.
 */
export const BROKERS: { kind: TransportKind; url: string }[] = [
  { kind: 'redis', url: REDIS_URL },
  { kind: 'nats', url: NATS_URL },
  { kind: 'direct', url: '' },
];
