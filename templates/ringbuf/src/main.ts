/**
 * Prints every exec() on the machine, with typed records read from a BPF ring buffer.
 *
 *   npm start -- [SECONDS]      (default: until Ctrl-C)
 */
import { BpfError } from 'bpf-skel/runtime';
import { ExecsnoopSkel, type event } from './execsnoop.skel.js';

const seconds = Number(process.argv[2] ?? 0);

function line(e: event): string {
  const time = new Date().toTimeString().slice(0, 8);
  return `${time} ${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.uid).padStart(5)} ${e.comm.padEnd(16)} ${e.filename}`;
}

async function main(): Promise<void> {
  using skel = ExecsnoopSkel.open();
  skel.load();
  skel.attach();

  const events = skel.maps.events;
  // Closing the ring buffer ends the for-await loop below.
  const stop = () => events.close();
  process.once('SIGINT', stop);
  const timer = seconds > 0 ? setTimeout(stop, seconds * 1000) : undefined;

  console.log(
    `${'TIME'.padEnd(8)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'UID'.padStart(5)} ${'COMM'.padEnd(16)} FILE`,
  );
  let count = 0;
  for await (const e of events) {
    console.log(line(e));
    count++;
  }
  clearTimeout(timer);
  process.off('SIGINT', stop);
  console.log(`${count} execs, ${skel.bss.dropped} dropped`);
}

main().catch((err: unknown) => {
  console.error(err instanceof BpfError ? err.message : err);
  process.exitCode = 1;
});
