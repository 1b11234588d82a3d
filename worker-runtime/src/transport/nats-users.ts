/**
 * Per-burst NATS users, for the operator and the local launcher. A nats-server in operator (JWT) mode
 * trusts every user JWT signed by an account it knows, or by one of that account's signing keys, so a
 * burst's user needs no change on the server at all: the operator mints a user nkey and a JWT that may
 * publish and subscribe to the burst's subjects (nats-subjects.ts) and nothing else, and the attempt's
 * packs connect with both (a `.creds` file in the attempt Secret). Nothing is deleted on the server when
 * the burst ends: the JWT expires, and the Secret goes with the attempt.
 *
 * The JWT is NATS's v2 format (nats-io/jwt): `base64url(header).base64url(claims).base64url(signature)`,
 * unpadded, the signature ed25519 by the issuer's nkey over the first two parts. nkeys.js (the `nats`
 * client's own dependency) loads only when a user is minted, so importing this costs a worker nothing.
 * @module
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { natsBurstSubjects } from './nats-subjects.js';

/** What signs a burst's users (chart value brokers.natsAccount). */
export interface NatsAccountKey {
  /** An account nkey seed, `SA…`: the account's own key or one of its (unscoped) signing keys. */
  seed: string;
  /** The account's public key, `A…`: required when `seed` is a signing key, not the account's own key. */
  account?: string;
}

/** Anything that signs like an nkey (nkeys.js's KeyPair does). */
export interface NatsSigner {
  getPublicKey(): string;
  sign(input: Uint8Array): Uint8Array;
}

/** JWT claims as NATS reads them: the registered ones and NATS's own under `nats`. */
export interface NatsClaims {
  /** The subject's public key (a user's `U…`, an account's `A…`, an operator's `O…`). */
  sub: string;
  name?: string;
  /** Issued at, Unix seconds. */
  iat: number;
  /** Expires at, Unix seconds; none: never. */
  exp?: number;
  nats: Record<string, unknown> & { type: 'user' | 'account' | 'operator'; version: 2 };
}

/** A burst's user: its JWT and nkey seed (`SU…`), what a `.creds` file holds. */
export interface NatsUserCreds {
  jwt: string;
  seed: string;
}

export interface NatsBurstUser extends NatsUserCreds {
  /** The user's public key, `U…`. */
  publicKey: string;
  /** When the JWT expires, Unix seconds. */
  expiresAt: number;
}

/**
 * How long a burst's user lives without a deadline to go by: a day. The server disconnects a client when
 * its JWT expires, so a burst that runs longer needs a deadline (spec.activeDeadlineSeconds).
 */
export const NATS_USER_DEFAULT_TTL_SECONDS = 86_400;
/** Added to a deadline: the burst's own teardown, and clocks of the signer and the server that disagree. */
export const NATS_USER_TTL_MARGIN_SECONDS = 600;

/** A burst user's lifetime: its deadline (seconds from now) plus a margin, else a day. */
export function natsUserTtlSeconds(deadlineSeconds?: number): number {
  return deadlineSeconds !== undefined && deadlineSeconds > 0 ? Math.ceil(deadlineSeconds) + NATS_USER_TTL_MARGIN_SECONDS : NATS_USER_DEFAULT_TTL_SECONDS;
}

/** When a NATS JWT expires (Unix seconds), if it says and it decodes. */
export function natsJwtExpiry(jwt: string): number | undefined {
  try {
    const exp = (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

const HEADER = { typ: 'JWT', alg: 'ed25519-nkey' };

/** `claims` as a NATS JWT signed by `signer`: `iss` is the signer's public key, `jti` the claims' hash. */
export function encodeNatsJwt(claims: NatsClaims, signer: NatsSigner): string {
  const body: Record<string, unknown> = { ...claims, iss: signer.getPublicKey() };
  // As nats-io/jwt does: the id is a hash of the claims, so the same claims always get the same id.
  const jti = base32(createHash('sha512-256').update(JSON.stringify(body)).digest());
  const signed = `${base64url(JSON.stringify(HEADER))}.${base64url(JSON.stringify({ jti, ...body }))}`;
  return `${signed}.${base64url(signer.sign(new TextEncoder().encode(signed)))}`;
}

/**
 * A fresh user for the burst: a new user nkey, and a JWT signed with `key` that may publish and subscribe
 * to the burst's subjects only, valid from now for `expiresInSeconds`. The server disconnects a client
 * whose JWT expires, so the lifetime must outlast the burst. Throws a ConfigError naming `field` for a key
 * that is not an account key (and never quotes the key).
 */
export async function mintNatsBurstUser(key: NatsAccountKey, burstId: string, o: { expiresInSeconds: number; now?: number; field?: string }): Promise<NatsBurstUser> {
  const field = o.field ?? 'natsAccount';
  if (!Number.isInteger(o.expiresInSeconds) || o.expiresInSeconds < 1) throw new ConfigError('expiresInSeconds', `must be a positive integer (got ${o.expiresInSeconds})`);
  const nkeys = await import('nkeys.js');
  const { signer, account } = await natsAccountSigner(key, field);
  const user = nkeys.createUser();
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const exp = iat + o.expiresInSeconds;
  const subjects = [natsBurstSubjects(burstId)];
  const jwt = encodeNatsJwt(
    {
      sub: user.getPublicKey(),
      name: `kubeburst-${burstId}`,
      iat,
      exp,
      nats: {
        pub: { allow: subjects },
        sub: { allow: subjects },
        // No limit beyond the account's (what nats-io/jwt's NewUserClaims sets).
        subs: -1,
        data: -1,
        payload: -1,
        ...(account !== signer.getPublicKey() ? { issuer_account: account } : {}),
        type: 'user',
        version: 2,
      },
    },
    signer,
  );
  return { jwt, seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey(), expiresAt: exp };
}

/**
 * The signer of `key` and the account it signs for, checked: the seed is an account seed, and `account`
 * (when given) an account public key. Errors name `field` and never quote the seed.
 */
export async function natsAccountSigner(key: NatsAccountKey, field: string): Promise<{ signer: NatsSigner; account: string }> {
  const nkeys = await import('nkeys.js');
  let signer: NatsSigner;
  try {
    signer = nkeys.fromSeed(new TextEncoder().encode(key.seed.trim()));
  } catch (err) {
    throw new ConfigError(field, `the seed is not an nkey seed (${(err as Error).message}): give an account seed, SA…`);
  }
  if (!signer.getPublicKey().startsWith('A')) throw new ConfigError(field, `the seed is a ${KINDS[signer.getPublicKey()[0]!] ?? 'non-account'} seed: give an account seed, SA…`);
  const account = key.account?.trim() || signer.getPublicKey();
  // Not quoted: a seed pasted here by mistake must not reach a log.
  if (account.startsWith('S')) throw new ConfigError(field, 'the account public key is a seed: give the account public key, A… (56 characters)');
  if (!/^A[A-Z2-7]{55}$/.test(account))
    throw new ConfigError(
      field,
      `the account public key must be A… (56 characters; got ${account.length} starting with ${/^[A-Z]/.test(account) ? account[0] : 'another character'})`,
    );
  try {
    nkeys.fromPublic(account);
  } catch (err) {
    throw new ConfigError(field, `the account public key is not valid (${(err as Error).message})`);
  }
  return { signer, account };
}

const KINDS: Record<string, string> = { U: 'user', O: 'operator', N: 'server', C: 'cluster', X: 'curve' };

/** A `.creds` file, as `nsc` writes it (nats-io/jwt FormatUserConfig): what `nats --creds` and nats.js read. */
export function natsCredsFile(c: NatsUserCreds): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    c.jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    c.seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

/** The JWT and seed of a `.creds` file; a ConfigError naming `field` (never quoting the file) if it is not one. */
export function parseNatsCreds(text: string, field: string): NatsUserCreds {
  // Each block: a `---…---` line, one token, a `---…---` line; the JWT's block comes first.
  const blocks = [...text.matchAll(/^\s*-{3,}[^\n]*-{3,}\r?\n([\w.=-]+)\r?\n-{3,}[^\n]*-{3,}\s*$/gm)].map((m) => m[1]!);
  const jwt = blocks.find((b) => b.startsWith('eyJ'));
  const seed = blocks.find((b) => b.startsWith('SU'));
  if (jwt === undefined || seed === undefined) throw new ConfigError(field, 'is not a NATS .creds file: it needs a user JWT block and a user nkey seed (SU…) block');
  return { jwt, seed };
}

function base64url(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, unpadded (nats-io/jwt's `jti`). */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}
