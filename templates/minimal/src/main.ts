/**
 * Counts the system calls this process makes, with an eBPF program on the sys_enter tracepoint.
 *
 *   npm start -- [SECONDS]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfError } from 'bpf-skel/runtime';
import { MinimalSkel } from './minimal.skel.js';

const seconds = Number(process.argv[2] ?? 3);

async function main(): Promise<void> {
  using skel = MinimalSkel.open();
  skel.rodata.target_pid = process.pid; // read-only in the kernel: set it before load()
  skel.load();
  skel.attach();
  console.log(`counting the system calls of process ${process.pid} for ${seconds} s`);
  for (let s = 1; s <= seconds; s++) {
    await sleep(1000);
    console.log(`${s} s: ${skel.bss.syscalls} system calls, the last one number ${skel.bss.last_syscall}`);
  }
}

main().catch((err: unknown) => {
  // BpfError and its subclasses (VerifierError, ...) say what failed in one line; anything else is a bug.
  console.error(err instanceof BpfError ? err.message : err);
  process.exitCode = 1;
});
