import fc from 'fast-check';
import { redactText, redactUrl, urlSecrets } from './redact.js';

describe('redactUrl', () => {
  test.each([
    ['redis://user:secret@127.0.0.1:6379', 'redis://user:***@127.0.0.1:6379'],
    ['rediss://default:secret@cache.example:6380/0', 'rediss://default:***@cache.example:6380/0'],
    ['redis://:secret@host:6379', 'redis://:***@host:6379'],
    // Unencoded `@` and `:` in the password: the userinfo ends at the authority's last `@`, as URL parsers read it.
    ['redis://user:p@ss:w0rd@host:6379', 'redis://user:***@host:6379'],
    ['redis://user:p%40ss%2Fw0rd@host', 'redis://user:***@host'],
    ['redis://user:pa,ss@host', 'redis://user:***@host'],
    ['redis://user:1234,5678@host', 'redis://user:***@host'],
    ['redis://user:Wr@ng:p,ss@host:6379', 'redis://user:***@host:6379'],
    ['nats://user:Wr@ng:p,ss@host:4222', 'nats://user:***@host:4222'],
    ['nats://user:1234,5678@host:4222,h2:4222', 'nats://user:***@host:4222,h2:4222'],
    ['redis://[::1]:6379', 'redis://[::1]:6379'],
    ['redis://user:secret@[::1]:6379', 'redis://user:***@[::1]:6379'],
    // NATS server lists, with and without schemes, some servers with credentials.
    ['nats://u:secret1@n1:4222,nats://u:secret2@n2:4222', 'nats://u:***@n1:4222,nats://u:***@n2:4222'],
    ['nats://u:secret1@n1:4222,u:secret2@n2:4222,n3:4222', 'nats://u:***@n1:4222,u:***@n2:4222,n3:4222'],
    ['u:secret1@n1:4222,u:secret2@n2:4222', 'u:***@n1:4222,u:***@n2:4222'],
    ['n1:4222,n2:4222,u:secret@n3:4222', 'n1:4222,n2:4222,u:***@n3:4222'],
    ['nats://s3cr3t-token@n1:4222', 'nats://***@n1:4222'],
    ['tls://s3cr3t-token@n1:4222', 'tls://***@n1:4222'],
    // A user name alone is no secret (Redis ACL users); URLs without credentials are unchanged.
    ['redis://someuser@host:6379', 'redis://someuser@host:6379'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['127.0.0.1:17311,127.0.0.1:17312', '127.0.0.1:17311,127.0.0.1:17312'],
    ['unix:///tmp/kubeburst-x/p{pack}.sock', 'unix:///tmp/kubeburst-x/p{pack}.sock'],
    // What URL parsers cannot read (an unencoded `/` or `#`) is masked all the same.
    ['redis://user:pa/ss@host:6379', 'redis://user:***@host:6379'],
    ['redis://user:pa#ss@host:6379', 'redis://user:***@host:6379'],
    // An `@` and then a `/` in the password: nothing after its first `@` survives either.
    ['redis://u:Pa@Fragm3nt/x@127.0.0.1:6379', 'redis://u:***@127.0.0.1:6379'],
    // ioredis logs in with a query string's password too.
    ['redis://127.0.0.1:6379/0?username=u&password=Qpw-1&db=0', 'redis://127.0.0.1:6379/0?username=u&password=***&db=0'],
    ['redis://127.0.0.1:6379?password=p%40ss', 'redis://127.0.0.1:6379?password=***'],
  ])('%s → %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});

describe('redactText', () => {
  test('every URL of a message, wherever it stands', () => {
    const text = 'pack 0 could not connect: cannot connect to redis://user:pw1@r1:6379 (then rediss://user:pw2@r2:6380/0), "nats://u:pw3@n1:4222,nats://u:pw4@n2:4222"';
    expect(redactText(text)).toBe(
      'pack 0 could not connect: cannot connect to redis://user:***@r1:6379 (then rediss://user:***@r2:6380/0), "nats://u:***@n1:4222,nats://u:***@n2:4222"',
    );
  });

  test('is idempotent, and leaves text without credentials alone', () => {
    const once = redactText('at redis://user:secret@host:6379: Connection is closed.');
    expect(once).toBe('at redis://user:***@host:6379: Connection is closed.');
    expect(redactText(once)).toBe(once);
    for (const t of ['worker 3 failed: Error: x@y', 'mail admin@example.com', 'http://example.com/a@b', 'pack 1: time 12:30']) expect(redactText(t)).toBe(t);
  });

  test('exact secrets are masked anywhere, in every form urlSecrets gives', () => {
    const url = 'redis://user:p%40ss"w0rd@host';
    const secrets = urlSecrets(url);
    expect(secrets).toEqual(expect.arrayContaining(['p%40ss%22w0rd', 'p@ss"w0rd', 'p@ss\\"w0rd']));
    // A client's own words (ioredis, nats) need not hold the URL: the decoded password alone is found.
    expect(redactText('AUTH failed for p@ss"w0rd', secrets)).toBe('AUTH failed for ***');
    expect(redactText(JSON.stringify({ reason: 'AUTH p@ss"w0rd' }), secrets)).toBe('{"reason":"AUTH ***"}');
    // Longest first: a decoded password inside a longer secret does not leave the rest of it behind.
    expect(redactText('x P@ss:w0rd y', ['P@ss', 'P@ss:w0rd'])).toBe('x *** y');
    // Short strings are not masked as secrets (they would mask every occurrence of `ab`).
    expect(redactText('a b ab', ['ab'])).toBe('a b ab');
  });

  test('with cut, a secret cut by a truncation is masked at either end of the text (and only with cut)', () => {
    const secret = 'S3cr3t-Adm1n-Pa55';
    const line = `pack 2 failed: AUTH ${secret} refused`;
    // Cut after the first 6..n-1 characters of the secret (a status field's limit), or starting inside it (a log tail).
    for (let k = 6; k < secret.length; k++) {
      const head = line.slice(0, line.indexOf(secret) + k);
      expect(redactText(head, [secret], { cut: true })).toBe('pack 2 failed: AUTH ***');
      const tail = line.slice(line.indexOf(secret) + secret.length - k);
      expect(redactText(tail, [secret], { cut: true })).toBe('*** refused');
    }
    // Cut inside a multi-byte character: the kubelet's U+FFFD stands for it.
    const umlaut = 'Grüße-Admin-Passwort-42';
    expect(redactText('AUTH Grüße-Admin-P\uFFFD', [umlaut], { cut: true })).toBe('AUTH ***');
    expect(redactText('\uFFFDsswort-42 at redis', [umlaut], { cut: true })).toBe('*** at redis');
    // Fewer than six stay: masking them would mask a port at the end of a line (`host:4222`) wherever a secret starts so.
    expect(redactText('pack 2 failed: AUTH S3cr3', [secret], { cut: true })).toBe('pack 2 failed: AUTH S3cr3');
    // Without cut, words that happen to begin like the secret stay: results and log lines are not cut.
    expect(redactText('reset your password', ['password123'])).toBe('reset your password');
    expect(redactText('reset your password', ['password123'], { cut: true })).toBe('reset your ***');
  });

  test('the password of a query string is masked in any text, and found by urlSecrets as given and decoded', () => {
    expect(redactText('cannot connect to redis://h:6379?username=u&password=WrongQ-1234abcd (is Redis running there?)')).toBe(
      'cannot connect to redis://h:6379?username=u&password=*** (is Redis running there?)',
    );
    expect(redactText('x?token=abc123&y=1 "auth=no" ;PWD=s3cret')).toBe('x?token=***&y=1 "auth=no" ;PWD=***');
    expect(urlSecrets('redis://h:6379/0?username=u&password=p%40ss-1')).toEqual(expect.arrayContaining(['p@ss-1']));
    expect(redactText('AUTH p@ss-1 failed', urlSecrets('redis://h:6379/0?password=p%40ss-1'))).toBe('AUTH *** failed');
  });

  test('urlSecrets: nothing for a URL without credentials; tokens and every server of a list', () => {
    expect(urlSecrets(undefined)).toEqual([]);
    expect(urlSecrets('redis://127.0.0.1:6379')).toEqual([]);
    expect(urlSecrets('redis://someuser@127.0.0.1:6379')).toEqual([]);
    expect(urlSecrets('nats://tok3n-abc@n1:4222')).toContain('tok3n-abc');
    expect(urlSecrets('nats://u:first-pw@n1:4222,nats://u:second-pw@n2:4222')).toEqual(expect.arrayContaining(['first-pw', 'second-pw']));
  });

  // Passwords as people type them: the regex alone masks any that holds no whitespace, `/`, `?` or `#`.
  const passwordChars = fc.constantFrom(..."abcXYZ0189@:,%!$&'()*+;=~._-");
  const password = fc.array(passwordChars, { minLength: 1, maxLength: 24 }).map((cs) => `Pw-${cs.join('')}`);

  test('property: of a password in a URL nothing survives redactText, and the user name does', () => {
    fc.assert(
      fc.property(password, fc.constantFrom('redis', 'rediss', 'nats'), (pw, scheme) => {
        const out = redactText(`cannot connect to ${scheme}://kbuser:${pw}@127.0.0.1:6379: Connection is closed.`);
        // A NATS list may split at a comma of the password (`a@1,b` reads as two servers): never the whole password.
        if (scheme === 'nats' && pw.includes(',')) expect(out).not.toContain(pw);
        else expect(out).toBe(`cannot connect to ${scheme}://kbuser:***@127.0.0.1:6379: Connection is closed.`);
      }),
    );
  });

  test('property: with its urlSecrets, no password survives, whatever characters it holds', () => {
    const anyPassword = fc
      .string({ unit: 'grapheme-ascii', minLength: 4, maxLength: 24 })
      .filter((s) => !/\s/.test(s))
      .map((s) => `Pw-${s}`);
    fc.assert(
      fc.property(anyPassword, (pw) => {
        const url = `redis://kbuser:${pw}@127.0.0.1:6379`;
        const secrets = urlSecrets(url);
        // Not the password, nor any piece of it (a mask that split it would leave the rest behind).
        const pieces = (text: string): string[] => {
          const around = text.split(pw).join('');
          return Array.from({ length: Math.max(0, pw.length - 5) }, (_, i) => pw.slice(i, i + 6)).filter((p) => !around.includes(p));
        };
        for (const text of [`transport redis (${url})`, `AUTH ${pw} rejected`, JSON.stringify({ url })]) {
          const out = redactText(text, secrets);
          for (const p of pieces(text)) expect(out).not.toContain(p);
        }
        const out = redactUrl(url);
        for (const p of pieces(url)) expect(out).not.toContain(p);
      }),
    );
  });

  test('takes linear time: long base64-like lines, long lists, many URLs', () => {
    // Quadratic matching would take minutes here.
    const base64 = 'aB3+'.repeat(1 << 16) + '@';
    const list = `redis://${'h,'.repeat(1 << 16)}u:pw@h`;
    const natsLists = [`nats://${'a:b,'.repeat(1 << 16)}u:pw@h`, `nats://${'h,'.repeat(1 << 16)}tok@h`];
    const many = Array.from({ length: 2000 }, (_, i) => `redis://u${i}:pw${i}@h${i}:6379`).join(' ');
    const t0 = performance.now();
    expect(redactText(base64)).toBe(base64);
    // (Compared as booleans: a failure would print megabytes.)
    expect(redactText(list).endsWith(',u:***@h')).toBe(true);
    expect(natsLists.map((l) => redactText(l))).toEqual(['nats://a:***@h', 'nats://***@h']);
    expect(redactText(many)).not.toMatch(/:pw\d/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
