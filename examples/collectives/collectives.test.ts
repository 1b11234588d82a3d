/**
 * The API reference's examples (the `@example` blocks in worker-runtime/src/context.ts) run, and say
 * what they do: examples/collectives/worker.ts holds each of them verbatim, and this runs it on 4 workers
 * in packs of 2 and checks every result its comment states.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appModule, EXAMPLES, runOk } from '../testing/flares.js';
import type { ExampleResults } from './worker.js';

const N = 4;
const ids = [0, 1, 2, 3];
const arr = (type: string, ...values: number[]) => ({ type, values });
const byWorker = (f: (w: number) => unknown) => ids.map(f);

const expected: Record<string, unknown[]> = {
  broadcast: byWorker(() => arr('Float64Array', 1.5, 2)),
  broadcastDataView: byWorker(() => arr('Uint8Array', 7, 0)),
  scatter: byWorker((w) => arr('Int32Array', 10 * w)),
  gather: byWorker((w) => (w === 0 ? ids.map((v) => arr('Int32Array', v)) : null)),
  allGather: byWorker(() => ids.map((v) => arr('Int32Array', v * v))),
  allToAll: byWorker((w) => ids.map((from) => arr('Int32Array', from * 10 + w))),
  reduce: byWorker((w) => (w === 0 ? arr('Float64Array', 6, 4) : null)),
  allReduce: byWorker(() => arr('Int32Array', 3, 0)),
  allReduceFn: byWorker(() => arr('Float64Array', 1234, 10000)),
  barrier: byWorker(() => true),
  packGather: byWorker((w) => (w === 0 ? [arr('Int32Array', 0), arr('Int32Array', 1)] : w === 2 ? [arr('Int32Array', 2), arr('Int32Array', 3)] : null)),
  packAllReduce: byWorker((w) => arr('Float64Array', w < 2 ? 1 : 5)),
};

describe('collective examples of the API reference', () => {
  test('run on 4 workers in packs of 2 and give what their comments say', async () => {
    const { results } = await runOk<ExampleResults>({ size: N, granularity: 2, transport: { kind: 'direct' }, modulePath: appModule('collectives'), operationTimeoutMs: 20_000 });
    for (const [name, want] of Object.entries(expected)) {
      expect({ name, got: results.map((r) => r[name]) }).toEqual({ name, got: want });
    }
    expect(Object.keys(results[0]!).sort()).toEqual(Object.keys(expected).sort());
  });

  test("every @example of context.ts is in the examples' worker, word for word", () => {
    const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
    const source = readFileSync(join(EXAMPLES, '..', 'worker-runtime', 'src', 'context.ts'), 'utf8');
    const worker = squash(readFileSync(join(EXAMPLES, 'collectives', 'worker.ts'), 'utf8'));
    const blocks = [...source.matchAll(/@example[^\n]*\n\s*\* ```ts\n([\s\S]*?)\n\s*\* ```/g)].map((m) => squash(m[1]!.replace(/^\s*\* ?/gm, '')));
    expect(blocks.length).toBeGreaterThanOrEqual(Object.keys(expected).length - 2);
    for (const b of blocks) expect(worker.includes(b) ? b : `not in examples/collectives/worker.ts: ${b}`).toBe(b);
  });
});
