import { registerTransport } from './index.js';

// The direct transport (TCP / Unix sockets between packs) loads only when a burst uses it, like the broker clients.
registerTransport('direct', async (o) => new (await import('./direct.js')).DirectTransport(o));
