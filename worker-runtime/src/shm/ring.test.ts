import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { createRingBuffer, Ring } from './ring.js';

const enc = (n: number, len: number): Uint8Array => {
  const b = new Uint8Array(len + 4);
  new DataView(b.buffer).setUint32(0, n, true);
  for (let i = 0; i < len; i++) b[4 + i] = (n + i) & 0xff;
  return b;
};

describe('shared-memory ring', () => {
  test('records come out whole and in order, across wrap-around, for any sizes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 200 }), fc.integer({ min: 1, max: 7 }), (lens, drainEvery) => {
        const ring = new Ring(createRingBuffer(4096));
        const got: Uint8Array[] = [];
        const sent: Uint8Array[] = [];
        lens.forEach((len, i) => {
          const rec = enc(i, len);
          if (!ring.tryWrite(rec.length, (d, _v, at) => d.set(rec, at))) {
            ring.drain((d, _v, at, len) => got.push(d.slice(at, at + len)));
            expect(ring.tryWrite(rec.length, (d, _v, at) => d.set(rec, at))).toBe(true);
          }
          sent.push(rec);
          if (i % drainEvery === 0) ring.drain((d, _v, at, len) => got.push(d.slice(at, at + len)));
        });
        ring.drain((d, _v, at, len) => got.push(d.slice(at, at + len)));
        expect(got.map((b) => Buffer.from(b).toString('hex'))).toEqual(sent.map((b) => Buffer.from(b).toString('hex')));
      }),
      { numRuns: 200 },
    );
  });

  test('a full ring refuses instead of blocking, and a body above maxBody never fits', () => {
    const ring = new Ring(createRingBuffer(1024));
    expect(ring.tryWrite(ring.maxBody + 1, () => {})).toBe(false);
    let n = 0;
    while (ring.tryWrite(100, () => {})) n++;
    expect(n).toBeGreaterThan(5);
    expect(ring.drain(() => {})).toBe(n);
    expect(ring.tryWrite(100, () => {})).toBe(true);
  });

  test('four producer threads and one consumer: nothing lost, per-producer order kept', async () => {
    const sab = createRingBuffer(1 << 16);
    const ring = new Ring(sab);
    const perProducer = 20_000;
    // Producers (real threads running the compiled ring) retry when the ring is full; the runtime
    // itself falls back to its port path instead.
    const workers = [0, 1, 2, 3].map(
      (id) =>
        new Worker(
          `
          const { workerData, parentPort } = require('node:worker_threads');
          import(workerData.mod).then(({ Ring }) => {
            const ring = new Ring(workerData.sab);
            const b = new Uint8Array(8);
            const v = new DataView(b.buffer);
            for (let i = 0; i < workerData.n; i++) {
              v.setUint32(0, workerData.id, true);
              v.setUint32(4, i, true);
              while (!ring.tryWrite(8 + (i % 50), (d, _v, at) => d.set(b, at))) {}
            }
            parentPort.postMessage('done');
          });
        `,
          { eval: true, workerData: { sab, id, n: perProducer, mod: new URL('../../dist/shm/ring.js', import.meta.url).href } },
        ),
    );
    const next = [0, 0, 0, 0];
    let total = 0;
    let bad = 0;
    const done = Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished || ring.hasData()) {
      ring.drain((_d, v, at) => {
        const id = v.getUint32(at, true);
        const i = v.getUint32(at + 4, true);
        if (next[id] !== i) bad++;
        next[id] = i + 1;
        total++;
      });
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(workers.map((w) => w.terminate()));
    expect(bad).toBe(0);
    expect(total).toBe(4 * perProducer);
  });
});
