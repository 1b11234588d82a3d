import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TransportError } from '../errors.js';
import { FRAME_TRAILER_BYTES, HEADER_BYTES, saysWholeMessage } from '../protocol/frame.js';
import { ChachaPolyKey, chachaPolyTag, chachaPolyVerify } from '../security/chacha-poly.js';
import { type BurstKeys, EPOCH_BYTES, runKeyBytes } from '../security/keys.js';
import type { FrameSink, Transport, TransportKind } from './types.js';

/** Also `@kubeburst/worker-runtime/sealed`: a transport of your own, sealed as the built-in brokers are. */
export type { FrameSink, Transport } from './types.js';

/**
 * Frames through a broker (Redis, NATS), sealed with the flare's keys: anyone else on the broker can read
 * its keys and subjects, so every frame says who sent it, in which order, and proves it.
 *
 *   sealed frame = frame | src:u32 | ctr:u32 | epoch[8] | tag[16]        (little-endian; the trailer is 32 bytes)
 *   sealed bundle = (len:u32 | frame) × k | src+2^31:u32 | ctr:u32 | epoch[8] | tag[16]
 *
 *   authenticated (default)   frames of up to SMALL_FRAME_BYTES: tag = ChaCha20-Poly1305 of an empty
 *                             plaintext, key small@epoch, nonce src|dst|ctr, the frame as AAD, computed
 *                             in TypeScript (security/chacha-poly.ts: a native cipher object costs more
 *                             per call than hashing a small frame does);
 *                             larger frames: tag = GMAC: AES-128-GCM, key gmac@epoch, same nonce, the
 *                             frame as AAD (native: AES-NI and carry-less multiply)
 *   encrypted                 frame = AES-256-GCM ciphertext under enc@epoch, same nonce; tag its GCM tag
 *
 * `epoch` is 8 random bytes a sending transport draws when it is made; small@epoch and gmac@epoch are
 * bytes 0..32 and 32..48 of HMAC-SHA-512 under the flare's frameMac key of it, enc@epoch bytes 0..32 of
 * the same under frameEnc (security/keys.ts runKeyBytes): each run of a pack seals under keys of its own.
 * Counters start at 0 in every run, so a pack that ran twice in one attempt (a pod made again under the
 * same Secret) would otherwise repeat nonces under one key, and two GMACs under one nonce give away the
 * key's hash subkey: a forger's way in. A receiver takes the epoch of the first frame from a pack that proves itself and drops
 * (and counts) every frame of another epoch from that pack after it. (Each receiver pins on its own, by
 * arrival: if a pack did run twice, different receivers could pin different runs, and frames of either
 * would fail at the others; the flare then fails or times out, with no nonce repeated under any key.)
 *
 * The receiver picks the MAC by the frame's length as the sender did, so either is verified with the one
 * it was made with; the two keys are distinct (other bytes of the HMAC), so no tag of one is a tag of the
 * other.
 *
 * Frames of up to BUNDLE_FRAME_BYTES (every frame of a message of up to 64 KiB) that one `send` gives for
 * one pack travel as bundles of up to BUNDLE_BYTES: one broker message, one counter, one tag for them all.
 * A broker message, and a native MAC, have a fixed cost as large as hashing tens of kilobytes, so a stream
 * of such messages (which the relay hands over once per event-loop turn, pack/relay.ts) pays it per bundle
 * instead of per frame, for one copy of the frames into the bundle. The high bit of the trailer's src marks
 * a bundle; it is part of the nonce, so a bundle cannot pass for a frame. A bundle that proves itself but
 * does not parse came from a holder of the key: the flare fails, naming the pack.
 * (A pack from before bundles would drop one as from an unknown pack, then report the frames after it as
 * lost: the packs of a flare run one image.)
 *
 * `ctr` counts the frames from src to dst, from 0: nonces never repeat under a key, a replayed or
 * duplicated frame is seen (its counter is behind), and so is a lost one (ahead). What fails its tag is
 * dropped and counted, never delivered, and never aborts the flare by itself (a stranger could send it);
 * a frame that proves itself but skips counters means the broker lost frames: the flare aborts at once,
 * naming the transport, instead of waiting out a timeout that would blame a healthy worker.
 *
 * Frames leave with no copy when their buffer has FRAME_TRAILER_BYTES to spare after them (the endpoint
 * allocates them so); otherwise they are copied once. Frames given as parts (sendParts) leave as they are,
 * the trailer one more part.
 */
export interface SealOptions {
  keys: BurstKeys;
  packId: number;
  packCount: number;
  /** Encrypt frames too (spec.transport.encryption). */
  encrypt?: boolean;
  /**
   * @internal This run's epoch (EPOCH_BYTES), for tests; random when not given. Never pass the same one
   * for two runs: that would repeat nonces under one key.
   */
  epoch?: Uint8Array;
  /** A frame was dropped: it did not prove itself, or came out of order (for logs and counters). */
  onRejected?: (reason: string) => void;
}

const TAG_BYTES = 16;
/** Where a trailer's fields sit, from its start. */
const CTR_AT = 4;
const EPOCH_AT = 8;
const TAG_AT = EPOCH_AT + EPOCH_BYTES;

/** The keys one run of a pack seals with (only those its mode needs). */
interface RunKeys {
  readonly mac: Buffer;
  readonly small: ChachaPolyKey;
  readonly enc: Buffer;
}
/**
 * Frames up to this many bytes (header included: a message of up to 448 bytes) are MACed in TypeScript,
 * larger ones natively: below where the native call's fixed cost meets TypeScript's per-byte cost (a hand
 * measurement on a loaded 2-core machine put that past 512 bytes; bench:bcm does not measure it).
 */
export const SMALL_FRAME_BYTES = 512;

export class SealedTransport implements Transport {
  readonly kind: TransportKind;
  /** Frames dropped because they failed verification or were replays. */
  rejected = 0;
  private readonly sent: Uint32Array;
  private readonly expected: Uint32Array;
  private sink: FrameSink | undefined;
  private failed = false;
  private readonly epoch: Uint8Array;
  /** What this run seals with. */
  private readonly own: RunKeys;
  /** Per pack: the run its frames come from (the epoch of its first frame that proved itself) and its keys. */
  private readonly peers: ({ epoch: Buffer; keys: RunKeys } | undefined)[];
  /** The nonce of the frame being sealed or opened (native ciphers copy it in; no allocation per frame). */
  private readonly nonce = Buffer.alloc(12);
  /** Where chunks of large messages are verified before the reassembler copies them out (see open). */
  private scratchBuffer: Uint8Array | undefined;

  constructor(
    private readonly inner: Transport,
    private readonly o: SealOptions,
  ) {
    this.kind = inner.kind;
    if (o.epoch !== undefined && o.epoch.byteLength !== EPOCH_BYTES) throw new RangeError(`an epoch is ${EPOCH_BYTES} bytes (got ${o.epoch.byteLength})`);
    this.epoch = o.epoch ?? randomBytes(EPOCH_BYTES);
    this.own = this.runKeys(this.epoch);
    this.peers = new Array<{ epoch: Buffer; keys: RunKeys } | undefined>(o.packCount).fill(undefined);
    this.sent = new Uint32Array(o.packCount);
    this.expected = new Uint32Array(o.packCount);
    const gather = inner.sendParts?.bind(inner);
    if (gather !== undefined && o.encrypt !== true)
      this.sendParts = (pack, frames) => {
        let sealed: Uint8Array[][];
        try {
          sealed = frames.map((parts) => this.sealParts(pack, parts));
        } catch (err) {
          return Promise.reject(err);
        }
        return gather(pack, sealed);
      };
  }

  get maxFrameBytes(): number {
    return this.inner.maxFrameBytes - FRAME_TRAILER_BYTES;
  }

  connect(sink: FrameSink): Promise<void> {
    this.sink = sink;
    return this.inner.connect({ frame: (f, owned) => this.open(f, owned === true), error: (err) => sink.error(err) });
  }

  /**
   * Gather-writes, when the inner transport has them and frames are only authenticated: the MAC reads a
   * frame's parts where they are, and the trailer goes out as one more part (so a payload in shared memory
   * still leaves with no copy). Encrypted frames are written anew anyway, so they take `send`.
   */
  readonly sendParts?: (pack: number, frames: readonly (readonly Uint8Array[])[]) => Promise<void>;

  send(pack: number, frames: readonly Uint8Array[], urgent?: boolean): Promise<void> {
    let sealed: Uint8Array[];
    try {
      sealed = this.sealAll(pack, frames);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.inner.send(pack, sealed, urgent);
  }

  /** `frames` sealed in order: each run of two or more small ones that fits a bundle as one bundle. */
  private sealAll(dst: number, frames: readonly Uint8Array[]): Uint8Array[] {
    const limit = Math.min(BUNDLE_BYTES, this.inner.maxFrameBytes - FRAME_TRAILER_BYTES);
    const out: Uint8Array[] = [];
    for (let i = 0; i < frames.length;) {
      let end = i;
      let bytes = 0;
      while (end < frames.length && frames[end]!.byteLength <= BUNDLE_FRAME_BYTES && bytes + 4 + frames[end]!.byteLength <= limit) bytes += 4 + frames[end++]!.byteLength;
      if (end - i < 2) out.push(this.seal(dst, frames[i++]!));
      else {
        out.push(this.seal(dst, bundleOf(frames, i, end, bytes), BUNDLE_FLAG));
        i = end;
      }
    }
    return out;
  }

  cleanup(): Promise<void> {
    return this.inner.cleanup();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** The counter of the next frame to `dst`, taken. */
  private nextCounter(dst: number): number {
    const ctr = this.sent[dst]!;
    if (ctr === 0xffffffff) throw new TransportError(this.kind, `more than 2^32 - 1 frames to pack ${dst}: the counter would repeat`);
    this.sent[dst] = ctr + 1;
    return ctr;
  }

  /** One frame, or (with `flag` BUNDLE_FLAG) one bundle, sealed. */
  private seal(dst: number, frame: Uint8Array, flag = 0): Uint8Array {
    const ctr = this.nextCounter(dst);
    const src = (this.o.packId | flag) >>> 0;
    const nonce = this.nonceOf(src, dst, ctr);
    const n = frame.byteLength;
    let out: Uint8Array;
    if (this.o.encrypt) {
      const c = createCipheriv('aes-256-gcm', this.own.enc, nonce);
      out = Buffer.allocUnsafe(n + FRAME_TRAILER_BYTES);
      const body = c.update(frame);
      out.set(body, 0);
      c.final();
      out.set(c.getAuthTag(), n + TAG_AT);
    } else {
      const room = frame.byteOffset + n + FRAME_TRAILER_BYTES <= frame.buffer.byteLength ? frame : copyWithRoom([frame], n);
      out = new Uint8Array(room.buffer, room.byteOffset, n + FRAME_TRAILER_BYTES);
      if (n <= SMALL_FRAME_BYTES) chachaPolyTag(this.own.small, nonce, frame, out, n + TAG_AT);
      else {
        const c = createCipheriv('aes-128-gcm', this.own.mac, nonce);
        c.setAAD(frame);
        c.final();
        out.set(c.getAuthTag(), n + TAG_AT);
      }
    }
    putU32(out, n, src);
    putU32(out, n + CTR_AT, ctr);
    out.set(this.epoch, n + EPOCH_AT);
    return out;
  }

  /** A frame given as parts, sealed as `seal` seals the parts joined; small frames are joined and sealed. */
  private sealParts(dst: number, parts: readonly Uint8Array[]): Uint8Array[] {
    let n = 0;
    for (const p of parts) n += p.byteLength;
    if (n <= SMALL_FRAME_BYTES) return [this.seal(dst, copyWithRoom(parts, n))];
    const ctr = this.nextCounter(dst);
    const c = createCipheriv('aes-128-gcm', this.own.mac, this.nonceOf(this.o.packId, dst, ctr));
    for (const p of parts) c.setAAD(p);
    c.final();
    const trailer = Buffer.allocUnsafe(FRAME_TRAILER_BYTES);
    putU32(trailer, 0, this.o.packId);
    putU32(trailer, CTR_AT, ctr);
    trailer.set(this.epoch, EPOCH_AT);
    trailer.set(c.getAuthTag(), TAG_AT);
    return [...parts, trailer];
  }

  private open(sealed: Uint8Array, owned: boolean): void {
    if (this.failed) return;
    const n = sealed.byteLength - FRAME_TRAILER_BYTES;
    if (n < 0) return this.reject(`a message of ${sealed.byteLength} bytes, shorter than a sealed frame's trailer`);
    const srcField = getU32(sealed, n);
    const bundle = srcField >= BUNDLE_FLAG;
    const src = srcField & ~BUNDLE_FLAG;
    const ctr = getU32(sealed, n + CTR_AT);
    if (src >= this.o.packCount || src === this.o.packId) return this.reject(`a frame claiming to come from 'pack ${src}'`);
    const epoch = Buffer.from(sealed.buffer, sealed.byteOffset + n + EPOCH_AT, EPOCH_BYTES);
    const known = this.peers[src];
    if (known !== undefined && !known.epoch.equals(epoch)) {
      return this.reject(`a frame from another run of pack ${src} (epoch ${epoch.toString('hex')}, its frames so far carried ${known.epoch.toString('hex')})`);
    }
    // Not yet known: the keys of the epoch it claims, kept once a frame under them proves itself.
    const keys = known?.keys ?? this.runKeys(epoch);
    const nonce = this.nonceOf(srcField, this.o.packId, ctr);
    const tag = sealed.subarray(n + TAG_AT, n + TAG_AT + TAG_BYTES);
    let frame: Uint8Array;
    try {
      if (this.o.encrypt) {
        const d = createDecipheriv('aes-256-gcm', keys.enc, nonce);
        d.setAuthTag(tag);
        const body = d.update(sealed.subarray(0, n));
        d.final();
        frame = body;
        owned = true;
      } else if (n <= SMALL_FRAME_BYTES) {
        frame = sealed.subarray(0, n);
        if (!chachaPolyVerify(keys.small, nonce, frame, tag)) throw new Error('tag');
      } else if (owned || n < COPY_FIRST_BYTES || bundle) {
        frame = sealed.subarray(0, n);
        verifyGmac(keys.mac, nonce, frame, tag);
      } else {
        // A large frame the pack does not own sits in the client's read buffer, likely out of cache by now
        // (a Redis reply holds up to 32 frames), and the pack copies it anyway: copy it first, and the MAC
        // reads the copy while it is in cache, which on some CPUs costs less than reading it cold (on a Xeon
        // it did; on an EPYC, where GMAC is slower than memory, it is a wash: bench/results/auth-breakdown).
        // The bytes verified are then the bytes delivered. A whole message gets a buffer of its own, handed on
        // as owned (no copy after this one); a chunk of a larger message lands in a scratch buffer that the
        // reassembler copies out of at once (chunks too big for it are verified where they are).
        owned = saysWholeMessage(sealed);
        frame = owned ? Buffer.allocUnsafeSlow(n) : n <= SCRATCH_MAX_BYTES ? this.scratch(n) : sealed.subarray(0, n);
        if (frame.buffer !== sealed.buffer) frame.set(sealed.subarray(0, n));
        verifyGmac(keys.mac, nonce, frame, tag);
      }
    } catch {
      return this.reject(`a frame from 'pack ${src}' (counter ${ctr}) that failed verification`);
    }
    if (known === undefined) this.peers[src] = { epoch: Buffer.from(epoch), keys };
    const want = this.expected[src]!;
    if (ctr < want) return this.reject(`a replayed or duplicated frame from pack ${src} (counter ${ctr}, expected ${want})`);
    if (ctr > want) {
      this.failed = true;
      this.sink?.error(
        new TransportError(
          this.kind,
          `lost ${ctr - want} frame(s) from pack ${src}: the ${this.kind} transport did not deliver frames ${want}..${ctr - 1} (a dropped connection, or a broker that discards messages)`,
        ),
      );
      return;
    }
    this.expected[src] = want + 1;
    if (bundle) this.unbundle(frame, src);
    else this.sink?.frame(frame, owned, src);
  }

  /** Delivers a verified bundle's frames, views of it (not owned: they share its buffer). */
  private unbundle(body: Uint8Array, src: number): void {
    const n = body.byteLength;
    let at = 0;
    let k = 0;
    while (at < n && !this.failed) {
      const len = at + 4 <= n ? getU32(body, at) : -1;
      if (len < 0 || len > n - at - 4) {
        this.failed = true;
        this.sink?.error(
          new TransportError(
            this.kind,
            `pack ${src} sent a bundle of frames that does not parse: frame ${k} at byte ${at} of ${n} ${len < 0 ? 'has no length' : `says ${len} bytes`}`,
          ),
        );
        return;
      }
      this.sink?.frame(body.subarray(at + 4, at + 4 + len), false, src);
      at += 4 + len;
      k++;
    }
  }

  /** The keys of the run with `epoch`: the flare's keys this transport's mode uses, bound to it. */
  private runKeys(epoch: Uint8Array): RunKeys {
    const k = this.o.keys;
    if (this.o.encrypt) return { enc: runKeyBytes(k.frameEnc, epoch).subarray(0, 32), mac: EMPTY, small: NO_SMALL_KEY };
    const bytes = runKeyBytes(k.frameMac, epoch);
    return { small: new ChachaPolyKey(bytes.subarray(0, 32)), mac: bytes.subarray(32, 48), enc: EMPTY };
  }

  /** A reused buffer of `n` bytes (at most SCRATCH_MAX_BYTES). */
  private scratch(n: number): Uint8Array {
    if (this.scratchBuffer === undefined || this.scratchBuffer.byteLength < n) this.scratchBuffer = Buffer.allocUnsafeSlow(Math.max(n, 64 * 1024));
    return this.scratchBuffer.subarray(0, n);
  }

  /** The nonce of frame `ctr` from `src` to `dst`: unique per key for the life of the flare. */
  private nonceOf(src: number, dst: number, ctr: number): Buffer {
    const b = this.nonce;
    putU32(b, 0, src);
    putU32(b, 4, dst);
    putU32(b, 8, ctr);
    return b;
  }

  private reject(reason: string): void {
    this.rejected++;
    this.o.onRejected?.(reason);
  }
}

const EMPTY = Buffer.alloc(0);
/** Stands in for the small-frame key where frames are encrypted (never used: encryption has one key). */
const NO_SMALL_KEY = new ChachaPolyKey(Buffer.alloc(32));

/** Marks a bundle in the trailer's src field (see the top of this file). */
const BUNDLE_FLAG = 0x8000_0000;
/** Frames up to this size may travel in a bundle: a message of up to 64 KiB and its header. */
export const BUNDLE_FRAME_BYTES = 64 * 1024 + HEADER_BYTES;
/**
 * A bundle holds up to this many bytes (lengths included), and never more than the broker carries: more than
 * one relay send holds (256 KiB and the frame that passed it), so a turn's frames to a pack make one bundle.
 */
const BUNDLE_BYTES = 512 * 1024;

/** Frames `from`..`to` - 1 of `frames` (`bytes` with their lengths) as a bundle, with room for the trailer. */
function bundleOf(frames: readonly Uint8Array[], from: number, to: number, bytes: number): Uint8Array {
  const out = Buffer.allocUnsafe(bytes + FRAME_TRAILER_BYTES);
  let at = 0;
  for (let i = from; i < to; i++) {
    const f = frames[i]!;
    putU32(out, at, f.byteLength);
    out.set(f, at + 4);
    at += 4 + f.byteLength;
  }
  return out.subarray(0, bytes);
}

/** Frames from this size on are copied before they are verified (see open). */
const COPY_FIRST_BYTES = 64 * 1024;
/** Chunks up to this size are verified in a reused buffer (the default chunk is 1 MiB). */
const SCRATCH_MAX_BYTES = 4 * 1024 * 1024;

/** Throws unless `tag` is the GMAC of `frame` (AES-128-GCM, the frame as AAD). */
function verifyGmac(key: Uint8Array, nonce: Uint8Array, frame: Uint8Array, tag: Uint8Array): void {
  const d = createDecipheriv('aes-128-gcm', key, nonce);
  d.setAuthTag(tag);
  d.setAAD(frame);
  d.final();
}

/** Little-endian u32 at `at` (no DataView: one less object per frame, on the round trip's path). */
function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

function getU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** The parts (`n` bytes in all) joined, in a buffer with FRAME_TRAILER_BYTES to spare after them. */
function copyWithRoom(parts: readonly Uint8Array[], n: number): Uint8Array {
  const out = Buffer.allocUnsafe(n + FRAME_TRAILER_BYTES);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.subarray(0, n);
}
