/**
 * Small hand-written SVG charts for the evaluation report: line or point series in one or more panels,
 * with axes, ticks, axis labels and a legend. No dependencies; the output is plain, diffable text.
 * @module
 */
/** One named line or set of points of a panel, in data coordinates. */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** 'line' (default) joins the points; 'points' draws markers only. */
  style?: 'line' | 'points';
}

export interface Panel {
  title: string;
  series: readonly Series[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  panels: readonly Panel[];
  /** 'log2' places x at log2(x) (granularities 1, 2, 4 …); 'linear' otherwise. */
  xScale: 'log2' | 'linear';
  /** Tick values on x (default: the distinct x values, or 5 nice ticks for linear). */
  xTicks?: readonly number[];
  yFormat?: (v: number) => string;
  panelWidth?: number;
  panelHeight?: number;
  /** One y range for every panel (to compare panels by eye); default: each panel fits its own data. */
  sharedY?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmtNum(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  if (a >= 10) return `${+v.toFixed(0)}`;
  if (a >= 1) return `${+v.toFixed(1)}`;
  return `${+v.toPrecision(2)}`;
}

/** Ticks from 0 to a round maximum ≥ max (1, 2, 2.5 or 5 × 10^k steps). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = 0; t < max + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  if (ticks[ticks.length - 1]! < max) ticks.push(+(ticks[ticks.length - 1]! + step).toPrecision(12));
  return ticks;
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = 3.5;
  switch (kind) {
    case 'circle':
      return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${(x - r).toFixed(1)}" y="${(y - r).toFixed(1)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case 'triangle':
      return `<path d="M${x.toFixed(1)},${(y - r - 1).toFixed(1)} l${r + 1},${2 * r + 1} h${-2 * r - 2} z" fill="${color}"/>`;
    case 'diamond':
      return `<path d="M${x.toFixed(1)},${(y - r - 1).toFixed(1)} l${r + 1},${r + 1} l${-r - 1},${r + 1} l${-r - 1},${-r - 1} z" fill="${color}"/>`;
  }
}

export function chart(spec: ChartSpec): string {
  const W = spec.panelWidth ?? 360;
  const H = spec.panelHeight ?? 250;
  const m = { left: 62, right: 14, top: 50, bottom: 46 };
  const names = [...new Set(spec.panels.flatMap((p) => p.series.map((s) => s.name)))];
  const legendRows = Math.ceil(names.length / 4);
  const top = 34 + legendRows * 18;
  const width = spec.panels.length * (W + m.left + m.right);
  const height = top + m.top + H + m.bottom - 30;
  const yFmt = spec.yFormat ?? fmtNum;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  // Legend, shared by all panels: the same series name has the same color and marker everywhere.
  const pointsOnly = new Set(spec.panels.flatMap((p) => p.series.filter((s) => s.style === 'points').map((s) => s.name)));
  names.forEach((name, i) => {
    const x = 20 + (i % 4) * Math.max(160, width / 4);
    const y = 40 + Math.floor(i / 4) * 18;
    const color = PALETTE[i % PALETTE.length]!;
    if (!pointsOnly.has(name)) out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(marker(MARKERS[i % MARKERS.length]!, x + 11, y - 4, color));
    out.push(`<text x="${x + 28}" y="${y}">${esc(name)}</text>`);
  });

  spec.panels.forEach((panel, pi) => {
    const ox = pi * (W + m.left + m.right) + m.left;
    const oy = top + 20;
    const xs = panel.series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = panel.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
    const tx = (v: number): number => (spec.xScale === 'log2' ? Math.log2(Math.max(v, 1e-9)) : v);
    const xTicks = spec.xTicks ?? (spec.xScale === 'log2' ? [...new Set(xs)].sort((a, b) => a - b) : niceTicks(Math.max(...xs, 1)));
    const x0 = Math.min(...xTicks.map(tx), ...xs.map(tx));
    const x1 = Math.max(...xTicks.map(tx), ...xs.map(tx));
    const allYs = spec.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q[1]))).filter(Number.isFinite);
    const yTicks = niceTicks(Math.max(...(spec.sharedY ? allYs : ys), 0));
    const yMax = yTicks[yTicks.length - 1]!;
    const px = (v: number): number => ox + (x1 === x0 ? W / 2 : ((tx(v) - x0) / (x1 - x0)) * (W - 16) + 8);
    const py = (v: number): number => oy + H - (v / yMax) * H;

    out.push(`<text x="${ox + W / 2}" y="${oy - 8}" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${W}" height="${H}" fill="none" stroke="#444"/>`);
    for (const t of yTicks) {
      const y = py(t);
      out.push(`<line x1="${ox}" y1="${y.toFixed(1)}" x2="${ox + W}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
      out.push(`<line x1="${ox - 4}" y1="${y.toFixed(1)}" x2="${ox}" y2="${y.toFixed(1)}" stroke="#444"/>`);
      out.push(`<text x="${ox - 7}" y="${(y + 4).toFixed(1)}" text-anchor="end">${esc(yFmt(t))}</text>`);
    }
    for (const t of xTicks) {
      const x = px(t);
      out.push(`<line x1="${x.toFixed(1)}" y1="${oy + H}" x2="${x.toFixed(1)}" y2="${oy + H + 4}" stroke="#444"/>`);
      out.push(`<text x="${x.toFixed(1)}" y="${oy + H + 17}" text-anchor="middle">${esc(fmtNum(t))}</text>`);
    }
    out.push(`<text x="${ox + W / 2}" y="${oy + H + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
    out.push(`<text transform="translate(${ox - 48},${oy + H / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);

    for (const s of panel.series) {
      const i = names.indexOf(s.name);
      const color = PALETTE[i % PALETTE.length]!;
      const pts = s.points.filter((p) => Number.isFinite(p[1]));
      if ((s.style ?? 'line') === 'line' && pts.length > 1) {
        const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
        out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      }
      for (const p of pts) out.push(marker(MARKERS[i % MARKERS.length]!, px(p[0]), py(p[1]), color));
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
