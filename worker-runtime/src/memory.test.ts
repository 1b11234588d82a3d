import { memoryHere } from './memory.js';

describe('memoryHere', () => {
  it('is the container’s limit, else the machine’s', () => {
    const GiB = 1024 ** 3;
    expect(memoryHere(0.5 * GiB, 24 * GiB)).toBe(0.5 * GiB);
    expect(memoryHere(2 ** 64, 1 * GiB)).toBe(1 * GiB);
    expect(memoryHere(0, 24 * GiB)).toBe(24 * GiB);
    expect(memoryHere(32 * GiB, 24 * GiB)).toBe(24 * GiB);
  });
});
