import { ConfigError } from '../errors.js';
import { agreedNatsAuth, parseNatsServers } from './nats-url.js';

const FIELD = 'spec.transport.url';
const PASSWORD = 'p@ss:w%rd/,x';
const ENCODED = encodeURIComponent(PASSWORD);

describe('parseNatsServers', () => {
  test.each([
    ['nats://127.0.0.1:4222', [{ server: 'nats://127.0.0.1:4222' }]],
    ['n1:4222,n2:4222', [{ server: 'n1:4222' }, { server: 'n2:4222' }]],
    [`nats://alice:${ENCODED}@n1:4222`, [{ server: 'nats://n1:4222', auth: { user: 'alice', pass: PASSWORD } }]],
    // Unencoded `@` and `:`: the userinfo ends at the server's last `@` (as redact.ts reads it).
    ['nats://alice:p@ss:w@n1:4222', [{ server: 'nats://n1:4222', auth: { user: 'alice', pass: 'p@ss:w' } }]],
    ['nats://alice:@n1:4222', [{ server: 'nats://n1:4222', auth: { user: 'alice', pass: '' } }]],
    ['nats://s3cr3t%3Atok@n1:4222', [{ server: 'nats://n1:4222', auth: { token: 's3cr3t:tok' } }]],
    ['tls://tok@n1:4222', [{ server: 'tls://n1:4222', auth: { token: 'tok' } }]],
    ['alice:pw@n1:4222, n2:4222', [{ server: 'n1:4222', auth: { user: 'alice', pass: 'pw' } }, { server: 'n2:4222' }]],
    ['nats://@n1:4222', [{ server: 'nats://n1:4222' }]],
    ['nats://u%20ser:pw@[::1]:4222', [{ server: 'nats://[::1]:4222', auth: { user: 'u ser', pass: 'pw' } }]],
  ])('%s', (url, entries) => {
    expect(parseNatsServers(url, FIELD)).toEqual(entries);
  });

  test.each([
    ['nats://n1:4222,,n2:4222', /^spec\.transport\.url: server #2 of the list is empty$/],
    ['nats://alice:pw@', /server #1 of the list names no host/],
    ['nats://:hunter2@n1:4222', /server #1 of the list has a password but no user name/],
    ['nats://n1:4222,nats://alice:50%off@n2:4222', /server #2 of the list: its credentials hold a '%' that starts no percent-encoding \(write '%' as %25\)/],
  ])('refuses %s, naming the field and the server, never the secret', (url, message) => {
    const err = catchConfigError(() => parseNatsServers(url, FIELD));
    expect(err.field).toBe(FIELD);
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/hunter2|50%off/);
  });
});

describe('agreedNatsAuth', () => {
  const agreed = (url: string) => agreedNatsAuth(parseNatsServers(url, FIELD), FIELD);

  test('the credentials every server that names some agrees on; a server naming none uses them', () => {
    expect(agreed('nats://n1:4222,n2:4222')).toBeUndefined();
    expect(agreed(`nats://alice:${ENCODED}@n1:4222,nats://alice:${ENCODED}@n2:4222`)).toEqual({ user: 'alice', pass: PASSWORD });
    // Encoded or not, the same password.
    expect(agreed('nats://alice:p%40ss@n1:4222,alice:p@ss@n2:4222')).toEqual({ user: 'alice', pass: 'p@ss' });
    expect(agreed('nats://n1:4222,nats://tok@n2:4222')).toEqual({ token: 'tok' });
  });

  test.each([
    ['nats://alice:one-secret@n1:4222,nats://alice:two-secret@n2:4222', 1, 2],
    ['nats://n0:4222,nats://alice:one-secret@n1:4222,n2:4222,nats://bob:one-secret@n3:4222', 2, 4],
    ['nats://alice:one-secret@n1:4222,nats://one-secret@n2:4222', 1, 2],
    ['nats://two-secret@n1:4222,nats://one-secret@n2:4222', 1, 2],
  ])('refuses servers that disagree: %s', (url, a, b) => {
    const err = catchConfigError(() => agreed(url));
    expect(err.field).toBe(FIELD);
    expect(err.message).toContain(`servers #${a} and #${b} of the list carry different credentials`);
    expect(err.message).not.toMatch(/secret/);
  });
});

function catchConfigError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no error');
}
