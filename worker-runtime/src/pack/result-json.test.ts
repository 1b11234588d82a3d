import { toJsonSafe } from './result-json.js';

describe('toJsonSafe: a worker’s result as it travels', () => {
  it('keeps what JSON.stringify alone would empty: Maps, Sets, Errors; typed arrays and bigints as before', () => {
    const result = {
      m: new Map([['a', 1]]),
      byNumber: new Map([[1, 'x']]),
      s: new Set([1, 2]),
      e: new TypeError('bad'),
      f: new Float64Array([0.5]),
      big: 10n,
      nested: [{ deeper: new Set(['k']) }],
    };
    expect(toJsonSafe(result)).toEqual({
      m: { a: 1 },
      byNumber: [[1, 'x']],
      s: [1, 2],
      e: { name: 'TypeError', message: 'bad' },
      f: [0.5],
      big: '10',
      nested: [{ deeper: ['k'] }],
    });
    expect(toJsonSafe(undefined)).toBeNull();
  });

  it('names a result that cannot be JSON', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => toJsonSafe(cycle)).toThrow(/the worker's result is not JSON-serializable/);
  });
});
