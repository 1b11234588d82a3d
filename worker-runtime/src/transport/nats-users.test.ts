import { createAccount, createOperator, createUser, fromPublic } from 'nkeys.js';
import { encodeNatsJwt, mintNatsBurstUser, natsAccountSigner, natsCredsFile, parseNatsCreds } from './nats-users.js';
import { natsBurstSubjects, natsSubject } from './nats-subjects.js';

/** The parts of a JWT, decoded; and whether its signature verifies with its `iss`. */
function decode(jwt: string): { header: any; claims: any; verified: boolean } {
  const [h, c, s] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(c!, 'base64url').toString());
  const verified = fromPublic(claims.iss).verify(new TextEncoder().encode(`${h}.${c}`), Buffer.from(s!, 'base64url'));
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims, verified };
}
const seedOf = (kp: { getSeed(): Uint8Array }) => new TextDecoder().decode(kp.getSeed());

describe('NATS JWT encoding', () => {
  it('is base64url without padding, header typ JWT / alg ed25519-nkey, signed by the issuer, jti the hash of the claims', () => {
    const op = createOperator();
    const jwt = encodeNatsJwt({ sub: op.getPublicKey(), name: 'op', iat: 1_700_000_000, nats: { type: 'operator', version: 2 } }, op);
    expect(jwt).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const { header, claims, verified } = decode(jwt);
    expect(header).toEqual({ typ: 'JWT', alg: 'ed25519-nkey' });
    expect(verified).toBe(true);
    expect(claims).toMatchObject({ iss: op.getPublicKey(), sub: op.getPublicKey(), iat: 1_700_000_000, nats: { type: 'operator', version: 2 } });
    expect(claims.jti).toMatch(/^[A-Z2-7]{52}$/); // SHA-512/256, base32 unpadded
    // Same claims, same id; another subject, another.
    expect(decode(encodeNatsJwt({ sub: op.getPublicKey(), name: 'op', iat: 1_700_000_000, nats: { type: 'operator', version: 2 } }, op)).claims.jti).toBe(claims.jti);
    expect(decode(encodeNatsJwt({ sub: createOperator().getPublicKey(), iat: 1, nats: { type: 'operator', version: 2 } }, op)).claims.jti).not.toBe(claims.jti);
  });
});

describe('a burst’s NATS user', () => {
  const account = createAccount();

  it('may publish and subscribe to its burst’s subjects only, expires when told, and is issued by the account', async () => {
    const u = await mintNatsBurstUser({ seed: seedOf(account) }, 'abc-a1', { expiresInSeconds: 3600, now: 1_700_000_000_500 });
    const { claims, verified } = decode(u.jwt);
    expect(verified).toBe(true);
    expect(claims).toEqual({
      jti: expect.any(String),
      iat: 1_700_000_000,
      exp: 1_700_003_600,
      iss: account.getPublicKey(),
      sub: u.publicKey,
      name: 'kubeburst-abc-a1',
      nats: { pub: { allow: ['kb.abc-a1.>'] }, sub: { allow: ['kb.abc-a1.>'] }, subs: -1, data: -1, payload: -1, type: 'user', version: 2 },
    });
    expect(u.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(u.seed).toMatch(/^SU[A-Z2-7]{56}$/);
    expect(u.expiresAt).toBe(1_700_003_600);
    // Every subject a pack uses is under the grant.
    expect(natsSubject('abc-a1', 7).startsWith(natsBurstSubjects('abc-a1').slice(0, -1))).toBe(true);
  });

  it('signed by a signing key, names the account it signs for (issuer_account)', async () => {
    const signing = createAccount();
    const u = await mintNatsBurstUser({ seed: seedOf(signing), account: account.getPublicKey() }, 'b', { expiresInSeconds: 60 });
    const { claims, verified } = decode(u.jwt);
    expect(verified).toBe(true);
    expect(claims.iss).toBe(signing.getPublicKey());
    expect(claims.nats.issuer_account).toBe(account.getPublicKey());
  });

  it('sanitises the burst id as the transport does', async () => {
    const u = await mintNatsBurstUser({ seed: seedOf(account) }, 'a.b*c>d e', { expiresInSeconds: 60 });
    expect(decode(u.jwt).claims.nats.pub.allow).toEqual(['kb.a_b_c_d_e.>']);
    expect(natsSubject('a.b*c>d e', 0)).toBe('kb.a_b_c_d_e.0');
  });

  it('refuses keys that are not an account’s, naming the field and never quoting the seed', async () => {
    const user = seedOf(createUser());
    const acct = seedOf(account);
    const cases: [Parameters<typeof natsAccountSigner>[0], RegExp][] = [
      [{ seed: user }, /brokers\.natsAccount: the seed is a user seed: give an account seed, SA…/],
      [{ seed: 'SAnot-a-seed' }, /brokers\.natsAccount: the seed is not an nkey seed/],
      [{ seed: acct, account: acct }, /brokers\.natsAccount: the account public key is a seed/],
      [{ seed: acct, account: 'AB' }, /brokers\.natsAccount: the account public key must be A… \(56 characters; got 2/],
    ];
    for (const [key, message] of cases) {
      const err = await natsAccountSigner(key, 'brokers.natsAccount').then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(message);
      expect(err?.message).not.toContain(key.seed.slice(2, 12));
    }
    await expect(mintNatsBurstUser({ seed: acct }, 'b', { expiresInSeconds: 0 })).rejects.toThrow(/expiresInSeconds: must be a positive integer/);
  });
});

describe('.creds files', () => {
  it('round-trip, and a file that is not one is refused without quoting it', async () => {
    const u = await mintNatsBurstUser({ seed: seedOf(createAccount()) }, 'b', { expiresInSeconds: 60 });
    const text = natsCredsFile(u);
    expect(text).toContain('-----BEGIN NATS USER JWT-----\n');
    expect(text).toContain('-----BEGIN USER NKEY SEED-----\n');
    expect(parseNatsCreds(text, 'KB_TRANSPORT_CREDS_FILE')).toEqual({ jwt: u.jwt, seed: u.seed });
    expect(parseNatsCreds(text.replaceAll('\n', '\r\n'), 'f')).toEqual({ jwt: u.jwt, seed: u.seed });
    const err = (() => {
      try {
        parseNatsCreds(`just the seed ${u.seed}`, 'KB_TRANSPORT_CREDS_FILE');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^KB_TRANSPORT_CREDS_FILE: is not a NATS \.creds file/);
    expect(err?.message).not.toContain(u.seed);
  });
});
