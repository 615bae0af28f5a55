/**
 * bootstrap: prints every process exec and exit on the machine, with typed records from a ring buffer.
 *
 *   npx tsx examples/bootstrap/main.ts [SECONDS] [MIN_DURATION_MS]
 *
 * Runs for SECONDS (default: until Ctrl-C); with MIN_DURATION_MS, only processes that lived at least that
 * long are reported (set in .rodata before load, so the verifier prunes the other path).
 */
import { BpfError } from 'bpf-skel/runtime';
import { BootstrapSkel, type event } from './bootstrap.skel.js';

const seconds = Number(process.argv[2] ?? 0);
const minDurationMs = BigInt(process.argv[3] ?? 0);

function line(e: event): string {
  const time = new Date().toTimeString().slice(0, 8);
  const kind = e.exit_event ? 'EXIT' : 'EXEC';
  const tail = e.exit_event
    ? `[${e.exit_code}]${e.duration_ns > 0n ? ` (${e.duration_ns / 1_000_000n}ms)` : ''}`
    : e.filename;
  return `${time} ${kind.padEnd(5)} ${e.comm.padEnd(16)} ${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${tail}`;
}

async function main(): Promise<void> {
  using skel = BootstrapSkel.open();
  skel.rodata.min_duration_ns = minDurationMs * 1_000_000n;
  skel.load();
  skel.attach();

  const rb = skel.maps.rb;
  const stop = () => rb.close();
  process.once('SIGINT', stop);
  const timer = seconds > 0 ? setTimeout(stop, seconds * 1000) : undefined;
  console.log(
    `${'TIME'.padEnd(8)} ${'EVENT'.padEnd(5)} ${'COMM'.padEnd(16)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} FILENAME/EXIT CODE`,
  );
  let count = 0;
  for await (const e of rb) {
    console.log(line(e));
    count++;
  }
  clearTimeout(timer);
  process.off('SIGINT', stop);
  console.log(
    `${count} events; ${[...skel.maps.exec_start.keys()].length} processes seen starting are still running`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof BpfError ? `bootstrap: ${err.message}` : err);
  process.exitCode = 1;
});
