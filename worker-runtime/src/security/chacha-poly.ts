/**
 * A frame MAC in plain TypeScript: the RFC 8439 ChaCha20-Poly1305 tag of an empty plaintext, the frame as
 * AAD. It is the very tag node:crypto returns for `createCipheriv('chacha20-poly1305', key, nonce,
 * { authTagLength: 16 })`, `setAAD(aad)`, `final()`, `getAuthTag()`, without the fixed cost a native cipher
 * object has per call: for the small frames of a round trip that overhead, not the hashing, is the bill.
 *
 *   one-time key   otk = ChaCha20 block(key, counter 0, nonce)[0..32)        (RFC 8439 §2.6)
 *   tag            Poly1305(otk, aad | zeros to 16 | le64(aad.length) | le64(0))   (§2.8, no ciphertext)
 *
 * Exact arithmetic without BigInt: Poly1305 works mod 2^130 - 5 on six 22-bit limbs held in doubles, so a
 * block costs 36 products (polyBlocks says why every sum stays exact).
 *
 * Secrets (key, one-time key, accumulator) meet no branch and no table index; lengths are public and do.
 * Everything runs in module-level scratch arrays (one isolate is single-threaded): a tag allocates
 * nothing when the caller gives `out`, so the sender writes it straight into the frame's trailer.
 * @module
 */

/** Key bytes: ChaCha20-Poly1305 takes a 256-bit key. */
export const CHACHA_POLY_KEY_BYTES = 32;
/** Nonce bytes (RFC 8439's 96-bit nonce, with a 32-bit block counter). */
export const CHACHA_POLY_NONCE_BYTES = 12;
/** Tag bytes. */
export const CHACHA_POLY_TAG_BYTES = 16;

/**
 * A key read once into the eight little-endian words ChaCha20's state holds. Pass it instead of the raw
 * bytes when one key signs many frames; both give the same tags.
 */
export class ChachaPolyKey {
  /** @internal */
  readonly words = new Int32Array(8);
  constructor(key: Uint8Array) {
    if (key.byteLength !== CHACHA_POLY_KEY_BYTES) throw new RangeError(`a chacha20-poly1305 key is ${CHACHA_POLY_KEY_BYTES} bytes (got ${key.byteLength})`);
    for (let i = 0; i < 8; i++) this.words[i] = le32(key, 4 * i);
  }
}

/**
 * The 16-byte chacha20-poly1305 tag of an empty plaintext with `aad`, written to `out` at `outOffset` (a
 * new array when `out` is not given) and returned. The nonce must never repeat under a key: two frames
 * under one (key, nonce) let a forger solve for the one-time key.
 */
export function chachaPolyTag(key: Uint8Array | ChachaPolyKey, nonce: Uint8Array, aad: Uint8Array, out?: Uint8Array, outOffset = 0): Uint8Array {
  const dst = out ?? new Uint8Array(CHACHA_POLY_TAG_BYTES);
  if (outOffset < 0 || outOffset + CHACHA_POLY_TAG_BYTES > dst.byteLength) {
    throw new RangeError(`the tag needs ${CHACHA_POLY_TAG_BYTES} bytes at offset ${outOffset} of out (${dst.byteLength} bytes)`);
  }
  aeadTag(key, nonce, aad);
  writeTag(dst, outOffset);
  return dst;
}

/**
 * Whether `tag` is the chacha20-poly1305 tag of an empty plaintext with `aad` (see {@link chachaPolyTag}).
 * The comparison folds every byte's difference before it looks at the result: its time tells nothing
 * about how much of a forged tag was right. A tag of another length is false.
 */
export function chachaPolyVerify(key: Uint8Array | ChachaPolyKey, nonce: Uint8Array, aad: Uint8Array, tag: Uint8Array): boolean {
  if (tag.byteLength !== CHACHA_POLY_TAG_BYTES) return false;
  aeadTag(key, nonce, aad);
  let diff = 0;
  for (let i = 0; i < 4; i++) diff |= TAG[i]! ^ le32(tag, 4 * i);
  return diff === 0;
}

// ---- ChaCha20 (RFC 8439 §2.1–2.3) ----

// "expand 32-byte k", little-endian.
const SIGMA0 = 0x61707865;
const SIGMA1 = 0x3320646e;
const SIGMA2 = 0x79622d32;
const SIGMA3 = 0x6b206574;
const KEY = new Int32Array(8);
/**
 * Math.floor, looked up once. Under Jest (modules in a vm context, another global object) a `Math.floor`
 * in the Poly1305 loop made it some 20 times slower; looked up once it runs as fast as in plain Node.
 */
const floor = Math.floor;

/**
 * The ChaCha quarter round on four words of `x` (§2.1), in place; words are int32, read as uint32. The
 * RFC's §2.1.1 and §2.2.1 vectors test it; {@link chachaBlock} runs the same lines on locals.
 * @internal
 */
export function quarterRound(x: Int32Array, a: number, b: number, c: number, d: number): void {
  let va = x[a]!;
  let vb = x[b]!;
  let vc = x[c]!;
  let vd = x[d]!;
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 16) | (vd >>> 16);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 12) | (vb >>> 20);
  va = (va + vb) | 0;
  vd ^= va;
  vd = (vd << 8) | (vd >>> 24);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb << 7) | (vb >>> 25);
  x[a] = va;
  x[b] = vb;
  x[c] = vc;
  x[d] = vd;
}

/**
 * The ChaCha20 block function (§2.3): 16 output words into `out` for key words `key`, block `counter` and
 * a 12-byte `nonce`. The state lives in locals: the quarter round (the lines of {@link quarterRound},
 * written out) on a typed array costs several times as much.
 * @internal
 */
export function chachaBlock(key: Int32Array, counter: number, nonce: Uint8Array, out: Int32Array): void {
  const j4 = key[0]!,
    j5 = key[1]!,
    j6 = key[2]!,
    j7 = key[3]!,
    j8 = key[4]!,
    j9 = key[5]!,
    j10 = key[6]!,
    j11 = key[7]!,
    j12 = counter | 0,
    j13 = le32(nonce, 0),
    j14 = le32(nonce, 4),
    j15 = le32(nonce, 8);
  let x0 = SIGMA0,
    x1 = SIGMA1,
    x2 = SIGMA2,
    x3 = SIGMA3,
    x4 = j4,
    x5 = j5,
    x6 = j6,
    x7 = j7,
    x8 = j8,
    x9 = j9,
    x10 = j10,
    x11 = j11,
    x12 = j12,
    x13 = j13,
    x14 = j14,
    x15 = j15;
  for (let i = 0; i < 10; i++) {
    // Columns: (0 4 8 12) (1 5 9 13) (2 6 10 14) (3 7 11 15).
    x0 = (x0 + x4) | 0;
    x12 ^= x0;
    x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0;
    x4 ^= x8;
    x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0;
    x12 ^= x0;
    x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0;
    x4 ^= x8;
    x4 = (x4 << 7) | (x4 >>> 25);

    x1 = (x1 + x5) | 0;
    x13 ^= x1;
    x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0;
    x5 ^= x9;
    x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0;
    x13 ^= x1;
    x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0;
    x5 ^= x9;
    x5 = (x5 << 7) | (x5 >>> 25);

    x2 = (x2 + x6) | 0;
    x14 ^= x2;
    x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0;
    x6 ^= x10;
    x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0;
    x14 ^= x2;
    x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0;
    x6 ^= x10;
    x6 = (x6 << 7) | (x6 >>> 25);

    x3 = (x3 + x7) | 0;
    x15 ^= x3;
    x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0;
    x7 ^= x11;
    x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0;
    x15 ^= x3;
    x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0;
    x7 ^= x11;
    x7 = (x7 << 7) | (x7 >>> 25);

    // Diagonals: (0 5 10 15) (1 6 11 12) (2 7 8 13) (3 4 9 14).
    x0 = (x0 + x5) | 0;
    x15 ^= x0;
    x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0;
    x5 ^= x10;
    x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0;
    x15 ^= x0;
    x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0;
    x5 ^= x10;
    x5 = (x5 << 7) | (x5 >>> 25);

    x1 = (x1 + x6) | 0;
    x12 ^= x1;
    x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0;
    x6 ^= x11;
    x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0;
    x12 ^= x1;
    x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0;
    x6 ^= x11;
    x6 = (x6 << 7) | (x6 >>> 25);

    x2 = (x2 + x7) | 0;
    x13 ^= x2;
    x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0;
    x7 ^= x8;
    x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0;
    x13 ^= x2;
    x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0;
    x7 ^= x8;
    x7 = (x7 << 7) | (x7 >>> 25);

    x3 = (x3 + x4) | 0;
    x14 ^= x3;
    x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0;
    x4 ^= x9;
    x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0;
    x14 ^= x3;
    x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0;
    x4 ^= x9;
    x4 = (x4 << 7) | (x4 >>> 25);
  }
  out[0] = (x0 + SIGMA0) | 0;
  out[1] = (x1 + SIGMA1) | 0;
  out[2] = (x2 + SIGMA2) | 0;
  out[3] = (x3 + SIGMA3) | 0;
  out[4] = (x4 + j4) | 0;
  out[5] = (x5 + j5) | 0;
  out[6] = (x6 + j6) | 0;
  out[7] = (x7 + j7) | 0;
  out[8] = (x8 + j8) | 0;
  out[9] = (x9 + j9) | 0;
  out[10] = (x10 + j10) | 0;
  out[11] = (x11 + j11) | 0;
  out[12] = (x12 + j12) | 0;
  out[13] = (x13 + j13) | 0;
  out[14] = (x14 + j14) | 0;
  out[15] = (x15 + j15) | 0;
}

// ---- Poly1305 (§2.5) on six limbs at bits 0, 22, 44, 66, 88, 110 (22 bits each, the top one 20) ----

/** The accumulator h (between blocks every limb is below 2^23). */
const H = new Int32Array(6);
/** r, clamped, as limbs. */
const R = new Int32Array(6);
/** s, as four little-endian 32-bit words; after polyFinish, the tag as four such words. */
const TAG = new Int32Array(4);
/** A block assembled in place: the AAD's last partial block, the lengths, a raw message's tail. */
const BLOCK = new Uint8Array(16);
/** The one-time key, as ChaCha20 returns it. */
const OTK = new Int32Array(16);
const TWO22 = 0x400000;
const TWO20 = 0x100000;
const TWO32 = 0x100000000;

/** Starts a Poly1305 from the one-time key r | s given as eight little-endian 32-bit words: r clamped into limbs, s kept. */
function polyInit(k: Int32Array): void {
  // Clamping (§2.5: r &= 0x0ffffffc0ffffffc0ffffffc0fffffff).
  const w0 = k[0]! & 0x0fffffff;
  const w1 = k[1]! & 0x0ffffffc;
  const w2 = k[2]! & 0x0ffffffc;
  const w3 = k[3]! & 0x0ffffffc;
  R[0] = w0 & 0x3fffff;
  R[1] = ((w0 >>> 22) | (w1 << 10)) & 0x3fffff;
  R[2] = ((w1 >>> 12) | (w2 << 20)) & 0x3fffff;
  R[3] = (w2 >>> 2) & 0x3fffff;
  R[4] = ((w2 >>> 24) | (w3 << 8)) & 0x3fffff;
  R[5] = w3 >>> 14;
  for (let i = 0; i < 4; i++) TAG[i] = k[4 + i]!;
  for (let i = 0; i < 6; i++) H[i] = 0;
}

/**
 * Absorbs `blocks` 16-byte blocks of `m` from `off`: h = (h + block + hibit·2^128)·r, partly reduced
 * (afterwards limb 1 is below 2^22 + 2^13, limb 5 below 2^20, the others below 2^22). `hibit` is 1 for every full block, 0 for a
 * raw message's padded tail (which carries its own 0x01).
 *
 * Exact in doubles: a limb of h + block stays below 2^23.01, of r below 2^22, and a product that lands at
 * limb 6 + k sits at bit 132 + 22k = 2^130·4·2^22k, which is 20·2^22k mod p: so the wrapped factors are
 * 20·r, below 2^26.33. A column of six products (plus a carry below 2^31) stays below 2^52, inside the
 * 2^53 a double holds exactly; floor() of a division by a power of two and `&` (ToInt32 keeps the low
 * 32 bits of any integer below 2^53) split it exactly.
 */
function polyBlocks(m: Uint8Array, off: number, blocks: number, hibit: number): void {
  const r0 = R[0]!,
    r1 = R[1]!,
    r2 = R[2]!,
    r3 = R[3]!,
    r4 = R[4]!,
    r5 = R[5]!;
  const s1 = 20 * r1,
    s2 = 20 * r2,
    s3 = 20 * r3,
    s4 = 20 * r4,
    s5 = 20 * r5;
  let h0 = H[0]!,
    h1 = H[1]!,
    h2 = H[2]!,
    h3 = H[3]!,
    h4 = H[4]!,
    h5 = H[5]!;
  const top = hibit << 18;
  for (let b = 0; b < blocks; b++, off += 16) {
    const w0 = m[off]! | (m[off + 1]! << 8) | (m[off + 2]! << 16) | (m[off + 3]! << 24);
    const w1 = m[off + 4]! | (m[off + 5]! << 8) | (m[off + 6]! << 16) | (m[off + 7]! << 24);
    const w2 = m[off + 8]! | (m[off + 9]! << 8) | (m[off + 10]! << 16) | (m[off + 11]! << 24);
    const w3 = m[off + 12]! | (m[off + 13]! << 8) | (m[off + 14]! << 16) | (m[off + 15]! << 24);
    h0 += w0 & 0x3fffff;
    h1 += ((w0 >>> 22) | (w1 << 10)) & 0x3fffff;
    h2 += ((w1 >>> 12) | (w2 << 20)) & 0x3fffff;
    h3 += (w2 >>> 2) & 0x3fffff;
    h4 += ((w2 >>> 24) | (w3 << 8)) & 0x3fffff;
    h5 += (w3 >>> 14) | top;

    // The six columns are written out, not looped: this is the MAC's hot loop, and h, r stay in locals.
    let c: number;
    let d0 = h0 * r0 + h1 * s5 + h2 * s4 + h3 * s3 + h4 * s2 + h5 * s1;
    c = floor(d0 / TWO22);
    d0 &= 0x3fffff;
    let d1 = c + h0 * r1 + h1 * r0 + h2 * s5 + h3 * s4 + h4 * s3 + h5 * s2;
    c = floor(d1 / TWO22);
    d1 &= 0x3fffff;
    let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s5 + h4 * s4 + h5 * s3;
    c = floor(d2 / TWO22);
    d2 &= 0x3fffff;
    let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s5 + h5 * s4;
    c = floor(d3 / TWO22);
    d3 &= 0x3fffff;
    let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s5;
    c = floor(d4 / TWO22);
    d4 &= 0x3fffff;
    let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0;
    // Limb 5 keeps bits 110..129; what is above 2^130 (below 2^32) comes back to limb 0 times 5.
    c = floor(d5 / TWO20);
    d5 &= 0xfffff;
    d0 += 5 * c;
    c = floor(d0 / TWO22);
    d0 &= 0x3fffff;
    h0 = d0;
    h1 = d1 + c;
    h2 = d2;
    h3 = d3;
    h4 = d4;
    h5 = d5;
  }
  H[0] = h0;
  H[1] = h1;
  H[2] = h2;
  H[3] = h3;
  H[4] = h4;
  H[5] = h5;
}

/** Absorbs `n` (< 16) bytes of `m` from `off` as one block: zero-padded (AEAD) or 0x01-terminated (a raw message's tail). */
function polyPartial(m: Uint8Array, off: number, n: number, rawTail: boolean): void {
  BLOCK.fill(0);
  for (let i = 0; i < n; i++) BLOCK[i] = m[off + i]!;
  if (rawTail) BLOCK[n] = 1;
  polyBlocks(BLOCK, 0, 1, rawTail ? 0 : 1);
}

/** Ends a Poly1305: h reduced mod 2^130 - 5 for good, plus s mod 2^128, into TAG as 32-bit words. */
function polyFinish(): void {
  let h0 = H[0]!,
    h1 = H[1]!,
    h2 = H[2]!,
    h3 = H[3]!,
    h4 = H[4]!,
    h5 = H[5]!;
  // Two full carry passes leave limbs 0-4 below 2^22 and limb 5 below 2^20 (the second pass can carry out
  // of limb 5 only when all limbs rippled, and then limb 0 is small enough to take the 5): h < 2^130 < 2p.
  for (let pass = 0; pass < 2; pass++) {
    h1 += h0 >>> 22;
    h0 &= 0x3fffff;
    h2 += h1 >>> 22;
    h1 &= 0x3fffff;
    h3 += h2 >>> 22;
    h2 &= 0x3fffff;
    h4 += h3 >>> 22;
    h3 &= 0x3fffff;
    h5 += h4 >>> 22;
    h4 &= 0x3fffff;
    h0 += 5 * (h5 >>> 20);
    h5 &= 0xfffff;
  }
  // g = h + 5 - 2^130: when it does not go negative (a carry out of limb 5), h >= p and g is h mod p.
  // Selected by mask, not by a branch.
  const g0 = h0 + 5;
  const g1 = h1 + (g0 >>> 22);
  const g2 = h2 + (g1 >>> 22);
  const g3 = h3 + (g2 >>> 22);
  const g4 = h4 + (g3 >>> 22);
  const g5 = h5 + (g4 >>> 22);
  const useG = -(g5 >>> 20);
  const keep = ~useG;
  h0 = (h0 & keep) | (g0 & 0x3fffff & useG);
  h1 = (h1 & keep) | (g1 & 0x3fffff & useG);
  h2 = (h2 & keep) | (g2 & 0x3fffff & useG);
  h3 = (h3 & keep) | (g3 & 0x3fffff & useG);
  h4 = (h4 & keep) | (g4 & 0x3fffff & useG);
  h5 = (h5 & keep) | (g5 & 0xfffff & useG);
  // The low 128 bits of h as 32-bit words, plus s, carrying (in doubles: a sum of two words is below 2^33).
  let f = ((h0 | (h1 << 22)) >>> 0) + (TAG[0]! >>> 0);
  TAG[0] = f;
  f = (((h1 >>> 10) | (h2 << 12)) >>> 0) + (TAG[1]! >>> 0) + floor(f / TWO32);
  TAG[1] = f;
  f = (((h2 >>> 20) | (h3 << 2) | (h4 << 24)) >>> 0) + (TAG[2]! >>> 0) + floor(f / TWO32);
  TAG[2] = f;
  f = (((h4 >>> 8) | (h5 << 14)) >>> 0) + (TAG[3]! >>> 0) + floor(f / TWO32);
  TAG[3] = f;
}

/**
 * Poly1305 of `msg` under the 32-byte one-time key `key` (r | s, §2.5), into a new 16-byte array.
 * @internal
 */
export function poly1305(key: Uint8Array, msg: Uint8Array): Uint8Array {
  if (key.byteLength !== 32) throw new RangeError(`a poly1305 key is 32 bytes (got ${key.byteLength})`);
  for (let i = 0; i < 8; i++) OTK[i] = le32(key, 4 * i);
  polyInit(OTK);
  const full = msg.byteLength >>> 4;
  polyBlocks(msg, 0, full, 1);
  const rest = msg.byteLength & 15;
  if (rest > 0) polyPartial(msg, full << 4, rest, true);
  polyFinish();
  const out = new Uint8Array(16);
  writeTag(out, 0);
  return out;
}

/** The tag of aad | pad16 | le64(aad.length) | le64(0) under the one-time key of (key, nonce), into TAG. */
function aeadTag(key: Uint8Array | ChachaPolyKey, nonce: Uint8Array, aad: Uint8Array): void {
  if (nonce.byteLength !== CHACHA_POLY_NONCE_BYTES) throw new RangeError(`a chacha20-poly1305 nonce is ${CHACHA_POLY_NONCE_BYTES} bytes (got ${nonce.byteLength})`);
  let words: Int32Array;
  if (key instanceof ChachaPolyKey) words = key.words;
  else {
    if (key.byteLength !== CHACHA_POLY_KEY_BYTES) throw new RangeError(`a chacha20-poly1305 key is ${CHACHA_POLY_KEY_BYTES} bytes (got ${key.byteLength})`);
    for (let i = 0; i < 8; i++) KEY[i] = le32(key, 4 * i);
    words = KEY;
  }
  chachaBlock(words, 0, nonce, OTK);
  polyInit(OTK);
  const n = aad.byteLength;
  const full = n >>> 4;
  polyBlocks(aad, 0, full, 1);
  const rest = n & 15;
  if (rest > 0) polyPartial(aad, full << 4, rest, false);
  // The lengths block: le64(aad bytes), then le64(0) for the empty ciphertext.
  BLOCK.fill(0);
  const lo = n >>> 0;
  const hi = Math.floor(n / 0x100000000);
  BLOCK[0] = lo;
  BLOCK[1] = lo >>> 8;
  BLOCK[2] = lo >>> 16;
  BLOCK[3] = lo >>> 24;
  BLOCK[4] = hi;
  BLOCK[5] = hi >>> 8;
  BLOCK[6] = hi >>> 16;
  BLOCK[7] = hi >>> 24;
  polyBlocks(BLOCK, 0, 1, 1);
  polyFinish();
}

function writeTag(out: Uint8Array, off: number): void {
  for (let i = 0; i < 4; i++) {
    const w = TAG[i]!;
    out[off + 4 * i] = w;
    out[off + 4 * i + 1] = w >>> 8;
    out[off + 4 * i + 2] = w >>> 16;
    out[off + 4 * i + 3] = w >>> 24;
  }
}

function le32(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
}
