import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The handshake that opens every connection between two packs (the direct transport's data connections
 * and the liveness links): mutual challenge-response over a key only the flare's packs hold
 * (security/keys.ts). Nothing else is read from a connection before it completes.
 *
 *   dialer   → acceptor   OFFER    {proto, from, to, nonce}              who dials whom, a fresh nonce
 *   acceptor → dialer     ANSWER   {proto, nonce, mac: MAC("acceptor")}  proves the acceptor holds the key
 *   dialer   → acceptor   PROOF    {mac: MAC("dialer")}                  proves the dialer holds it
 *   acceptor → dialer     ACCEPT   {accepted: true}                      the connection is live for both
 *
 * Only after ACCEPT do both sides count the connection as live: a handshake that fails or runs out of time
 * on either side is a failed dial (the dialer tries again), never a lost peer. Without ACCEPT a dialer whose
 * PROOF reached a loaded acceptor after its deadline believed in a connection the acceptor had dropped, and
 * blamed it for closing: a false abort seen on a saturated node.
 *
 *   MAC(role) = HMAC-SHA256(helloKey, role | burst | dialer | acceptor | dialer nonce | acceptor nonce)
 *
 * Both nonces are fresh per connection, so a recorded handshake cannot be replayed; the MAC binds the
 * burst and both pack ids, so a proof made for one pair or attempt is worthless for another. Nothing in
 * cleartext names the burst. An acceptor that refuses (wrong key, wrong pack, malformed, too slow, too many
 * bytes) just closes the connection: a refusal tells a stranger nothing.
 */
export const HELLO_PROTO = 'kubeburst-link/2';
export const NONCE_BYTES = 16;
/** A handshake record is small JSON; anything larger before the handshake completes is hostile. */
export const MAX_HELLO_RECORD_BYTES = 512;
/** Bytes a peer may send before its handshake completes (its OFFER and PROOF records with prefixes). */
export const MAX_PREAUTH_BYTES = 2 * (MAX_HELLO_RECORD_BYTES + 5);
/** A connection whose handshake has not completed by then is dropped (a saturated node is slow, not dead). */
export const HELLO_TIMEOUT_MS = 10_000;

export interface Offer {
  proto: string;
  from: number;
  to: number;
  nonce: string;
}
export interface Answer {
  proto: string;
  nonce: string;
  mac: string;
}
export interface Proof {
  mac: string;
}
export interface Accept {
  accepted: boolean;
}

export const newNonce = (): string => randomBytes(NONCE_BYTES).toString('base64');

export function helloMac(key: Uint8Array, role: 'acceptor' | 'dialer', burst: string, dialer: number, acceptor: number, dialerNonce: string, acceptorNonce: string): string {
  return createHmac('sha256', key).update(`${role}\n${burst}\n${dialer}\n${acceptor}\n${dialerNonce}\n${acceptorNonce}`).digest('base64');
}

/** What an acceptor answers an offer that does not fit it with: as long as a MAC, and as meaningless to anyone. */
export const decoyMac = (): string => randomBytes(32).toString('base64');

export function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'base64');
  const y = Buffer.from(b, 'base64');
  return x.byteLength === 32 && y.byteLength === 32 && timingSafeEqual(x, y);
}

/** Parses a handshake record's JSON body; undefined when it is not an object of exactly the expected fields. */
export function parseHelloRecord<T extends Offer | Answer | Proof | Accept>(body: Uint8Array, fields: Record<keyof T & string, 'string' | 'number' | 'boolean'>): T | undefined {
  if (body.byteLength > MAX_HELLO_RECORD_BYTES) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  for (const [k, t] of Object.entries(fields)) {
    if (typeof o[k] !== t) return undefined;
    if (t === 'number' && !Number.isSafeInteger(o[k])) return undefined;
  }
  return o as T;
}

export const OFFER_FIELDS = { proto: 'string', from: 'number', to: 'number', nonce: 'string' } as const;
export const ANSWER_FIELDS = { proto: 'string', nonce: 'string', mac: 'string' } as const;
export const PROOF_FIELDS = { mac: 'string' } as const;
export const ACCEPT_FIELDS = { accepted: 'boolean' } as const;

export const encodeHello = (v: Offer | Answer | Proof | Accept): Uint8Array => Buffer.from(JSON.stringify(v), 'utf8');
