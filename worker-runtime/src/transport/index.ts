import { ConfigError } from '../errors.js';
import type { Transport, TransportFactory, TransportKind, TransportOptions } from './types.js';

export * from './types.js';

type Maker = (o: TransportOptions) => Transport | Promise<Transport>;

/** Client libraries load only when a burst uses them (ioredis and nats add ~100 ms to a pack's start). */
const builtins: Partial<Record<TransportKind, Maker>> = {
  redis: async (o) => new (await import('./redis.js')).RedisTransport(o),
  nats: async (o) => new (await import('./nats.js')).NatsTransport(o),
};

/** Registers a transport implementation (the direct transport registers itself this way). */
export function registerTransport(kind: TransportKind, make: Maker): void {
  builtins[kind] = make;
}

export const defaultTransportFactory: TransportFactory = (kind, options) => {
  const make = builtins[kind];
  if (make === undefined) throw new ConfigError('transport.kind', `unknown transport '${kind}': use one of ${Object.keys(builtins).join(', ')}`);
  return make(options);
};
