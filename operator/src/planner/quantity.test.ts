import { bytes, cpuMillis, formatBytes, formatCpu, parseQuantity } from './quantity.js';

describe('quantities', () => {
  it.each([
    ['500m', 500],
    ['1', 1000],
    ['1.5', 1500],
    ['0.1', 100],
    ['2k', 2_000_000],
    ['1e3', 1_000_000],
    ['250u', 1],
  ])('cpu %s = %d millicores (rounded up)', (q, m) => expect(cpuMillis(q)).toBe(m));

  it.each([
    ['256Mi', 256 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['128974848', 128974848],
    ['129e6', 129e6],
    ['1.5Gi', 1.5 * 2 ** 30],
  ])('memory %s = %d bytes', (q, b) => expect(bytes(q)).toBe(b));

  it('rejects what is not a quantity, naming the field', () => {
    expect(() => parseQuantity('1 core', 'spec.resources.cpu')).toThrow("spec.resources.cpu: '1 core' is not a Kubernetes quantity");
    expect(() => parseQuantity('5Mb')).toThrow('not a Kubernetes quantity');
  });

  it('formats for messages and pod specs', () => {
    expect([formatCpu(48_000), formatCpu(1500)]).toEqual(['48', '1500m']);
    expect([formatBytes(12 * 2 ** 30), formatBytes(256 * 2 ** 20), formatBytes(1000)]).toEqual(['12Gi', '256Mi', '1000']);
  });
});
