import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * The flare's secret: 32 random bytes per attempt (the operator keeps them in a Secret it creates for the
 * attempt and mounts into every pack; `kubeburst run` makes them in memory and hands them to each pack on
 * a descriptor: security/handoff.ts).
 * Nothing without them can take part: connections between packs prove knowledge of a key derived from it
 * (protocol/hello.ts), and frames over a broker carry a MAC keyed by another (transport/sealed.ts).
 *
 * Keys are derived with HKDF-SHA256, salted with the burst id, so the keys of one attempt are useless for
 * any other even if a secret were reused.
 */
export const SECRET_BYTES = 32;
/** The key a Secret's data holds the attempt secret under, base64. */
export const SECRET_KEY = 'secret';

export interface BurstKeys {
  /** Authenticates the handshake of every pack-to-pack connection (direct transport, liveness links). */
  readonly hello: Buffer;
  /** What each run of a pack derives its frame MAC keys from (transport/sealed.ts: runMacKeys). */
  readonly frameMac: Buffer;
  /** What each run of a pack derives its frame encryption key from, when the flare asks for encryption. */
  readonly frameEnc: Buffer;
}

export function deriveKeys(secret: Uint8Array, burstId: string): BurstKeys {
  const derive = (info: string, bytes: number): Buffer => Buffer.from(hkdfSync('sha256', secret, burstId, `kubeburst ${info} v1`, bytes));
  return { hello: derive('hello', 32), frameMac: derive('frame macs', 32), frameEnc: derive('frame encryption', 32) };
}

/** Bytes of a run's epoch: random per sending transport (transport/sealed.ts), so runs never share keys. */
export const EPOCH_BYTES = 8;

/**
 * 64 bytes of key for one run of a pack (its random `epoch`): HMAC-SHA-512 under `key` (itself a uniform
 * HKDF output, so HMAC is the PRF that binds it) of a label and the epoch. A pack that runs twice in an
 * attempt starts its counters again, but under other keys. One HMAC (about 2 µs): a receiver derives the
 * keys an unknown epoch claims before it can tell whether the frame is forged.
 */
export function runKeyBytes(key: Buffer, epoch: Uint8Array): Buffer {
  return createHmac('sha512', key).update(RUN_LABEL).update(epoch).digest();
}
const RUN_LABEL = Buffer.from('kubeburst run v1\0');

/** A fresh secret, base64 (what a Secret's data or a pack's secret file holds). */
export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64');
}

/** A secret file's text as the secret: base64 of at least 32 bytes (whitespace ignored). */
export function parseSecret(text: string, field: string): Buffer {
  const b64 = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new ConfigError(field, 'the flare secret must be base64');
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.byteLength < SECRET_BYTES) throw new ConfigError(field, `the flare secret must be at least ${SECRET_BYTES} bytes (got ${bytes.byteLength})`);
  return bytes;
}
