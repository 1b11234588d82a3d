import { Socket } from 'node:net';

/** Where an accepted connection's bytes go (see readAcceptedInto). */
export interface ReadInto {
  /** Where the next read should land, when the reader wants it somewhere in particular; else undefined. */
  target(): Uint8Array | undefined;
  /** `n` bytes were read into the last target. */
  wrote(n: number): void;
  /** Bytes read anywhere else: a view that is reused once this returns (copy what you keep). */
  chunk(bytes: Uint8Array): void;
}

/**
 * An accepted connection, read into buffers the reader picks (net's `onread`): the bulk of a large frame
 * goes from the kernel straight into the frame's own buffer instead of through a 64 KiB chunk and a copy,
 * which halves what the receiving pack's main thread spends per byte. Everything else is read into
 * `scratch`, one buffer that every connection can share (each read is handed to `chunk` and done with
 * before the next read anywhere), so a connection holds no buffer of its own.
 *
 * net.Server cannot be asked for that: only a Socket made with `onread` reads that way. So the server
 * must pause new connections (`pauseOnConnect`), and the connection's handle moves, before it has read a
 * byte, from the socket the server made to one made with `onread`; the server's empty shell is destroyed
 * (the server no longer counts the connection: its owner tracks and closes the socket it gets back).
 * That needs the socket's `_handle`, which net.Socket has had since Node 0.x but does not document:
 * without one, the connection is read as usual, through 'data' events, into `chunk`.
 */
export function readAcceptedInto(shell: Socket, r: ReadInto, scratch: Uint8Array): Socket {
  const holder = shell as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (handle == null || shell.bytesRead !== 0) {
    shell.on('data', (bytes: Buffer) => r.chunk(bytes));
    shell.resume();
    return shell;
  }
  holder._handle = null;
  shell.destroy();
  const onread = {
    buffer: (): Uint8Array => {
      const t = r.target();
      return t !== undefined && t.byteLength > 0 ? t : scratch;
    },
    callback: (n: number, buf: Uint8Array): void => {
      if (buf === scratch) r.chunk(scratch.subarray(0, n));
      else r.wrote(n);
    },
  };
  return new Socket({ handle, onread } as ConstructorParameters<typeof Socket>[0]);
}
