import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { ConfigError } from '../errors.js';

/**
 * Secrets a local launcher hands a pack on one of its descriptors (a socket pair or pipe), so that they
 * are on no disk: `kubeburst run` writes each as one record, `<bytes>\n<text>`, right after the fork.
 *
 * The pack process receives its records with {@link receiveHandoff} before it reads its configuration:
 * exactly one record (it does not wait for the end of the stream, which would wait on the launcher's event
 * loop), on the event loop and within a deadline (a pack started by hand with a silent socket there fails
 * instead of waiting forever), then it closes the descriptor. Anything else on that descriptor number
 * (nothing open, a file, a launcher that went away before writing) is a ConfigError naming the variable.
 * {@link readHandoff}, what packConfigFromEnv calls, returns what was received.
 * @module
 */

/** A handed-off record holds at most this many bytes (a secret is 44, a NATS user's .creds about 1 KiB). */
export const HANDOFF_MAX_BYTES = 64 * 1024;

/** `text` as one record for {@link receiveHandoff}. */
export function handoffRecord(text: string): string {
  return `${Buffer.byteLength(text)}\n${text}`;
}

const read = new Map<number, string>();

/** How long {@link receiveHandoff} waits for a record by default. */
export const HANDOFF_TIMEOUT_MS = 10_000;

/** The record this process received on descriptor `fdText` (the value of variable `field`). */
export function readHandoff(fdText: string, field: string): string {
  const text = read.get(descriptorOf(fdText, field));
  if (text === undefined) throw new ConfigError(field, `descriptor ${fdText} was not received: only the pack process (pack.js) reads a launcher's handoff`);
  return text;
}

/**
 * The record on descriptor `fdText`, read without blocking the event loop and within `timeoutMs`, then
 * closed (and kept for {@link readHandoff}). A ConfigError naming `field` if it is not there in time.
 */
export async function receiveHandoff(fdText: string, field: string, timeoutMs = HANDOFF_TIMEOUT_MS): Promise<string> {
  // Once read, the descriptor is closed and its number may be another's: the record is kept by number.
  const cached = read.get(descriptorOf(fdText, field));
  if (cached !== undefined) return cached;
  const { fd, who, notLaunched } = checkDescriptor(fdText, field);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = new Socket({ fd, readable: true, writable: false });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: string): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy(); // closes the descriptor
      if (err !== undefined) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => done(new ConfigError(field, `${who} held no record after ${timeoutMs} ms: ${notLaunched}`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const text = parseRecord(buf, who, field, notLaunched);
        if (text !== undefined) done(undefined, text);
      } catch (err) {
        done(err as Error);
      }
    });
    socket.on('end', () =>
      done(
        new ConfigError(
          field,
          buf.byteLength === 0 ? `${who} ended before a record: the launcher went away, or ${notLaunched}` : `${who} ended inside its record: the launcher went away`,
        ),
      ),
    );
    socket.on('error', (err: NodeJS.ErrnoException) => done(new ConfigError(field, `${who} could not be read: ${err.code ?? err.message}`)));
  });
  read.set(fd, text);
  return text;
}

/** The text of the record `buf` starts with; undefined while it is incomplete. */
function parseRecord(buf: Buffer, who: string, field: string, notLaunched: string): string | undefined {
  const nl = buf.indexOf(0x0a);
  const header = buf.subarray(0, nl < 0 ? Math.min(buf.byteLength, 8) : nl).toString('latin1');
  if (!/^\d{0,6}$/.test(header) || (nl < 0 && header.length > 6) || nl === 0) {
    throw new ConfigError(field, `${who} does not hold a record (it starts '${header.slice(0, 8).replace(/[^\x20-\x7e]/g, '?')}'): ${notLaunched}`);
  }
  if (nl < 0) return undefined;
  const bytes = Number(header);
  if (bytes > HANDOFF_MAX_BYTES) throw new ConfigError(field, `${who} announces ${bytes} bytes, over the ${HANDOFF_MAX_BYTES} a record may hold`);
  if (buf.byteLength < nl + 1 + bytes) return undefined;
  return buf.subarray(nl + 1, nl + 1 + bytes).toString('utf8');
}

function descriptorOf(fdText: string, field: string): number {
  const fd = /^\d{1,9}$/.test(fdText) ? Number(fdText) : NaN;
  if (!(fd >= 3)) throw new ConfigError(field, `must be a descriptor number of 3 or more (got '${fdText}')`);
  return fd;
}

/** `fdText` as a descriptor that may hold a record: a number of 3 or more, open, a socket or pipe. */
function checkDescriptor(fdText: string, field: string): { fd: number; who: string; notLaunched: string } {
  const fd = descriptorOf(fdText, field);
  const who = `descriptor ${fd}`;
  const notLaunched = `a pack with ${field} must be started by the kubeburst launcher, which writes the secret there`;
  let st;
  try {
    st = fstatSync(fd);
  } catch {
    throw new ConfigError(field, `${who} is not open: ${notLaunched}`);
  }
  if (!st.isSocket() && !st.isFIFO()) throw new ConfigError(field, `${who} is not a socket or pipe: ${notLaunched}`);
  return { fd, who, notLaunched };
}
