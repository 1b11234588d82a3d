import { describeError, serializeError } from './errors.js';

describe('serializeError: what a worker threw, as it was', () => {
  it('names a thrown value that is no Error, cycles and BigInts included, not a TypeError of JSON', () => {
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    expect(describeError(cycle)).toMatch(/^Error: .*name: 'loop'.*self: \[Circular \*1\]/);
    expect(describeError(10n)).toBe('Error: 10n');
    expect(describeError({ code: 7 })).toBe('Error: {"code":7}');
    expect(describeError('plain text')).toBe('Error: plain text');
    expect(serializeError(undefined).message).toBe('undefined');
  });
});
