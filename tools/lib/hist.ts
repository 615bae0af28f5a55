/**
 * The log2 histogram the classic BCC and libbpf-tools tools print: one row per power-of-two bucket from the
 * first to the last non-empty one, with a bar of stars scaled to the largest count.
 *
 * @module
 */

const BAR_WIDTH = 40;

/**
 * Lines of a histogram of `counts`, where `counts[i]` holds the values `v` with `floor(log2(v)) == i`
 * (bucket 0 also holds 0): printed as `2^i -> 2^(i+1)-1`. `unit` heads the value column (`usecs`,
 * `msecs`). Returns no lines when every count is zero.
 */
export function log2Histogram(counts: ArrayLike<number>, unit: string): string[] {
  let last = -1;
  let max = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    last = i;
    if (counts[i] > max) max = counts[i];
  }
  if (last < 0) return [];
  // The classic tools start the table at bucket 0 so the low end of the scale is always visible.
  const lines = [`${unit.padStart(20)}${''.padEnd(14)} : count    distribution`];
  for (let i = 0; i <= last; i++) {
    const low = i === 0 ? 0 : 2 ** i;
    const high = 2 ** (i + 1) - 1;
    const stars = Math.floor((counts[i] * BAR_WIDTH) / max);
    lines.push(
      `${String(low).padStart(20)} -> ${String(high).padEnd(10)} : ${String(counts[i]).padEnd(8)} |${'*'.repeat(stars).padEnd(BAR_WIDTH)}|`,
    );
  }
  return lines;
}
