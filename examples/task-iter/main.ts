/**
 * task-iter: lists the machine's processes with a BPF task iterator, like a tiny `ps`.
 *
 *   npx tsx examples/task-iter/main.ts [LINES] [--threads]
 *
 * Prints the first LINES rows (default 10), this process's own row, and the totals the program kept in
 * `.bss`; exits with status 1 if its own pid is missing from the listing.
 */
import { attachIter, BpfError } from 'bpf-skel/runtime';
import { TaskIterSkel } from './task-iter.skel.js';

const args = process.argv.slice(2);
const showThreads = args.includes('--threads');
const lines = Number(args.find((a) => !a.startsWith('--')) ?? 10);

function main(): void {
  if (!Number.isInteger(lines) || lines < 1) throw new RangeError(`LINES must be a positive integer`);
  using skel = TaskIterSkel.open();
  skel.rodata.show_threads = showThreads;
  skel.load();
  // An iterator link; every read pass (readText) runs the program over all tasks anew.
  using iter = attachIter(skel.progs.list_tasks);
  const rows = iter.readText().trimEnd().split('\n');
  const [header, ...body] = rows;
  const summary = body.pop();
  console.log(header.trimEnd());
  for (const row of body.slice(0, lines)) console.log(row.trimEnd());
  if (body.length > lines) console.log(`... ${body.length - lines} more`);

  const own = body.find((row) => row.trim().split(/\s+/)[0] === String(process.pid));
  console.log(own === undefined ? `own pid ${process.pid} NOT listed` : `own row: ${own.trim()}`);
  console.log(`iterator said: ${summary}`);
  console.log(`.bss after the pass: processes=${skel.bss.processes} threads=${skel.bss.threads}`);
  if (own === undefined) process.exitCode = 1;
}

try {
  main();
} catch (err) {
  console.error(err instanceof BpfError ? `task-iter: ${err.message}` : err);
  process.exitCode = 1;
}
