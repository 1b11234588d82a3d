import { appModule, BROKERS, loadManifest, NATS_URL, runOk } from '../testing/flares.js';
import { checksum, compareKeys, generateRecords, keyHex, RECORD_BYTES, sortRecords } from './records.js';
import { terasortChecksum, terasortReference } from './reference.js';
import { teravalidate } from './validate.js';
import type { TeraSortParams, TeraSortResult } from './worker.js';

const SPEC: TeraSortParams = { records: 3000, seed: 5, samplesPerWorker: 32, returnKeys: true };
const reference = terasortReference(SPEC.records, SPEC.seed);

describe('teragen records', () => {
  test('have the teragen layout and depend only on (seed, row)', () => {
    const all = generateRecords(1, 0, 50);
    const slice = generateRecords(1, 20, 30);
    expect(Buffer.from(slice).equals(Buffer.from(all.subarray(20 * RECORD_BYTES, 30 * RECORD_BYTES)))).toBe(true);
    const r = all.subarray(17 * RECORD_BYTES, 18 * RECORD_BYTES);
    expect([r[10], r[11]]).toEqual([0x00, 0x11]);
    expect(Buffer.from(r.subarray(12, 44)).toString('latin1')).toBe((17).toString(16).toUpperCase().padStart(32, '0'));
    expect(Array.from(r.subarray(44, 48))).toEqual([0x88, 0x88, 0x88, 0x88]);
    expect(Array.from(r.subarray(96, 100))).toEqual([0xcc, 0xcc, 0xcc, 0xcc]);
  });

  test('the radix sort agrees with a comparison sort, equal keys included', () => {
    const recs = generateRecords(2, 0, 2000);
    // Duplicate some keys so stability and ties are exercised.
    for (let i = 0; i < 200; i++) recs.copyWithin(i * 7 * RECORD_BYTES, 3 * RECORD_BYTES, 3 * RECORD_BYTES + 10);
    const sorted = sortRecords(recs);
    const byCompare = Array.from({ length: 2000 }, (_, i) => i).sort((a, b) => compareKeys(recs, a * RECORD_BYTES, recs, b * RECORD_BYTES) || a - b);
    expect(Array.from({ length: 2000 }, (_, i) => keyHex(sorted, i * RECORD_BYTES))).toEqual(byCompare.map((i) => keyHex(recs, i * RECORD_BYTES)));
    expect(checksum(sorted)).toBe(checksum(recs));
  });

  test('the streaming checksum equals the checksum of the whole data set', () => {
    expect(terasortChecksum(SPEC.records, SPEC.seed)).toBe(reference.checksum);
  });
});

describe('teravalidate', () => {
  const good: TeraSortResult[] = [
    { inputCount: 2, inputChecksum: 10, count: 1, outputChecksum: 4, sorted: true, firstKey: '01', lastKey: '01', phases: {} },
    { inputCount: 0, inputChecksum: 0, count: 0, outputChecksum: 0, sorted: true, phases: {} },
    { inputCount: 0, inputChecksum: 0, count: 1, outputChecksum: 6, sorted: true, firstKey: '02', lastKey: '02', phases: {} },
  ];
  test('accepts a valid sort and reports each kind of corruption', () => {
    expect(teravalidate(good, { records: 2, checksum: 10 })).toEqual([]);
    expect(teravalidate([good[2]!, good[1]!, good[0]!])).toEqual(['worker 2: first key 01 < last key 02 of worker 0']);
    expect(teravalidate([{ ...good[0]!, sorted: false }, good[1]!, good[2]!])).toEqual(['worker 0: output is not sorted']);
    expect(teravalidate([good[0]!, good[1]!, { ...good[2]!, outputChecksum: 7 }])).toEqual(['output checksum 11 differs from the input checksum 10']);
    expect(teravalidate([good[0]!, good[1]!, { ...good[2]!, count: 2 }])).toEqual(['output has 3 records, input had 2']);
    expect(teravalidate(good, { records: 3, checksum: 10 })).toEqual(['input has 2 records, the data set has 3']);
  });
});

describe.each(BROKERS)('TeraSort over $kind', ({ kind, url }) => {
  test.each([
    [6, 1],
    [6, 4],
  ])('burst %i at granularity %i sorts like the sequential reference and passes teravalidate', async (n, g) => {
    const { flare, results } = await runOk<TeraSortResult>({ size: n, granularity: g, transport: { kind, url }, modulePath: appModule('terasort'), params: { value: SPEC } });
    expect(teravalidate(results, { records: SPEC.records, checksum: reference.checksum })).toEqual([]);
    expect(results.flatMap((r) => r.keys!)).toEqual(reference.keys);
    // Splitters balance the output: no worker holds more than twice its fair share.
    for (const r of results) expect(r.count).toBeLessThan((2 * SPEC.records) / n);
    // Most records change pack in the shuffle; never more than all of them (plus samples and splitters).
    const packs = Math.ceil(n / g);
    expect(flare.counters.remoteBytesSent).toBeGreaterThan(0);
    expect(flare.counters.remoteBytesSent).toBeLessThanOrEqual(SPEC.records * RECORD_BYTES + n * 10 * (SPEC.samplesPerWorker + n) * packs);
  });
});

test('the BurstJob manifest is valid and its flare passes teravalidate', async () => {
  const { manifest, modulePath } = loadManifest('terasort');
  const p = manifest.spec.params!.value as TeraSortParams;
  const { results } = await runOk<TeraSortResult>({
    size: manifest.spec.size,
    granularity: manifest.spec.granularity!,
    transport: { kind: 'nats', url: NATS_URL },
    modulePath,
    params: { value: p },
  });
  expect(teravalidate(results, { records: p.records, checksum: terasortChecksum(p.records, p.seed) })).toEqual([]);
});
