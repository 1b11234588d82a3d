import { connect } from 'nats';
import { natsSubject } from './nats-subjects.js';
import { DIRECT_PUBLISH_BYTES, NatsTransport } from './nats.js';
import type { FrameSink } from './types.js';

const url = process.env.KB_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Frame `i`: [i (u32 LE), filler that differs byte by byte], `size` bytes (at least 4). */
function frame(i: number, size: number): Uint8Array {
  const f = new Uint8Array(Math.max(4, size)).map((_, k) => (i * 31 + k * 7 + (k >>> 9)) & 0xff);
  new DataView(f.buffer).setUint32(0, i, true);
  return f;
}

describe('NATS transport sends', () => {
  test('small and large frames, in one send and in sends not awaited, arrive whole and in order', async () => {
    const burstId = `b-nats-order-${process.pid}`;
    const got: Uint8Array[] = [];
    let arrived!: () => void;
    const all = new Promise<void>((r) => (arrived = r));
    const sizes = [4, 100, DIRECT_PUBLISH_BYTES - 1, DIRECT_PUBLISH_BYTES, 900_000, 13, 70_000, 1000];
    const perSend = 3;
    const sends = 24;
    const errors: Error[] = [];
    const sink = (): FrameSink => ({
      frame: (f) => {
        got.push(new Uint8Array(f));
        if (got.length === perSend * sends) arrived();
      },
      error: (e) => errors.push(e),
    });
    const receiver = new NatsTransport({ burstId, packId: 1, packCount: 2, url });
    const sender = new NatsTransport({ burstId, packId: 0, packCount: 2, url, flushEveryBytes: 2 * 1024 * 1024 });
    // A plain client subscribed to the same subject counts what the server saw: nothing more, nothing less.
    const watcher = await connect({ servers: url });
    const seen: number[] = [];
    watcher.subscribe(natsSubject(burstId, 1), { callback: (_e, m) => seen.push(m.data.byteLength) });
    await watcher.flush();
    try {
      await receiver.connect(sink());
      await sender.connect(sink());
      const pending: Promise<void>[] = [];
      let n = 0;
      for (let s = 0; s < sends; s++) {
        const frames = Array.from({ length: perSend }, () => frame(n, sizes[n++ % sizes.length]!));
        pending.push(sender.send(1, frames));
      }
      await Promise.all(pending);
      await all;
      expect(errors).toEqual([]);
      expect(got.map((f) => new DataView(f.buffer).getUint32(0, true))).toEqual([...Array(n).keys()]);
      got.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(frame(i, sizes[i % sizes.length]!)))).toBe(true));
      await watcher.flush();
      expect(seen).toEqual(got.map((f) => f.byteLength));
    } finally {
      await sender.close();
      await receiver.close();
      await watcher.close();
    }
  });

  test('a frame past the server max_payload is refused by the client, not sent', async () => {
    const t = new NatsTransport({ burstId: `b-nats-max-${process.pid}`, packId: 0, packCount: 2, url });
    await t.connect({ frame: () => {}, error: () => {} });
    try {
      await expect(t.send(1, [new Uint8Array(t.maxFrameBytes + 1)])).rejects.toThrow(/MAX_PAYLOAD_EXCEEDED/i);
      // The connection is still good.
      await t.send(1, [new Uint8Array(DIRECT_PUBLISH_BYTES)]);
    } finally {
      await t.close();
    }
  });
});
