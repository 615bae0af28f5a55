/**
 * A dependency-free SVG line chart with logarithmic axes, for the generator scaling figure.
 *
 * @module
 */

/** One line of the chart. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

/** Options of {@link lineChartSvg}. */
export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly subtitle?: string;
}

const W = 720;
const H = 440;
const PAD = { left: 80, right: 200, top: 60, bottom: 60 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Powers of ten covering [lo, hi]. */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function tickLabel(v: number): string {
  return v >= 1 ? v.toLocaleString('en-US') : String(v);
}

/** Renders `series` on log-log axes as a standalone SVG document. */
export function lineChartSvg(series: readonly Series[], opts: ChartOptions): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0);
  const xt = decades(Math.min(...xs), Math.max(...xs));
  const yt = decades(Math.min(...ys), Math.max(...ys));
  const [x0, x1] = [Math.log10(xt[0]), Math.log10(xt[xt.length - 1])];
  const [y0, y1] = [Math.log10(yt[0]), Math.log10(yt[yt.length - 1])];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const px = (x: number): number => PAD.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * plotW;
  const py = (y: number): number => PAD.top + plotH - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * plotH;
  const n = (v: number): string => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(opts.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${PAD.left}" y="24" font-size="16" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  if (opts.subtitle !== undefined)
    out.push(`<text x="${PAD.left}" y="42" fill="#555">${esc(opts.subtitle)}</text>`);
  for (const t of xt) {
    out.push(
      `<line x1="${n(px(t))}" y1="${PAD.top}" x2="${n(px(t))}" y2="${PAD.top + plotH}" stroke="#ddd"/>`,
      `<text x="${n(px(t))}" y="${PAD.top + plotH + 18}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  for (const t of yt) {
    out.push(
      `<line x1="${PAD.left}" y1="${n(py(t))}" x2="${PAD.left + plotW}" y2="${n(py(t))}" stroke="#ddd"/>`,
      `<text x="${PAD.left - 8}" y="${n(py(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${H - 16}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(20 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p.y > 0);
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${n(px(p.x))},${n(py(p.y))}`).join(' ')}"/>`,
    );
    for (const p of pts)
      out.push(`<circle cx="${n(px(p.x))}" cy="${n(py(p.y))}" r="3.5" fill="${s.color}"/>`);
    const ly = PAD.top + 10 + i * 20;
    const lx = PAD.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
