import { envelopeFromHeader } from '../communicator/envelope.js';
import { INFLIGHT_KIB, inflightKiB } from '../communicator/endpoint.js';
import { describeError } from '../errors.js';
import { memoryHere } from '../memory.js';
import { chunkHeaders, DEFAULT_MAX_PENDING_BYTES, HEADER_BYTES, MsgKind, Reassembler, readHeader, writeHeader, type MessageHeader } from '../protocol/frame.js';
import type { Transport } from '../transport/types.js';
import type { PackConfig } from './config.js';
import type { AbortInfo } from '../communicator/messages.js';
import type { WireCounters } from './reports.js';
import type { PackThreads } from './threads.js';

/** Frames queued for one pack that make a send of their own at once (see Relay.sendFrames). */
const COALESCE_BYTES = 256 * 1024;

export interface RelayHandlers {
  /** Something on this pack's side of the transport failed, or a pack sent what it must not. */
  failed(info: AbortInfo): void;
}

/**
 * Between the transport and the worker threads: frames from threads go out (counted against the pack's
 * send budget until the transport accepts them); frames coming in are chunks that are reassembled and
 * delivered to their worker. Only data travels here: coordination rides the links (pack/links.ts).
 */
export class Relay {
  readonly wire: WireCounters = { framesSent: 0, bytesSent: 0, framesRecv: 0, bytesRecv: 0 };
  /**
   * Chunks land in a buffer per message (no zero-filling: every byte is written) that then moves to its
   * worker; messages still missing chunks hold at most the pack's memory between them, so one announced
   * larger than that fails the flare naming its sender, where allocating it would get the pack killed.
   */
  private readonly reassembler = new Reassembler((n) => Buffer.allocUnsafeSlow(n), { maxPendingBytes: Math.min(DEFAULT_MAX_PENDING_BYTES, memoryHere()) });
  /**
   * Frames waiting for this turn's send, by destination pack (see sendFrames), with their bytes and the
   * send budget they hold: the KiB each message took, summed (each was rounded up on its own).
   */
  private readonly queued = new Map<number, { frames: Uint8Array[]; bytes: number; kib: number }>();
  private flushSoon: NodeJS.Immediate | undefined;

  constructor(
    private readonly cfg: PackConfig,
    readonly transport: Transport,
    private readonly threads: PackThreads,
    private readonly packCounters: Int32Array,
    private readonly handlers: RelayHandlers,
  ) {}

  /** The chunk size frames are cut to: the configured one, within what the transport carries. */
  get chunkBytes(): number {
    return Math.max(1, Math.min(this.cfg.transport.chunkBytes, this.transport.maxFrameBytes - HEADER_BYTES));
  }

  /**
   * A worker's frames for `pack`, counted against the pack's send budget until the transport accepts them.
   * They wait for the end of this turn of the event loop (setImmediate), with every other frame for `pack`
   * that the worker threads posted meanwhile, and go to the transport in one send: a stream of small
   * messages costs one socket write per turn, not one per message. Past COALESCE_BYTES they go at once.
   */
  sendFrames(pack: number, frames: readonly Uint8Array[]): void {
    let bytes = 0;
    for (const f of frames) bytes += f.byteLength;
    this.wire.framesSent += frames.length;
    this.wire.bytesSent += bytes;
    let q = this.queued.get(pack);
    if (q === undefined) this.queued.set(pack, (q = { frames: [], bytes: 0, kib: 0 }));
    for (const f of frames) q.frames.push(f);
    q.bytes += bytes;
    // What the worker thread counted for this message (endpoint.ts sendRemote).
    q.kib += inflightKiB(bytes);
    if (q.bytes >= COALESCE_BYTES) this.flush(pack);
    else this.flushSoon ??= setImmediate(() => this.flushAll());
  }

  /** Frames still waiting for their turn's send go now (before a gathered send, or when the pack stops). */
  flushAll(): void {
    if (this.flushSoon !== undefined) clearImmediate(this.flushSoon);
    this.flushSoon = undefined;
    for (const pack of [...this.queued.keys()]) this.flush(pack);
  }

  private flush(pack: number): void {
    const q = this.queued.get(pack);
    if (q === undefined) return;
    this.queued.delete(pack);
    this.settle(() => this.transport.send(pack, q.frames), pack, q.kib);
  }

  /** Headers here, payload chunks as views of the worker's shared memory: written with no copy. */
  sendGathered(pack: number, header: MessageHeader, payload: Uint8Array, chunk: number): void {
    const gather = this.transport.sendParts?.bind(this.transport);
    if (gather === undefined) return;
    // After what the workers sent to `pack` before: frames to a pack leave in the order they were sent.
    this.flush(pack);
    const frames = chunkHeaders(header, payload.byteLength, chunk).map((c) => {
      const h = Buffer.allocUnsafe(HEADER_BYTES);
      writeHeader(h, c);
      return [h, payload.subarray(c.chunkOffset, c.chunkOffset + c.chunkBytes)];
    });
    this.wire.framesSent += frames.length;
    this.wire.bytesSent += payload.byteLength + frames.length * HEADER_BYTES;
    this.settle(() => gather(pack, frames), pack, inflightKiB(payload.byteLength + frames.length * HEADER_BYTES));
  }

  /** A frame from the transport; `fromPack`, when the transport proved who sent it (FrameSink). */
  onFrame(frame: Uint8Array, owned = false, fromPack?: number): void {
    this.wire.framesRecv++;
    this.wire.bytesRecv += frame.byteLength;
    let msg;
    let from: number | undefined;
    try {
      const h = readHeader(frame);
      from = h.kind === MsgKind.Control ? h.src : this.cfg.layout.packOf(h.src);
      if (h.kind === MsgKind.Control) throw new Error('a control frame on the data transport (control travels on the links: mixed kubeburst versions?)');
      if (fromPack !== undefined && from !== fromPack) {
        // Only a holder of the key gets this far (a bug, or a pack posing as another): the sender is known.
        this.handlers.failed({
          failedPack: fromPack,
          reason: `pack ${this.cfg.packId} received a frame from pack ${fromPack} that says it comes from worker ${h.src}, of pack ${from}`,
        });
        return;
      }
      msg = this.reassembler.push(from, frame);
    } catch (err) {
      this.handlers.failed({
        failedPack: from ?? this.cfg.packId,
        reason: `pack ${this.cfg.packId} received a bad frame${from !== undefined ? ` from pack ${from}` : ''}: ${describeError(err)}`,
      });
      return;
    }
    if (msg === undefined) return;
    const e = envelopeFromHeader(msg.header, msg.payload);
    if (!this.threads.has(e.dst)) {
      this.handlers.failed({ failedPack: from, reason: `pack ${from} sent a message for worker ${e.dst}, which is not in pack ${this.cfg.packId}` });
      return;
    }
    this.threads.deliver(e, msg.reassembled || (owned && msg.payload.buffer === frame.buffer));
  }

  /**
   * Sends, reports a failed send (one that throws as well as one that rejects), and gives back the `kib` of
   * send budget the workers' messages took once it is done.
   */
  private settle(send: () => Promise<void>, pack: number, kib: number): void {
    let sent: Promise<void>;
    try {
      sent = send();
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => this.release(kib),
      (err: unknown) => {
        this.release(kib);
        // Over the direct transport a failed send means the destination is unreachable (it died, or
        // never came up): blame it. Through a broker it is this pack's connection that failed.
        const blamed = this.transport.kind === 'direct' ? pack : this.cfg.packId;
        this.handlers.failed({ failedPack: blamed, reason: `sending to pack ${pack} failed: ${describeError(err)}` });
      },
    );
  }

  private release(kib: number): void {
    if (kib === 0) return;
    Atomics.sub(this.packCounters, INFLIGHT_KIB, kib);
    Atomics.notify(this.packCounters, INFLIGHT_KIB);
  }
}
