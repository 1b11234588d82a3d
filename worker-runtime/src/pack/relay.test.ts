import { INFLIGHT_KIB, inflightKiB } from '../communicator/endpoint.js';
import type { MessageHeader } from '../protocol/frame.js';
import { DEFAULT_MAX_PENDING_BYTES, encodeFrames, HEADER_BYTES, MsgKind, writeHeader } from '../protocol/frame.js';
import type { Transport } from '../transport/types.js';
import type { PackConfig } from './config.js';
import { memoryHere } from '../memory.js';
import { Relay } from './relay.js';
import type { PackThreads } from './threads.js';

/** What the relay handed the transport, in order: frames by their first byte, gathered sends as 'G<n>'. */
function recorder(): { transport: Transport; sends: { pack: number; frames: string[] }[]; settle: (() => void)[] } {
  const sends: { pack: number; frames: string[] }[] = [];
  const settle: (() => void)[] = [];
  const pending = (): Promise<void> => new Promise((resolve) => settle.push(resolve));
  const transport: Transport = {
    kind: 'nats',
    maxFrameBytes: 1 << 20,
    connect: () => Promise.resolve(),
    send: (pack, frames) => {
      sends.push({ pack, frames: frames.map((f) => String(f[0])) });
      return pending();
    },
    sendParts: (pack, frames) => {
      sends.push({ pack, frames: frames.map((parts) => `G${parts[1]!.byteLength}`) });
      return pending();
    },
    cleanup: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { transport, sends, settle };
}

const frame = (tag: number, bytes = 100): Uint8Array => new Uint8Array(bytes).fill(tag);
const boom = (): never => {
  throw new Error('the transport threw');
};
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const header: MessageHeader = { kind: MsgKind.P2P, dtype: 0, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 0 };

function relayOver(transport: Transport, counters = new Int32Array(2)): Relay {
  // Sending reads neither the pack's config nor its threads (they serve incoming frames).
  return new Relay({} as PackConfig, transport, {} as PackThreads, counters, {
    failed: (info) => {
      throw new Error(info.reason);
    },
  });
}

describe('Relay: a turn of the event loop, one send per pack', () => {
  test('frames posted in one turn leave in one send per destination, in order; the next turn makes another', async () => {
    const { transport, sends } = recorder();
    const relay = relayOver(transport);
    relay.sendFrames(1, [frame(1)]);
    relay.sendFrames(2, [frame(2)]);
    relay.sendFrames(1, [frame(3), frame(4)]);
    expect(sends).toEqual([]);
    await turn();
    expect(sends).toEqual([
      { pack: 1, frames: ['1', '3', '4'] },
      { pack: 2, frames: ['2'] },
    ]);
    relay.sendFrames(1, [frame(5)]);
    await turn();
    expect(sends.slice(2)).toEqual([{ pack: 1, frames: ['5'] }]);
    expect(relay.wire).toMatchObject({ framesSent: 5, bytesSent: 500 });
  });

  test('a gathered send follows the frames queued before it for its pack; other packs still wait for the turn', async () => {
    const { transport, sends } = recorder();
    const relay = relayOver(transport);
    relay.sendFrames(1, [frame(1)]);
    relay.sendFrames(2, [frame(2)]);
    relay.sendGathered(1, header, new Uint8Array(3000), 1000);
    expect(sends).toEqual([
      { pack: 1, frames: ['1'] },
      { pack: 1, frames: ['G1000', 'G1000', 'G1000'] },
    ]);
    await turn();
    expect(sends.slice(2)).toEqual([{ pack: 2, frames: ['2'] }]);
  });

  test('a queue past 256 KiB goes at once, and flushAll sends what waits', () => {
    const { transport, sends } = recorder();
    const relay = relayOver(transport);
    relay.sendFrames(1, [frame(1, 200 * 1024)]);
    expect(sends).toEqual([]);
    relay.sendFrames(1, [frame(2, 100 * 1024)]);
    expect(sends).toEqual([{ pack: 1, frames: ['1', '2'] }]);
    relay.sendFrames(3, [frame(3)]);
    relay.flushAll();
    expect(sends.slice(1)).toEqual([{ pack: 3, frames: ['3'] }]);
  });

  test('queued frames hold the send budget until the transport accepts them, and give back what each message took', async () => {
    const { transport, settle } = recorder();
    const counters = new Int32Array(2);
    const relay = relayOver(transport, counters);
    // Three messages of one 100-byte frame and one of two 1000-byte frames, as the worker thread counts
    // them before it posts (endpoint.ts sendRemote: each rounded up to whole KiB on its own): 1 + 1 + 1 + 2.
    const messages = [[frame(1)], [frame(2)], [frame(3)], [frame(4, 1000), frame(5, 1000)]];
    for (const m of messages) counters[INFLIGHT_KIB]! += inflightKiB(m.reduce((n, f) => n + f.byteLength, 0));
    expect(counters[INFLIGHT_KIB]).toBe(5);
    for (const m of messages) relay.sendFrames(1, m);
    await turn();
    expect(counters[INFLIGHT_KIB]).toBe(5);
    settle[0]!();
    await turn();
    expect(counters[INFLIGHT_KIB]).toBe(0);
  });

  test('a transport whose send throws: the flare is told, the budget given back, the other packs still sent', async () => {
    const { transport, sends } = recorder();
    const failures: string[] = [];
    const counters = new Int32Array(2);
    const relay = new Relay(
      { layout: { packOf: () => 0 }, packId: 0 } as unknown as PackConfig,
      { ...transport, send: (pack, frames) => (pack === 1 ? boom() : transport.send(pack, frames)) },
      {} as PackThreads,
      counters,
      {
        failed: (info) => failures.push(info.reason),
      },
    );
    counters[INFLIGHT_KIB] = 2;
    relay.sendFrames(1, [frame(1)]);
    relay.sendFrames(2, [frame(2)]);
    await turn();
    await turn();
    expect(failures).toEqual([expect.stringMatching(/^sending to pack 1 failed: .*the transport threw/)]);
    expect(sends).toEqual([{ pack: 2, frames: ['2'] }]);
    expect(counters[INFLIGHT_KIB]).toBe(1);
  });
});

describe('Relay: frames coming in', () => {
  test('a frame whose header names a worker of another pack than the one that proved it sent it fails the flare, naming the sender', () => {
    const failures: { failedPack?: number; reason: string }[] = [];
    const cfg = { packId: 0, layout: { packOf: (w: number) => Math.floor(w / 2) } } as unknown as PackConfig;
    const relay = new Relay(cfg, recorder().transport, { has: () => true, deliver: () => {} } as unknown as PackThreads, new Int32Array(2), {
      failed: (info) => void failures.push(info),
    });
    // From worker 4 (pack 2), on what pack 1 proved it sent.
    const [f] = encodeFrames({ ...header, src: 4, dst: 0 }, new Uint8Array(8), 1 << 20);
    relay.onFrame(f!, false, 1);
    expect(failures).toEqual([{ failedPack: 1, reason: 'pack 0 received a frame from pack 1 that says it comes from worker 4, of pack 2' }]);
    // The same frame from pack 2 itself, or through a transport that cannot tell, is delivered.
    relay.onFrame(f!, false, 2);
    relay.onFrame(f!, false);
    expect(failures).toHaveLength(1);
  });

  test('a message announced larger than the pack’s memory fails the flare naming its sender, and nothing is allocated for it', () => {
    const failures: { failedPack?: number; reason: string }[] = [];
    const cfg = { packId: 0, layout: { packOf: (w: number) => Math.floor(w / 2) } } as unknown as PackConfig;
    const relay = new Relay(cfg, recorder().transport, { has: () => true, deliver: () => {} } as unknown as PackThreads, new Int32Array(2), {
      failed: (info) => void failures.push(info),
    });
    const chunk = 1 << 20;
    const totalBytes = Math.min(DEFAULT_MAX_PENDING_BYTES, memoryHere()) + 1;
    const f = new Uint8Array(HEADER_BYTES + chunk);
    writeHeader(f, { ...header, src: 2, dst: 0, totalBytes, chunkIndex: 0, chunkCount: Math.ceil(totalBytes / chunk), chunkBytes: chunk, chunkOffset: 0 });
    const before = process.memoryUsage().arrayBuffers;
    relay.onFrame(f, false, 1);
    expect(failures).toEqual([{ failedPack: 1, reason: expect.stringMatching(new RegExp(`^pack 0 received a bad frame from pack 1: .*${totalBytes} bytes`)) }]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(chunk);
  });
});
