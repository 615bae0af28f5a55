/**
 * minimal: counts this process's write() calls with a tracepoint, while it prints a few lines.
 *
 *   npx tsx examples/minimal/main.ts [LINES]
 *
 * The target pid goes into `.rodata` before load; the counters are read from `.bss` after, straight from
 * the map's memory.
 */
import { writeSync } from 'node:fs';
import { BpfError } from 'bpf-skel/runtime';
import { MinimalSkel } from './minimal.skel.js';

const lines = Number(process.argv[2] ?? 5);

function main(): void {
  if (!Number.isInteger(lines) || lines < 1)
    throw new RangeError(`LINES must be a positive integer, got ${process.argv[2]}`);
  using skel = MinimalSkel.open();
  skel.rodata.target_pid = process.pid;
  skel.load();
  skel.attach();

  // writeSync: each line is one write() on this thread now, not whenever the stream gets to it.
  for (let i = 1; i <= lines; i++) writeSync(1, `line ${i} of ${lines} from pid ${process.pid}\n`);

  const { writes, bytes_requested } = skel.bss;
  console.log(`write() calls seen by the kernel: ${writes} (${bytes_requested} bytes)`);
}

try {
  main();
} catch (err) {
  console.error(err instanceof BpfError ? `minimal: ${err.message}` : err);
  process.exitCode = 1;
}
