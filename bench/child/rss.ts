/**
 * Memory benchmark child, run with plain `node` from bench/out/dist: prints VmRSS of this process at start
 * (Node alone) and with the given compiled skeleton module opened and loaded, as JSON.
 *
 *   node bench/out/dist/bench/child/rss.js SKELETON.js CLASS
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Skeleton {
  destroy(): void;
}

function vmRssKb(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error('no VmRSS in /proc/self/status');
  return Number(m[1]);
}

const [file, className] = process.argv.slice(2);
if (file === undefined || className === undefined) throw new Error('usage: rss.js SKELETON.js CLASS');
const before = vmRssKb();
const mod = (await import(pathToFileURL(file).href)) as Record<string, { openAndLoad(): Skeleton }>;
const skel = mod[className].openAndLoad();
const loaded = vmRssKb();
process.stdout.write(
  `${JSON.stringify({ bench: 'rss', impl: 'bpf-skel', before_kb: before, loaded_kb: loaded })}\n`,
);
skel.destroy();
