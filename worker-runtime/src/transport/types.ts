import type { BurstKeys } from '../security/keys.js';

/**
 * A Transport moves frames between packs and knows nothing else: not workers, not collectives, not
 * chunking. Frames arrive whole (the transport preserves frame boundaries) and, per (sender, receiver)
 * pack pair, in the order they were sent.
 */
export type TransportKind = 'nats' | 'redis' | 'direct';

export const TRANSPORT_KINDS: readonly TransportKind[] = ['nats', 'redis', 'direct'];

export interface FrameSink {
  /**
   * One frame for this pack. The bytes may be reused after the call returns: copy what you keep; unless
   * `owned`: the transport allocated `frame.buffer` for this frame alone and hands it over (the pack may
   * keep it or transfer it to a worker thread without a copy). `fromPack`: the pack the transport proved
   * sent it (the direct transport's handshake, a sealed frame's tag); undefined when it cannot tell. Only
   * what proved itself says so, and the frame's own header must then agree (pack/relay.ts, pack/links.ts).
   */
  frame(frame: Uint8Array, owned?: boolean, fromPack?: number): void;
  /** The transport failed and cannot continue (connection lost for good, protocol error). */
  error(err: Error): void;
}

export interface TransportOptions {
  /** Unique per flare attempt; namespaces every key, subject or socket name the transport uses. */
  burstId: string;
  packId: number;
  packCount: number;
  /** e.g. redis://127.0.0.1:6379, nats://127.0.0.1:4222, or the direct transport's peer list. */
  url: string;
  /**
   * Where `url` came from, as the person who set it would name it (`--transport`, `spec.transport.url`,
   * a Secret): a broker that cannot be reached is blamed on that, not on some other place.
   */
  urlSource?: string;
  /**
   * NATS: connect as this user (a JWT and its nkey seed, `SU…`; the burst's own user, transport/nats-users.ts)
   * instead of anything the URL says. `source` names where they came from, for messages; never the seed.
   */
  natsUser?: { jwt: string; seed: string; source: string };
  /** How long to keep trying to reach a peer that is not listening yet (the pack passes its join timeout). */
  connectTimeoutMs?: number;
  /** The flare's keys (security/keys.ts): the direct transport authenticates every connection with them. */
  keys?: BurstKeys;
  /** A connection was dropped before it authenticated (a stranger, or a misconfigured peer): for logs. */
  onRefused?: (reason: string) => void;
  /** A peer said goodbye on a connection (direct transport): it leaves on purpose. */
  onBye?: (pack: number) => void;
  /** How long a connection's handshake may take (direct transport; default HELLO_TIMEOUT_MS). */
  helloTimeoutMs?: number;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Largest frame (header + chunk) the transport carries; known after connect. */
  readonly maxFrameBytes: number;
  /** Connects and starts delivering this pack's frames to `sink`. Resolves once frames sent to this pack will be received. */
  connect(sink: FrameSink): Promise<void>;
  /**
   * Sends frames to a pack, in order. Resolves when the transport has accepted them (for flow control).
   * `urgent` marks control traffic (heartbeats, aborts) that may overtake queued data when the transport
   * can do that (Redis: a separate list popped first); order among urgent frames is still kept.
   */
  send(pack: number, frames: readonly Uint8Array[], urgent?: boolean): Promise<void>;
  /**
   * Optional gather-write: each frame given as its parts (a header, a view of the payload), written to the
   * wire without joining them, so a payload in shared memory goes out with no copy in user space. Same
   * ordering as `send` (the two may be mixed).
   */
  sendParts?(pack: number, frames: readonly (readonly Uint8Array[])[]): Promise<void>;
  /** Deletes what this pack created on the broker (its inbox). Idempotent; safe after errors. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export type TransportFactory = (kind: TransportKind, options: TransportOptions) => Transport | Promise<Transport>;
