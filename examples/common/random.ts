/**
 * Deterministic, stateless randomness: every value is a pure function of (seed, index, lane), so any worker
 * can generate any slice of a data set on its own and get exactly the bytes a sequential generator gets.
 * @module
 */

/** murmur3's 32-bit finalizer: a bijective avalanche mix. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit hash of (seed, i, j); i and j may be any non-negative integers below 2^53. */
export function hash32(seed: number, i: number, j = 0): number {
  const lo = i >>> 0;
  const hi = Math.floor(i / 0x1_0000_0000) >>> 0;
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ lo);
  h = mix32((h + hi) ^ 0x7f4a7c15);
  return mix32(h ^ Math.imul(j + 1, 0x27d4eb2f));
}

/** A uniform double in [0, 1) with 53 random bits. */
export function uniform(seed: number, i: number, j = 0): number {
  const a = hash32(seed, i, 2 * j) >>> 5; // 27 bits
  const b = hash32(seed, i, 2 * j + 1) >>> 6; // 26 bits
  return (a * 67108864 + b) / 9007199254740992;
}

/** A standard normal value (Box–Muller over two independent uniforms). */
export function gaussian(seed: number, i: number, j = 0): number {
  const u1 = 1 - uniform(seed, i, 2 * j); // (0, 1]
  const u2 = uniform(seed, i, 2 * j + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * A small sequential generator (sfc32) for streams of values, seeded from (seed, stream) so streams are
 * independent and reproducible.
 */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream: number) {
    this.a = hash32(seed, stream, 0);
    this.b = hash32(seed, stream, 1);
    this.c = hash32(seed, stream, 2);
    for (let i = 0; i < 8; i++) this.next();
  }

  /** The next 32-bit unsigned value. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
}

/** Start of part `k` when `total` items are split into `parts` contiguous, near-equal parts. */
export function partStart(total: number, parts: number, k: number): number {
  return Math.floor((total * k) / parts);
}
