import { PeerLostError } from '../errors.js';
import type { BurstKeys } from '../security/keys.js';
import { DirectTransport } from '../transport/direct.js';
import { controlFrames, parseControl, type ControlMsg } from './control.js';
import { HEADER_BYTES, readHeader } from '../protocol/frame.js';

export interface LinkHandlers {
  message(from: number, msg: ControlMsg): void;
  /** A neighbour's link closed without a goodbye: its process died, or the network between us failed. */
  lost(pack: number, reason: string): void;
  /** A neighbour closed its link on purpose. */
  left(pack: number): void;
  /** A stranger's connection was dropped before it authenticated. */
  refused(reason: string): void;
}

export interface LinkOptions {
  burstId: string;
  packId: number;
  packCount: number;
  /** Where each pack's link listener is (the direct transport's address grammar; KB_LINK_URL). */
  url: string;
  keys: BurstKeys;
  /** How long to keep dialing a neighbour that is not up yet (the join timeout). */
  connectTimeoutMs: number;
  helloTimeoutMs?: number;
}

/**
 * The pack's liveness links: an authenticated connection to each ring neighbour, separate from the data
 * transport (so heartbeats never wait behind data, and a broker transport's packs still see each other
 * die). Built on the direct transport's connections: its handshake, its goodbye, and its report of a
 * connection that closes without one. Only control messages travel here (heartbeats, aborts).
 */
export class PackLinks {
  private readonly t: DirectTransport;

  constructor(
    private readonly o: LinkOptions,
    private readonly handlers: LinkHandlers,
  ) {
    this.t = new DirectTransport({
      burstId: o.burstId,
      packId: o.packId,
      packCount: o.packCount,
      url: o.url,
      keys: o.keys,
      connectTimeoutMs: o.connectTimeoutMs,
      ...(o.helloTimeoutMs !== undefined ? { helloTimeoutMs: o.helloTimeoutMs } : {}),
      onRefused: (r) => handlers.refused(r),
      onBye: (p) => handlers.left(p),
    });
  }

  get listenAddress(): string {
    return this.t.listenAddress;
  }

  /** Listens, and dials the neighbours (their listeners may not be up yet: dialing retries). */
  async start(neighbours: readonly number[]): Promise<void> {
    await this.t.connect({
      frame: (f, _owned, fromPack) => {
        try {
          const h = readHeader(f);
          // A link speaks for the pack that proved itself on it, never for another.
          if (fromPack !== undefined && h.src !== fromPack) return;
          this.handlers.message(h.src, parseControl(f.subarray(HEADER_BYTES)));
        } catch {
          // An authenticated neighbour sent something unreadable: its link is useless, as if lost.
        }
      },
      error: (err) => {
        if (err instanceof PeerLostError) this.handlers.lost(err.pack, linkLostReason(err.pack));
      },
    });
    for (const n of neighbours) this.send(n, { type: 'hb' });
  }

  send(to: number, msg: ControlMsg): void {
    // A send that fails means the link is down, which the transport reports as a lost peer; a neighbour
    // that never came up is the join timeout's business.
    this.t.send(to, controlFrames(this.o.packId, to, msg)).catch(() => undefined);
  }

  /** Says goodbye on every link and closes them. */
  async close(): Promise<void> {
    await this.t.cleanup().catch(() => undefined);
    await this.t.close();
  }
}

/** The same words on every pack that sees a neighbour die, so every report agrees. */
export const linkLostReason = (pack: number): string => `pack ${pack} is gone: its link closed without a goodbye (the process died or was killed, or its network failed)`;
