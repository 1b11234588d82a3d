import { closeSync, fstatSync, readSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/**
 * Secrets a local launcher hands a pack on one of its descriptors (a socket pair or pipe), so that they
 * are on no disk: `kubeburst run` writes each as one record, `<bytes>\n<text>`, right after the fork.
 *
 * The pack reads exactly one record (it does not wait for the end of the stream, which would wait on the
 * launcher's event loop) and then closes the descriptor; a second read in the same process returns what
 * the first read. Anything else on that descriptor number (nothing open, a file, a launcher that went away
 * before writing) is a ConfigError naming the variable. The read blocks: the launcher writes the record
 * right after the fork, and its end closing is an EOF, but a pack started by hand with a socket or pipe
 * there that nobody writes to waits until it is killed (signals still end it).
 * @module
 */

/** A handed-off record holds at most this many bytes (a secret is 44, a NATS user's .creds about 1 KiB). */
export const HANDOFF_MAX_BYTES = 64 * 1024;

/** `text` as one record for {@link readHandoff}. */
export function handoffRecord(text: string): string {
  return `${Buffer.byteLength(text)}\n${text}`;
}

const read = new Map<number, string>();

/** The record on descriptor `fdText` (the value of variable `field`), read once and closed. */
export function readHandoff(fdText: string, field: string): string {
  const fd = /^\d{1,9}$/.test(fdText) ? Number(fdText) : NaN;
  if (!(fd >= 3)) throw new ConfigError(field, `must be a descriptor number of 3 or more (got '${fdText}')`);
  const cached = read.get(fd);
  if (cached !== undefined) return cached;
  const who = `descriptor ${fd}`;
  const notLaunched = `a pack with ${field} must be started by the kubeburst launcher, which writes the secret there`;
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    throw new ConfigError(field, `${who} is not open: ${notLaunched}`);
  }
  if (!st.isSocket() && !st.isFIFO()) throw new ConfigError(field, `${who} is not a socket or pipe: ${notLaunched}`);
  try {
    return readRecord(fd, who, field, notLaunched);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(field, `${who} could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function readRecord(fd: number, who: string, field: string, notLaunched: string): string {
  // The length line, a byte at a time (no read past it), then the text.
  let header = '';
  const one = Buffer.alloc(1);
  for (;;) {
    if (readFully(fd, one, 0, 1) === 0) throw new ConfigError(field, `${who} ended before a record: the launcher went away, or ${notLaunched}`);
    if (one[0] === 0x0a) break;
    header += String.fromCharCode(one[0]!);
    if (!/^\d{1,6}$/.test(header)) throw new ConfigError(field, `${who} does not hold a record (it starts '${header.slice(0, 8).replace(/[^\x20-\x7e]/g, '?')}'): ${notLaunched}`);
  }
  const bytes = Number(header);
  if (bytes > HANDOFF_MAX_BYTES) throw new ConfigError(field, `${who} announces ${bytes} bytes, over the ${HANDOFF_MAX_BYTES} a record may hold`);
  const body = Buffer.alloc(bytes);
  const got = readFully(fd, body, 0, bytes);
  if (got < bytes) throw new ConfigError(field, `${who} ended after ${got} of ${bytes} bytes: the launcher went away`);
  try {
    closeSync(fd);
  } catch {
    // Closed meanwhile: nothing to keep.
  }
  const text = body.toString('utf8');
  read.set(fd, text);
  return text;
}

/** Reads until `length` bytes or the end; EAGAIN (a non-blocking descriptor) waits a millisecond and retries, for at most 10 s. */
function readFully(fd: number, buf: Buffer, at: number, length: number): number {
  let got = 0;
  const deadline = Date.now() + 10_000;
  while (got < length) {
    let n: number;
    try {
      n = readSync(fd, buf, at + got, length - got, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
    if (n === 0) break;
    got += n;
  }
  return got;
}
