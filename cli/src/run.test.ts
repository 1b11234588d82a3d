import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliUsageError } from './io.js';
import { loadManifest } from './manifest.js';
import { checkFitsHere, describeTransport, flareOptions, parseRunArgs, writeJson } from './run.js';
import { transportInUse } from './summary.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-run-'));
  writeFileSync(join(dir, 'w.js'), 'export default 1;\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function manifest(spec: string) {
  writeFileSync(join(dir, 'job.yaml'), `apiVersion: kubeburst.io/v1alpha1\nkind: BurstJob\nmetadata: {name: j}\nspec:\n  function: {module: ./w.js}\n${spec}`);
  return loadManifest('job.yaml', dir);
}

describe('kubeburst run options', () => {
  test('flags parse into overrides', () => {
    expect(parseRunArgs(['job.yaml', '--size', '4', '--granularity', '2', '--transport', 'redis=redis://h:1', '-o', 'r.json', '-q', '--json'])).toEqual({
      file: 'job.yaml',
      size: 4,
      granularity: 2,
      transport: { kind: 'redis', url: 'redis://h:1', urlFlag: '--transport' },
      output: 'r.json',
      quiet: true,
      json: true,
    });
    expect(parseRunArgs(['job.yaml', '--transport-url', 'unix:///tmp/p{pack}.sock']).transport).toEqual({ url: 'unix:///tmp/p{pack}.sock', urlFlag: '--transport-url' });
    expect(() => parseRunArgs(['job.yaml', '--transport', 'redis=x', '--transport-url', 'y'])).toThrow(/already given in --transport KIND=URL/);
    expect(() => parseRunArgs(['job.yaml', '--granularity', '0'])).toThrow(CliUsageError);
    expect(() => parseRunArgs(['a.yaml', 'b.yaml'])).toThrow(/one manifest at a time/);
  });

  test('a manifest becomes launcher options: timeouts in ms, params, env, deadline, module resolved', () => {
    const m = manifest(
      '  size: 6\n  granularity: 4\n  params: {list: [1, 2, 3, 4, 5, 6]}\n  transport: {kind: nats, url: "nats://h:4222", chunkBytes: 65536}\n' +
        '  timeouts: {joinSeconds: 7, operationSeconds: 9}\n  activeDeadlineSeconds: 30\n  template: {env: [{name: FOO, value: bar}]}\n',
    );
    const o = flareOptions(m, parseRunArgs(['job.yaml']));
    expect(o).toMatchObject({
      size: 6,
      granularity: 4,
      transport: { kind: 'nats', url: 'nats://h:4222', chunkBytes: 65536 },
      modulePath: join(dir, 'w.js'),
      params: { list: [1, 2, 3, 4, 5, 6] },
      joinTimeoutMs: 7000,
      operationTimeoutMs: 9000,
      wallTimeoutMs: 30_000,
      env: { FOO: 'bar' },
    });
    expect(o.burstId).toMatch(/^j-local-[0-9a-f]{8}$/);
    // A URL on the command line wins; a different kind does not inherit the manifest's URL.
    expect(flareOptions(m, parseRunArgs(['job.yaml', '--transport-url', 'nats://other:1'])).transport.url).toBe('nats://other:1');
    expect(flareOptions(m, parseRunArgs(['job.yaml', '--transport', 'redis'])).transport).toEqual({
      kind: 'redis',
      urlSource: 'the default: no URL in spec.transport.url or --transport redis=URL',
      chunkBytes: 65536,
    });
  });

  test('Auto packing runs packs of maxGranularity locally; a broker URL in a Secret cannot be read', () => {
    expect(flareOptions(manifest('  size: 10\n  packing: {mode: Auto, maxGranularity: 4}\n'), parseRunArgs(['job.yaml'])).granularity).toBe(4);
    expect(flareOptions(manifest('  size: 10\n  packing: {mode: Auto}\n'), parseRunArgs(['job.yaml'])).granularity).toBe(10);
    const secret = manifest('  size: 2\n  transport: {kind: redis, secretRef: {name: s}}\n');
    expect(() => flareOptions(secret, parseRunArgs(['job.yaml']))).toThrow(
      /spec\.transport\.secretRef: kubeburst run cannot read Kubernetes Secrets; pass the URL with --transport redis=URL/,
    );
    expect(flareOptions(secret, parseRunArgs(['job.yaml', '--transport-url', 'redis://h:1'])).transport.url).toBe('redis://h:1');
  });

  test('an unreachable broker is blamed on the place its URL came from', () => {
    const m = manifest('  size: 4\n  granularity: 2\n  transport: {kind: redis, url: "redis://h:1"}\n');
    const source = (args: string[]) => flareOptions(m, parseRunArgs(['job.yaml', ...args])).transport.urlSource;
    expect(source([])).toBe('spec.transport.url in job.yaml');
    expect(source(['--transport', 'redis=redis://other:1'])).toBe('--transport');
    expect(source(['--transport-url', 'redis://other:1'])).toBe('--transport-url');
    expect(source(['--transport', 'nats'])).toBe('the default: no URL in spec.transport.url or --transport nats=URL');
    expect(source(['--transport', 'direct', '--granularity', '4'])).toBeUndefined();
  });

  test('the start line and the summary name an unused transport alike', () => {
    const o = flareOptions(manifest('  size: 4\n  transport: {kind: redis, url: "redis://u:pw@h:1"}\n'), parseRunArgs(['job.yaml']));
    expect(transportInUse(o.transport.kind, 1, describeTransport(o))).toBe('redis (unused: one pack)');
    expect(transportInUse(o.transport.kind, 2, describeTransport(o))).toBe('redis (redis://u:***@h:1)');
  });
});

describe('writeJson: results written in pieces', () => {
  test('is the value as JSON, a top-level field a line and each element of a top-level array a line', () => {
    const value = { burstId: 'b', ok: true, workers: [{ result: [1, 2] }, null, 'x'], packs: [], failure: undefined, counters: { a: 1 } };
    const pieces: string[] = [];
    writeJson(value, (t) => void pieces.push(t));
    const text = pieces.join('');
    expect(JSON.parse(text)).toEqual({ burstId: 'b', ok: true, workers: [{ result: [1, 2] }, null, 'x'], packs: [], counters: { a: 1 } });
    expect(text.split('\n')).toContain('    {"result":[1,2]},');
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(40);
  });
});

describe('checkFitsHere: a burst sized for a cluster is refused on a laptop', () => {
  const GiB = 1024 ** 3;
  test('names what it would take and what the machine has', () => {
    expect(() => checkFitsHere(100_000, 100_000, 16 * GiB)).toThrow(
      /^100000 workers in 100000 packs need about 6543\.0 GiB here .* more than the 16\.0 GiB of memory here .*: run fewer workers \(--size\) in fewer packs \(--granularity\)/,
    );
    expect(() => checkFitsHere(2000, 42, 16 * GiB)).toThrow(CliUsageError);
    expect(() => checkFitsHere(64, 4, 16 * GiB)).not.toThrow();
  });
});
