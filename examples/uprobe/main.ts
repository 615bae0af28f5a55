/**
 * uprobe: times a function of a native program with a uprobe and a uretprobe and prints a latency
 * histogram. Builds the program (target.c, next to this file) with gcc into a temporary directory,
 * attaches to its function `work`, runs it, and prints what the programs gathered.
 *
 *   npx tsx examples/uprobe/main.ts [CALLS]
 *
 * Needs root, gcc and a kernel with uprobes (CONFIG_UPROBE_EVENTS).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachUprobe, BpfError } from 'bpf-skel/runtime';
import { UprobeSkel } from './uprobe.skel.js';

const calls = Number(process.argv[2] ?? 200);
const FUNC = 'work';

function buildTarget(dir: string): string {
  const source = fileURLToPath(new URL('./target.c', import.meta.url));
  const binary = join(dir, 'target');
  execFileSync('gcc', ['-O2', '-o', binary, source], { stdio: 'inherit' });
  return binary;
}

/** `2^i ns` as a short human unit. */
function bound(slot: number): string {
  const ns = 2 ** slot;
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${Math.round(ns / 1e3)}us`;
  if (ns < 1e9) return `${Math.round(ns / 1e6)}ms`;
  return `${Math.round(ns / 1e9)}s`;
}

function printHistogram(counts: readonly bigint[]): void {
  const used = counts.flatMap((c, i) => (c > 0n ? [i] : []));
  if (used.length === 0) return;
  let max = 0n;
  for (const c of counts) if (c > max) max = c;
  console.log(`${'LATENCY'.padStart(17)} : COUNT`);
  for (let i = used[0]; i <= used[used.length - 1]; i++) {
    const bar = '*'.repeat(Number((counts[i] * 40n) / max));
    console.log(
      `${`${bound(i)} -> ${bound(i + 1)}`.padStart(17)} : ${String(counts[i]).padStart(5)} |${bar.padEnd(40)}|`,
    );
  }
}

function main(): void {
  if (!Number.isInteger(calls) || calls < 1) throw new RangeError('CALLS must be a positive integer');
  const dir = mkdtempSync(join(tmpdir(), 'bpf-skel-uprobe-'));
  try {
    const binary = buildTarget(dir);
    using skel = UprobeSkel.open();
    skel.load();
    // The sections are plain SEC("uprobe")/SEC("uretprobe"): the binary and function are chosen here.
    using entry = attachUprobe(skel.progs.func_entry, { binary, func: FUNC });
    using exit = attachUprobe(skel.progs.func_return, { binary, func: FUNC, retprobe: true });
    console.log(`attached ${entry.target} and ${exit.target.split(' ')[0]}`);
    process.stdout.write(execFileSync(binary, [String(calls)]));

    const counts = [...skel.maps.hist.values()];
    printHistogram(counts);
    const seen = skel.bss.calls;
    const mean = seen > 0n ? skel.bss.total_ns / seen : 0n;
    console.log(`${FUNC}() returned ${seen} times while attached; mean ${mean} ns`);
    if (seen !== BigInt(calls)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(err instanceof BpfError ? `uprobe: ${err.message}` : err);
  process.exitCode = 1;
}
