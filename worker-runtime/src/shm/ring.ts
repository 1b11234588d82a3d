/**
 * A multi-producer, single-consumer mailbox in a SharedArrayBuffer: the fast path for small messages
 * between threads of one pack.
 *
 *   bytes 0..63   control words (Int32): LOCK, HEAD, TAIL, SIGNAL, PORT_POSTED
 *   bytes 64..    data ring of `capacity` bytes (a power of two); records are
 *                 [u32 bodyLength][u32 marker][body…] padded to 8 bytes; a WRAP record fills the tail end
 *
 * Producers serialize on a tiny spinlock (the critical section is one memcpy of at most `maxBody` bytes);
 * the consumer reads without locking and publishes its HEAD so producers see freed space. A producer that
 * finds the ring full does not wait: `tryWrite` returns false and the caller takes the port path, so two
 * threads flooding each other can never deadlock on ring space.
 *
 * Why a ring and not MessagePort: measured on this machine, a postMessage round trip between threads is
 * ~30–80 µs, an Atomics-signalled ring round trip is ~1–2 µs while the receiver polls and ~50–60 µs once it
 * sleeps in Atomics.waitAsync (see docs/adr/0001-in-pack-signalling.md and bench/results/bcm.md).
 * @module
 */
/** Bytes of control words before the data ring. */
export const RING_CONTROL_BYTES = 64;
const LOCK = 0;
const HEAD = 1;
const TAIL = 2;
export const SIGNAL = 3;
/** Messages the pack's main thread has posted to the consumer's MessagePort (see notePortPost). */
const PORT_POSTED = 4;
const RECORD_HEADER = 8;
const MARK_DATA = 1;
const MARK_WRAP = 2;

const align8 = (n: number): number => (n + 7) & ~7;

export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (capacity < 1024 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity must be a power of two >= 1024 (got ${capacity})`);
  return new SharedArrayBuffer(RING_CONTROL_BYTES + capacity);
}

export class Ring {
  readonly ctrl: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private readonly capacity: number;
  private readonly mask: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.ctrl = new Int32Array(sab, 0, RING_CONTROL_BYTES / 4);
    this.capacity = sab.byteLength - RING_CONTROL_BYTES;
    this.mask = this.capacity - 1;
    this.data = new Uint8Array(sab, RING_CONTROL_BYTES, this.capacity);
    this.view = new DataView(sab, RING_CONTROL_BYTES, this.capacity);
  }

  /** Largest body that can ever fit (half the ring, so one big record cannot starve everyone). */
  get maxBody(): number {
    return this.capacity / 2 - RECORD_HEADER;
  }

  /**
   * Appends one record whose body `fill` writes into exactly `bodyBytes` bytes at `data[at…]` (`view` is a
   * DataView over the same bytes: no allocation per record). Returns false, writing nothing, when the ring
   * lacks room.
   */
  tryWrite(bodyBytes: number, fill: (data: Uint8Array, view: DataView, at: number) => void): boolean {
    if (bodyBytes > this.maxBody) return false;
    const need = align8(RECORD_HEADER + bodyBytes);
    this.lock();
    try {
      let tail = Atomics.load(this.ctrl, TAIL) >>> 0;
      const head = Atomics.load(this.ctrl, HEAD) >>> 0;
      let used = (tail - head) >>> 0;
      let idx = tail & this.mask;
      const contiguous = this.capacity - idx;
      if (need > contiguous) {
        if (used + contiguous + need > this.capacity) return false;
        this.view.setUint32(idx, contiguous - RECORD_HEADER, true);
        this.view.setUint32(idx + 4, MARK_WRAP, true);
        tail = (tail + contiguous) >>> 0;
        used += contiguous;
        idx = 0;
      }
      if (used + need > this.capacity) return false;
      this.view.setUint32(idx, bodyBytes, true);
      this.view.setUint32(idx + 4, MARK_DATA, true);
      fill(this.data, this.view, idx + RECORD_HEADER);
      Atomics.store(this.ctrl, TAIL, (tail + need) | 0);
    } finally {
      Atomics.store(this.ctrl, LOCK, 0);
    }
    this.signal();
    return true;
  }

  /** Wakes the consumer (also used by the consumer's own thread when a port message arrives). */
  signal(): void {
    Atomics.add(this.ctrl, SIGNAL, 1);
    Atomics.notify(this.ctrl, SIGNAL);
  }

  /**
   * Called by the one thread that posts to the consumer's MessagePort, before each post. The consumer
   * counts what its port delivered: while the two differ a message is on its way through the event loop,
   * so the consumer must not sleep in Atomics.wait (its signal may already have been spent).
   */
  notePortPost(): void {
    Atomics.add(this.ctrl, PORT_POSTED, 1);
  }

  portPosted(): number {
    return Atomics.load(this.ctrl, PORT_POSTED);
  }

  hasData(): boolean {
    return Atomics.load(this.ctrl, TAIL) !== Atomics.load(this.ctrl, HEAD);
  }

  /**
   * Consumer only: hands each record body, `len` bytes at `data[at…]` (valid only during the call), to
   * `sink`. Returns the number of records.
   */
  drain(sink: (data: Uint8Array, view: DataView, at: number, len: number) => void): number {
    let head = Atomics.load(this.ctrl, HEAD) >>> 0;
    const tail = Atomics.load(this.ctrl, TAIL) >>> 0;
    let n = 0;
    while (head !== tail) {
      const idx = head & this.mask;
      const len = this.view.getUint32(idx, true);
      const mark = this.view.getUint32(idx + 4, true);
      const next = (head + align8(RECORD_HEADER + len)) >>> 0;
      if (mark === MARK_DATA) {
        try {
          sink(this.data, this.view, idx + RECORD_HEADER, len);
        } catch (err) {
          // Consume the record anyway: a sink that throws must not see it again on the next drain.
          Atomics.store(this.ctrl, HEAD, next | 0);
          throw err;
        }
        n++;
      }
      head = next;
    }
    Atomics.store(this.ctrl, HEAD, head | 0);
    return n;
  }

  private lock(): void {
    let spins = 0;
    while (Atomics.compareExchange(this.ctrl, LOCK, 0, 1) !== 0) {
      // The holder is copying at most maxBody bytes; if it was descheduled, sleep briefly instead of burning a core.
      if (++spins > 200) Atomics.wait(this.ctrl, LOCK, 1, 0.05);
    }
  }
}
