import { connect, createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { readAcceptedInto, type ReadInto } from './read-into.js';

/** A reader that wants the `bodyBytes` after a `headBytes` head in a buffer of its own. */
class Reader implements ReadInto {
  head: number[] = [];
  readonly body: Uint8Array;
  filled = 0;
  wroteCalls = 0;
  chunkBytes = 0;
  constructor(
    private readonly headBytes: number,
    bodyBytes: number,
  ) {
    this.body = new Uint8Array(bodyBytes);
  }
  target(): Uint8Array | undefined {
    return this.head.length < this.headBytes ? undefined : this.body.subarray(this.filled);
  }
  wrote(n: number): void {
    this.wroteCalls++;
    this.filled += n;
  }
  chunk(bytes: Uint8Array): void {
    this.chunkBytes += bytes.byteLength;
    for (const b of bytes) {
      if (this.head.length < this.headBytes) this.head.push(b);
      else this.body[this.filled++] = b;
    }
  }
}

const pattern = (n: number): Buffer => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 13 + (i >>> 8)) & 0xff));

async function serve(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: true }, onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('readAcceptedInto', () => {
  test('an accepted connection reads the bulk of a large body straight into the buffer the reader names', async () => {
    const head = 16;
    const body = 3 * 1024 * 1024 + 7;
    const r = new Reader(head, body);
    const scratch = new Uint8Array(4096);
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const { server, port } = await serve((shell) => {
      const s = readAcceptedInto(shell, r, scratch);
      expect(s).not.toBe(shell);
      s.on('end', () => ended());
    });
    const bytes = pattern(head + body);
    const c = connect(port, '127.0.0.1');
    // The head alone first, so that the body's reads can go to the target.
    c.write(bytes.subarray(0, head));
    await new Promise((r) => setTimeout(r, 50));
    c.end(bytes.subarray(head));
    await done;
    await new Promise<void>((r) => server.close(() => r()));
    expect(Buffer.from(r.head).equals(bytes.subarray(0, head))).toBe(true);
    expect(r.filled).toBe(body);
    expect(Buffer.from(r.body).equals(bytes.subarray(head))).toBe(true);
    // Most of it never went through the scratch buffer.
    expect(r.wroteCalls).toBeGreaterThan(0);
    expect(r.chunkBytes).toBeLessThan(head + 64 * 1024);
  });

  test('the server lets go of the connection: close() does not wait for it', async () => {
    const sockets: Socket[] = [];
    const { server, port } = await serve((shell) => sockets.push(readAcceptedInto(shell, new Reader(0, 0), new Uint8Array(64))));
    const c = connect(port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    while (sockets.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise<void>((r) => server.close(() => r()));
    expect(sockets[0]!.destroyed).toBe(false);
    sockets[0]!.destroy();
    c.destroy();
  });

  test('a socket without a handle to move is read through data events', () => {
    const shell = new Socket();
    const r = new Reader(0, 3);
    const s = readAcceptedInto(shell, r, new Uint8Array(64));
    expect(s).toBe(shell);
    shell.emit('data', Buffer.from([1, 2, 3]));
    expect([...r.body]).toEqual([1, 2, 3]);
    expect(r.chunkBytes).toBe(3);
    shell.destroy();
  });
});
