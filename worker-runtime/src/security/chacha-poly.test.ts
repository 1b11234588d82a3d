import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { chachaBlock, ChachaPolyKey, chachaPolyTag, chachaPolyVerify, poly1305, quarterRound } from './chacha-poly.js';

/**
 * The TypeScript chacha20-poly1305 tag against the RFC 8439 test vectors (each stage: quarter round, block,
 * Poly1305 with the §A.3 carry corner cases, one-time key, the §2.8.2 AEAD tag), then against node:crypto
 * itself on random keys, nonces and AADs.
 */
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/[\s:]/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const keyWords = (key: Uint8Array): Int32Array => new ChachaPolyKey(key).words;

/** What the sealed transport would get from node:crypto: the tag of no plaintext, `aad` authenticated. */
function nativeTag(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: 0 });
  c.final();
  return new Uint8Array(c.getAuthTag());
}

/** The texts of A.2/A.3 (#2, #3), A.3 (#4) and §2.8.2, as the RFC prints them. */
const IETF =
  'Any submission to the IETF intended by the Contributor for publication as all or part of an IETF Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an "IETF Contribution". Such statements include oral statements in IETF sessions, as well as written and electronic communications made at any time or place, which are addressed to';
const JABBERWOCKY = "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.";
const SUNSCREEN = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

describe('ChaCha20 (RFC 8439 §2.1–2.3)', () => {
  test('§2.1.1 quarter round', () => {
    const x = new Int32Array([0x11111111, 0x01020304, 0x9b8d6f43, 0x01234567]);
    quarterRound(x, 0, 1, 2, 3);
    expect([...new Uint32Array(x.buffer)]).toEqual([0xea2a92f4, 0xcb1cf8ce, 0x4581472e, 0x5881c4bb]);
  });

  test('§2.2.1 quarter round on the ChaCha state (words 2, 7, 8, 13)', () => {
    const x = new Int32Array(
      new Uint32Array([
        0x879531e0, 0xc5ecf37d, 0x516461b1, 0xc9a62f8a, 0x44c20ef3, 0x3390af7f, 0xd9fc690b, 0x2a5f714c, 0x53372767, 0xb00a5631, 0x974c541a, 0x359e9963, 0x5c971061, 0x3d631689,
        0x2098d9d6, 0x91dbd320,
      ]).buffer,
    );
    quarterRound(x, 2, 7, 8, 13);
    expect([...new Uint32Array(x.buffer)]).toEqual([
      0x879531e0, 0xc5ecf37d, 0xbdb886dc, 0xc9a62f8a, 0x44c20ef3, 0x3390af7f, 0xd9fc690b, 0xcfacafd2, 0xe46bea80, 0xb00a5631, 0x974c541a, 0x359e9963, 0x5c971061, 0xccc07c79,
      0x2098d9d6, 0x91dbd320,
    ]);
  });

  test('§2.3.2 block function', () => {
    const out = new Int32Array(16);
    chachaBlock(keyWords(hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f')), 1, hex('000000090000004a00000000'), out);
    expect([...new Uint32Array(out.buffer)]).toEqual([
      0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3, 0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de,
      0xe883d0cb, 0x4e3c50a2,
    ]);
    // Serialized (little-endian words), as §2.3.2 prints it.
    expect(toHex(new Uint8Array(out.buffer))).toBe(
      '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e',
    );
  });

  test('the block function is the keystream of node:crypto chacha20 (iv = le32 counter | nonce)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.nat(), (key, nonce, counter) => {
        const iv = Buffer.alloc(16);
        iv.writeUInt32LE(counter >>> 0, 0);
        iv.set(nonce, 4);
        const c = createCipheriv('chacha20', key, iv);
        const keystream = c.update(Buffer.alloc(64));
        const out = new Int32Array(16);
        chachaBlock(keyWords(key), counter | 0, nonce, out);
        expect(toHex(new Uint8Array(out.buffer))).toBe(keystream.toString('hex'));
      }),
      { numRuns: 200 },
    );
  });
});

describe('Poly1305 (RFC 8439 §2.5, A.3)', () => {
  test('§2.5.2 example', () => {
    const key = hex('85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b');
    expect(toHex(poly1305(key, ascii('Cryptographic Forum Research Group')))).toBe('a8061dc1305136c6c22b8baf0c0127a9');
  });

  // A.3 #1-#4, then #5-#11: the corner cases of partial reduction and carries.
  const zeros32 = '00'.repeat(32);
  test.each([
    ['#1 zero key', zeros32, '00'.repeat(64), '00000000000000000000000000000000'],
    ['#2 r = 0: the tag is s', '00000000000000000000000000000000' + '36e5f6b5c5e06070f0efca96227a863e', toHex(ascii(IETF)), '36e5f6b5c5e06070f0efca96227a863e'],
    ['#3 s = 0', '36e5f6b5c5e06070f0efca96227a863e' + '00000000000000000000000000000000', toHex(ascii(IETF)), 'f3477e7cd95417af89a6b8794c310cf0'],
    ['#4 Jabberwocky', '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0', toHex(ascii(JABBERWOCKY)), '4541669a7eaaee61e708dc7cbcc5eb62'],
    ['#5 partly reduced, not fully reduced', '02' + '00'.repeat(31), 'ff'.repeat(16), '03000000000000000000000000000000'],
    ['#6 h + s overflows 2^128', '02' + '00'.repeat(15) + 'ff'.repeat(16), '02' + '00'.repeat(15), '03000000000000000000000000000000'],
    ['#7 an all-ones limb and a carry from below', '01' + '00'.repeat(31), 'ff'.repeat(16) + 'f0' + 'ff'.repeat(15) + '11' + '00'.repeat(15), '05000000000000000000000000000000'],
    ['#8 h is exactly 2^130 - 5', '01' + '00'.repeat(31), 'ff'.repeat(16) + 'fb' + 'fe'.repeat(15) + '01'.repeat(16), '00000000000000000000000000000000'],
    ['#9 h is exactly 2^130 - 6', '02' + '00'.repeat(31), 'fd' + 'ff'.repeat(15), 'faffffffffffffffffffffffffffffff'],
    [
      '#10 5·H + L reduction, 131-bit intermediate',
      '0100000000000000' + '0400000000000000' + '00'.repeat(16),
      'e33594d7505e43b90000000000000000' + '3394d7505e4379cd0100000000000000' + '00'.repeat(16) + '01' + '00'.repeat(15),
      '14000000000000005500000000000000',
    ],
    [
      '#11 5·H + L reduction, 131-bit final result',
      '0100000000000000' + '0400000000000000' + '00'.repeat(16),
      'e33594d7505e43b90000000000000000' + '3394d7505e4379cd0100000000000000' + '00'.repeat(16),
      '13000000000000000000000000000000',
    ],
  ])('A.3 %s', (_name, key, msg, tag) => {
    expect(toHex(poly1305(hex(key), hex(msg)))).toBe(tag);
  });
});

describe('ChaCha20-Poly1305 one-time key and AEAD tag (RFC 8439 §2.6, §2.8, A.4)', () => {
  const otk = (key: string, nonce: string): string => {
    const out = new Int32Array(16);
    chachaBlock(keyWords(hex(key)), 0, hex(nonce), out);
    return toHex(new Uint8Array(out.buffer, 0, 32));
  };

  test('§2.6.2 key generation', () => {
    expect(otk('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', '000000000001020304050607')).toBe(
      '8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646',
    );
  });

  test.each([
    ['#1', '00'.repeat(32), '00'.repeat(12), '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7'],
    ['#2', '00'.repeat(31) + '01', '00'.repeat(11) + '02', 'ecfa254f845f647473d3cb140da9e87606cb33066c447b87bc2666dde3fbb739'],
    ['#3', '1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0', '00'.repeat(11) + '02', '965e3bc6f9ec7ed9560808f4d229f94b137ff275ca9b3fcbdd59deaad23310ae'],
  ])('A.4 %s', (_name, key, nonce, want) => {
    expect(otk(key, nonce)).toBe(want);
  });

  test('§2.8.2: the AEAD tag is Poly1305 of aad | pad | ciphertext | pad | lengths under the one-time key', () => {
    const key = '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f';
    const nonce = '070000004041424344454647';
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const ciphertext = hex(`
      d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
      3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
      92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
      3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16`);
    expect(ciphertext.byteLength).toBe(ascii(SUNSCREEN).byteLength);
    const oneTime = otk(key, nonce);
    expect(oneTime).toBe('7bac2b252db447af09b67a55a4e955840ae1d6731075d9eb2a9375783ed553ff');
    // §2.8.2's "AEAD Construction for Poly1305": 12 + 4 zero bytes, 114 + 14 zero bytes, le64(12), le64(114).
    const macData = new Uint8Array(16 + 128 + 16);
    macData.set(aad, 0);
    macData.set(ciphertext, 16);
    macData[144] = 12;
    macData[152] = 114;
    expect(toHex(poly1305(hex(oneTime), macData))).toBe('1ae10b594f09e26a7e902ecbd0600691');
    // The same inputs through node:crypto: the ciphertext and tag above are what it computes too.
    const c = createCipheriv('chacha20-poly1305', hex(key), hex(nonce), { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: SUNSCREEN.length });
    expect(toHex(c.update(ascii(SUNSCREEN)))).toBe(toHex(ciphertext));
    c.final();
    expect(c.getAuthTag().toString('hex')).toBe('1ae10b594f09e26a7e902ecbd0600691');
  });

  test('an empty plaintext: the lengths block is le64(aad.length) | le64(0)', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = hex('070000004041424344454647');
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const macData = new Uint8Array(32);
    macData.set(aad, 0);
    macData[16] = 12;
    const want = toHex(poly1305(hex('7bac2b252db447af09b67a55a4e955840ae1d6731075d9eb2a9375783ed553ff'), macData));
    expect(toHex(chachaPolyTag(key, nonce, aad))).toBe(want);
    expect(toHex(nativeTag(key, nonce, aad))).toBe(want);
  });
});

describe('chachaPolyTag / chachaPolyVerify', () => {
  const key = hex('1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0');
  const nonce = hex('000000000102030405060708');
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);

  test.each([0, 1, 15, 16, 17, 31, 32, 33, 72, 4095, 4096])('AAD of %i bytes: the tag node:crypto computes', (n) => {
    const aad = bytes(n);
    const want = nativeTag(key, nonce, aad);
    expect(toHex(chachaPolyTag(key, nonce, aad))).toBe(toHex(want));
    expect(toHex(chachaPolyTag(new ChachaPolyKey(key), nonce, aad))).toBe(toHex(want));
    expect(chachaPolyVerify(key, nonce, aad, want)).toBe(true);
    expect(chachaPolyVerify(new ChachaPolyKey(key), nonce, aad, want)).toBe(true);
  });

  test('key, nonce, AAD and tag may be views into bigger buffers (odd byteOffsets)', () => {
    const big = new Uint8Array(5000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 37 + 11) & 0xff;
    const k = big.subarray(3, 35);
    const n = big.subarray(101, 113);
    const aad = big.subarray(777, 777 + 301);
    const want = nativeTag(k, n, aad);
    expect(toHex(chachaPolyTag(k, n, aad))).toBe(toHex(want));
    const trailer = new Uint8Array(99);
    trailer.set(want, 41);
    expect(chachaPolyVerify(k, n, aad, trailer.subarray(41, 57))).toBe(true);
    expect(chachaPolyVerify(k, n, aad, trailer.subarray(40, 56))).toBe(false);
  });

  test('out at an offset: the tag lands there, nothing else is touched, out is returned', () => {
    const aad = bytes(72);
    const out = new Uint8Array(120).fill(0xaa);
    const view = out.subarray(5, 101);
    expect(chachaPolyTag(key, nonce, aad, view, 80)).toBe(view);
    expect(toHex(out.subarray(85, 101))).toBe(toHex(nativeTag(key, nonce, aad)));
    expect(out.subarray(0, 85).every((b) => b === 0xaa)).toBe(true);
    expect(out.subarray(101).every((b) => b === 0xaa)).toBe(true);
    expect(() => chachaPolyTag(key, nonce, aad, view, 81)).toThrow(/16 bytes at offset 81 of out \(96 bytes\)/);
    expect(() => chachaPolyTag(key, nonce, aad, view, -1)).toThrow(RangeError);
  });

  test('a key or nonce of the wrong size throws; a tag of the wrong size is false', () => {
    expect(() => chachaPolyTag(key.subarray(1), nonce, bytes(3))).toThrow(/key is 32 bytes \(got 31\)/);
    expect(() => new ChachaPolyKey(new Uint8Array(16))).toThrow(/key is 32 bytes \(got 16\)/);
    expect(() => chachaPolyTag(key, new Uint8Array(8), bytes(3))).toThrow(/nonce is 12 bytes \(got 8\)/);
    const tag = chachaPolyTag(key, nonce, bytes(3));
    expect(chachaPolyVerify(key, nonce, bytes(3), tag.subarray(0, 15))).toBe(false);
    expect(chachaPolyVerify(key, nonce, bytes(3), new Uint8Array(17))).toBe(false);
  });

  test('one call does not leak into the next (the scratch state is reset)', () => {
    const a = toHex(chachaPolyTag(key, nonce, bytes(50)));
    chachaPolyTag(
      key.map((b) => b ^ 0xff),
      nonce,
      bytes(4096),
    );
    poly1305(new Uint8Array(32).fill(0xff), bytes(77));
    expect(toHex(chachaPolyTag(key, nonce, bytes(50)))).toBe(a);
  });
});

describe('against node:crypto chacha20-poly1305 (fast-check)', () => {
  const CASES = 10_000;
  /**
   * AAD lengths: mostly small frames, often a 16-byte boundary ±1 (up to 513, then the last ones before
   * 4096), sometimes anything up to 4096.
   */
  const boundary = (k: fc.Arbitrary<number>): fc.Arbitrary<number> => fc.tuple(k, fc.integer({ min: -1, max: 1 })).map(([k, d]) => Math.min(4096, Math.max(0, 16 * k + d)));
  const aadLength = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 200 }), weight: 6 },
    { arbitrary: boundary(fc.integer({ min: 0, max: 32 })), weight: 3 },
    { arbitrary: boundary(fc.integer({ min: 250, max: 256 })), weight: 1 },
    { arbitrary: fc.integer({ min: 0, max: 4096 }), weight: 1 },
  );
  /**
   * n bytes at an offset into a bigger buffer, as frames and keys are in the transport: random from a seed
   * (fast-check drawing kilobytes byte by byte would take most of the run), or all 0xff to push every
   * carry of the Poly1305 limbs, or all zeros.
   */
  const view = (length: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> =>
    fc
      .record({ n: length, at: fc.integer({ min: 0, max: 7 }), seed: fc.integer({ min: 1, max: 0x7fffffff }), fill: fc.constantFrom('random', 'random', 'random', 'ff', '00') })
      .map(({ n, at, seed, fill }) => {
        const b = new Uint8Array(at + n);
        let x = seed;
        for (let i = 0; i < b.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          b[i] = fill === 'random' ? x : fill === 'ff' ? 0xff : 0;
        }
        return b.subarray(at);
      });
  const flip = (b: Uint8Array, bit: number): Uint8Array => {
    const c = new Uint8Array(b);
    c[(bit >>> 3) % c.length]! ^= 1 << (bit & 7);
    return c;
  };

  test(`the tag equals node's, verifies, and any flipped bit of tag, AAD, nonce or key fails [${CASES} cases]`, () => {
    fc.assert(
      // A boolean per case, not expect(): Jest's matchers would cost more than the tags.
      fc.property(view(fc.constant(32)), view(fc.constant(12)), view(aadLength), fc.nat(), (key, nonce, aad, bit) => {
        const want = nativeTag(key, nonce, aad);
        const tag = chachaPolyTag(key, nonce, aad, new Uint8Array(24), 8).subarray(8);
        return (
          Buffer.compare(tag, want) === 0 &&
          chachaPolyVerify(key, nonce, aad, tag) &&
          !chachaPolyVerify(key, nonce, aad, flip(tag, bit)) &&
          !chachaPolyVerify(flip(key, bit), nonce, aad, tag) &&
          !chachaPolyVerify(key, flip(nonce, bit), aad, tag) &&
          (aad.length === 0 || !chachaPolyVerify(key, nonce, flip(aad, bit), tag))
        );
      }),
      { numRuns: CASES },
    );
  });

  test('a ChachaPolyKey gives the same tags as its bytes [1000 cases]', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), view(aadLength), (key, nonce, aad) => {
        return Buffer.compare(chachaPolyTag(new ChachaPolyKey(key), nonce, aad), chachaPolyTag(key, nonce, aad)) === 0;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('poly1305 against a BigInt reference (fast-check)', () => {
  const P = (1n << 130n) - 5n;
  const le = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
  /** RFC 8439 §2.5.1, literally. */
  const reference = (key: Uint8Array, msg: Uint8Array): string => {
    const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
    const s = le(key.subarray(16, 32));
    let acc = 0n;
    for (let i = 0; i < msg.length; i += 16) {
      const block = msg.subarray(i, i + 16);
      acc = ((acc + le(block) + (1n << BigInt(8 * block.length))) * r) % P;
    }
    const tag = (acc + s) & ((1n << 128n) - 1n);
    return tag.toString(16).padStart(32, '0').match(/../g)!.reverse().join('');
  };
  /** Bytes that are mostly extreme (0xff pushes every limb and carry to its bound, 0x00 the other end). */
  const extreme = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
    fc.oneof(
      fc.uint8Array({ minLength: min, maxLength: max }),
      fc.integer({ min, max }).map((n) => new Uint8Array(n).fill(0xff)),
      fc.uint8Array({ minLength: min, maxLength: max }).map((b) => b.map((x) => (x & 1 ? 0xff : 0))),
    );

  test('the tag is the reference tag, for keys and messages at the limbs’ bounds [3000 cases]', () => {
    fc.assert(
      fc.property(extreme(32, 32), extreme(0, 200), (key, msg) => toHex(poly1305(key, msg)) === reference(key, msg)),
      { numRuns: 3000 },
    );
  });
});
