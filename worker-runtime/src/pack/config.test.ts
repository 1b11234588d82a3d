import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSecret } from '../security/keys.js';
import { natsCredsFile } from '../transport/nats-users.js';
import { packConfigFromEnv, paramsFor } from './config.js';

const secrets = mkdtempSync(join(tmpdir(), 'kb-secret-'));
afterAll(() => rmSync(secrets, { recursive: true, force: true }));
const SECRET_FILE = join(secrets, 'secret');
writeFileSync(SECRET_FILE, newSecret() + '\n');
const base = {
  KB_BURST_ID: 'b1',
  KB_BURST_SIZE: '7',
  KB_GRANULARITY: '3',
  KB_PACK_INDEX: '1',
  KB_TRANSPORT: 'redis',
  KB_FUNCTION: '/w.js',
  KB_SECRET_FILE: SECRET_FILE,
  KB_LINK_URL: 'unix:///tmp/kb-t/l{pack}.sock',
};

describe('pack configuration from the environment', () => {
  test('a complete environment yields the layout, this pack and defaults', () => {
    const c = packConfigFromEnv({ ...base, KB_PARAMS: '{"list":[0,1,2,3,4,5,6]}' });
    expect(c.layout.packSizes()).toEqual([3, 3, 1]);
    expect(c.packId).toBe(1);
    expect(c.transport).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379', urlSource: 'the default (KB_TRANSPORT_URL is unset)', chunkBytes: 1 << 20, encrypt: false });
    expect(packConfigFromEnv({ ...base, KB_TRANSPORT_ENCRYPT: 'true' }).transport.encrypt).toBe(true);
    expect(() => packConfigFromEnv({ ...base, KB_TRANSPORT_ENCRYPT: 'yes' })).toThrow(/KB_TRANSPORT_ENCRYPT: must be true or false \(got 'yes'\)/);
    expect([...c.params.entries()]).toEqual([
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
  });

  test('a NATS .creds file gives the burst’s user (for NATS only); an unreadable or foreign file names the variable, never its content', () => {
    const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln';
    const seed = `SU${'A'.repeat(56)}`;
    const creds = join(secrets, 'nats.creds');
    writeFileSync(creds, natsCredsFile({ jwt, seed }));
    const nats = { ...base, KB_TRANSPORT: 'nats', KB_TRANSPORT_CREDS_FILE: creds };
    expect(packConfigFromEnv(nats).transport.natsUser).toEqual({ jwt, seed, source: `KB_TRANSPORT_CREDS_FILE (${creds})` });
    expect(packConfigFromEnv({ ...base, KB_TRANSPORT: 'nats' }).transport.natsUser).toBeUndefined();
    expect(() => packConfigFromEnv({ ...nats, KB_TRANSPORT: 'redis' })).toThrow(/KB_TRANSPORT_CREDS_FILE: is for the nats transport only \(KB_TRANSPORT is redis\)/);
    expect(() => packConfigFromEnv({ ...nats, KB_TRANSPORT_CREDS_FILE: join(secrets, 'missing') })).toThrow(
      /KB_TRANSPORT_CREDS_FILE: cannot read the burst's NATS user from .*missing: ENOENT/,
    );
    const foreign = join(secrets, 'foreign');
    writeFileSync(foreign, `password=${seed}\n`);
    const err = (() => {
      try {
        packConfigFromEnv({ ...nats, KB_TRANSPORT_CREDS_FILE: foreign });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^KB_TRANSPORT_CREDS_FILE: is not a NATS \.creds file/);
    expect(err?.message).not.toContain('AAAAAAAA');
  });

  test('explicit pack sizes win and must add up to the burst size', () => {
    expect(packConfigFromEnv({ ...base, KB_PACK_SIZES: '4,2,1' }).layout.packSizes()).toEqual([4, 2, 1]);
    expect(packConfigFromEnv({ ...base, KB_PACK_SIZES: '1x4,1x2,1x1' }).layout.packSizes()).toEqual([4, 2, 1]);
    expect(packConfigFromEnv({ ...base, KB_BURST_SIZE: '9', KB_PACK_SIZES: '2x4,1x1' }).layout.packSizes()).toEqual([4, 4, 1]);
    expect(() => packConfigFromEnv({ ...base, KB_PACK_SIZES: '4,x,1' })).toThrow(/KB_PACK_SIZES: '4,x,1' is not a layout/);
    expect(() => packConfigFromEnv({ ...base, KB_PACK_SIZES: '4,2' })).toThrow(/KB_PACK_SIZES: pack sizes add up to 6, but KB_BURST_SIZE is 7/);
  });

  test('the pack index can come from an indexed Job or a StatefulSet-style hostname', () => {
    const { KB_PACK_INDEX: _omit, ...rest } = base;
    expect(packConfigFromEnv({ ...rest, JOB_COMPLETION_INDEX: '2' }).packId).toBe(2);
    expect(packConfigFromEnv({ ...rest, HOSTNAME: 'myjob-a0-1' }).packId).toBe(1);
    expect(() => packConfigFromEnv({ ...rest, KB_PACK_INDEX: '3' })).toThrow(/KB_PACK_INDEX: must be an integer in 0..2 \(got '3'\)/);
  });

  test('a burst of several packs needs the flare secret and the liveness-link addresses', () => {
    expect(packConfigFromEnv(base).secret!.byteLength).toBe(32);
    expect(packConfigFromEnv(base).linkUrl).toBe('unix:///tmp/kb-t/l{pack}.sock');
    expect(() => packConfigFromEnv({ ...base, KB_SECRET_FILE: '' })).toThrow(/KB_SECRET_FILE: is required when the burst has more than one pack/);
    expect(() => packConfigFromEnv({ ...base, KB_SECRET_FILE: join(secrets, 'missing') })).toThrow(/KB_SECRET_FILE: cannot read the flare's secret from .*missing: ENOENT/);
    const short = join(secrets, 'short');
    writeFileSync(short, Buffer.alloc(8).toString('base64'));
    expect(() => packConfigFromEnv({ ...base, KB_SECRET_FILE: short })).toThrow(/KB_SECRET_FILE: the flare secret must be at least 32 bytes \(got 8\)/);
    expect(() => packConfigFromEnv({ ...base, KB_LINK_URL: '' })).toThrow(/KB_LINK_URL: is required/);
    expect(() => packConfigFromEnv({ ...base, KB_LINK_URL: 'tcp://one-host:7101' })).toThrow(/KB_LINK_URL: .*one address for 3 packs/);
    // A burst user's password comes from a file; a pod that sets the old variable says which side is too old.
    const redis = { ...base, KB_TRANSPORT: 'redis', KB_TRANSPORT_URL: 'redis://h:6379', KB_TRANSPORT_USER: 'kb-b' };
    expect(() => packConfigFromEnv({ ...redis, KB_TRANSPORT_PASSWORD: 'pw' })).toThrow(
      /KB_TRANSPORT_PASSWORD_FILE: is required with KB_TRANSPORT_USER; this pod sets KB_TRANSPORT_PASSWORD instead.*operator is older than its pack image/,
    );
    const pw = join(secrets, 'broker-password');
    writeFileSync(pw, 'p@ss w0rd\n');
    expect(packConfigFromEnv({ ...redis, KB_TRANSPORT_PASSWORD_FILE: pw }).transport.url).toBe('redis://kb-b:p%40ss%20w0rd%0A@h:6379');
    // One pack talks to nobody: neither is needed.
    const { KB_SECRET_FILE: _s, KB_LINK_URL: _l, ...alone } = base;
    expect(packConfigFromEnv({ ...alone, KB_GRANULARITY: '7', KB_PACK_INDEX: '0' }).secret).toBeUndefined();
  });

  test.each([
    [{ KB_BURST_ID: '' }, /KB_BURST_ID: is required/],
    [{ KB_TRANSPORT: 'carrier-pigeon' }, /KB_TRANSPORT: must be one of nats, redis, direct/],
    [{ KB_BURST_SIZE: 'x' }, /KB_BURST_SIZE: must be an integer >= 1/],
    [{ KB_CHUNK_BYTES: '0' }, /KB_CHUNK_BYTES: must be an integer >= 1/],
    [{ KB_SEND_BUDGET_BYTES: String(2 ** 41) }, /KB_SEND_BUDGET_BYTES: must be an integer >= 1024 and <= 1099511627776/],
    [{ KB_PARAMS: '{not json' }, /KB_PARAMS: is not valid JSON/],
    [{ KB_PARAMS: '{"list":[1,2]}' }, /KB_PARAMS: has 2 entries but the burst has 7 workers/],
  ])('%j is rejected with the variable named', (patch, message) => {
    expect(() => packConfigFromEnv({ ...base, ...patch })).toThrow(message);
  });

  test('params from a file: a list, or one value for all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbcfg-'));
    try {
      const f = join(dir, 'p.json');
      writeFileSync(f, JSON.stringify({ value: { lr: 0.1 } }));
      expect(packConfigFromEnv({ ...base, KB_PARAMS_FILE: f }).params.get(4)).toEqual({ lr: 0.1 });
      expect(() => packConfigFromEnv({ ...base, KB_PARAMS_FILE: join(dir, 'missing.json') })).toThrow(/KB_PARAMS_FILE: cannot read/);
      expect(() => paramsFor({ other: 1 }, 2, 0, 2)).toThrow(/must be \{"list": \[...\]\}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
