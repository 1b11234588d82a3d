import { ConfigError } from '../errors.js';
import { describeEndpoint, parseDirectUrl } from './direct-address.js';

describe('direct transport addresses', () => {
  test.each([
    // url, packs, me, peer 2, listen
    ['unix:///tmp/kb/p{pack}.sock', 3, 1, 'unix:///tmp/kb/p2.sock', 'unix:///tmp/kb/p1.sock'],
    ['tcp://bj-a0-{pack}.bj-svc:7100', 3, 0, 'bj-a0-2.bj-svc:7100', '0.0.0.0:7100'],
    ['tcp://bj-a1-{pack}.bj-svc', 3, 0, 'bj-a1-2.bj-svc:7100', '0.0.0.0:7100'],
    ['127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103', 3, 1, '127.0.0.1:7103', '127.0.0.1:7102'],
    ['tcp://localhost:7101, tcp://localhost:7102 ,tcp://localhost:7103', 3, 0, 'localhost:7103', 'localhost:7101'],
    ['[::1]:7101,[::1]:7102,[::1]:7103', 3, 2, '[::1]:7103', '[::1]:7103'],
    ['tcp://bj-a0-{pack}.bj-svc:7100?listen=10.1.2.3:7200', 3, 1, 'bj-a0-2.bj-svc:7100', '10.1.2.3:7200'],
    ['127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103?listen=/tmp/x.sock', 3, 1, '127.0.0.1:7103', 'unix:///tmp/x.sock'],
  ])('%s (pack %#)', (url, packs, me, peer2, listen) => {
    const a = parseDirectUrl(url, packs, me);
    expect(describeEndpoint(a.peer(2))).toBe(peer2);
    expect(describeEndpoint(a.listen)).toBe(listen);
  });

  test.each([
    ['', /is required for the direct transport/],
    ['unix:///tmp/kb/p.sock', /one address for 3 packs: put \{pack\} in it/],
    ['127.0.0.1:1,127.0.0.1:2', /lists 2 addresses but the burst has 3 packs/],
    ['unix://relative/p{pack}.sock', /must be absolute/],
    [`unix:///${'d'.repeat(120)}/p{pack}.sock`, /longer than 103 bytes/],
    ['tcp://h-{pack}:99999', /port must be an integer in 1\.\.65535/],
    ['redis://h-{pack}:6379', /takes unix:\/\/ or tcp:\/\/ addresses/],
    ['tcp://h-{pack}:7100?port=1', /unknown option 'port'/],
    ['a:1,,b:2', /empty entry/],
  ])('%s is rejected naming the field and the fix', (url, message) => {
    let err: unknown;
    try {
      parseDirectUrl(url, 3, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('transport.url (KB_TRANSPORT_URL)');
    expect((err as Error).message).toMatch(message);
  });

  test('a single pack needs no {pack}', () => {
    expect(describeEndpoint(parseDirectUrl('unix:///tmp/solo.sock', 1, 0).listen)).toBe('unix:///tmp/solo.sock');
  });
});
