/**
 * Kubernetes resource quantities (`500m`, `1.5`, `256Mi`, `1e3`, `2G`) as plain numbers, for capacity math.
 * CPU is kept in millicores and memory in bytes, both rounded up like the scheduler does.
 * @module
 */
/** What each suffix multiplies by: decimal (k, M, G, …) and binary (Ki, Mi, Gi, …). */
const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/;

export class QuantityError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
  ) {
    super(`${field}: '${value}' is not a Kubernetes quantity (e.g. 500m, 2, 1.5Gi)`);
    this.name = 'QuantityError';
  }
}

/** The value of a quantity in base units (cores, bytes, pods). */
export function parseQuantity(text: string | number, field = 'quantity'): number {
  if (typeof text === 'number') return text;
  const m = QUANTITY.exec(text.trim());
  if (m === null) throw new QuantityError(field, text);
  const n = Number(m[1]);
  if (m[2] !== undefined) return n * 10 ** Number(m[2].slice(1));
  return n * SUFFIX[m[3] ?? '']!;
}

export const cpuMillis = (q: string | number | undefined, field = 'cpu'): number => (q === undefined ? 0 : Math.ceil(Math.round(parseQuantity(q, field) * 1e6) / 1e3));
export const bytes = (q: string | number | undefined, field = 'memory'): number => (q === undefined ? 0 : Math.ceil(parseQuantity(q, field)));

/** 1500 → "1500m", 2000 → "2"; 1610612736 → "1536Mi". For messages and pod specs. */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}
export function formatBytes(b: number): string {
  for (const [suffix, f] of [
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const)
    if (b >= f && b % f === 0) return `${b / f}${suffix}`;
  return String(b);
}
