/**
 * Counts system calls per process for a few seconds and prints the busiest ones. Made for containers: it
 * loads with a BPF token when the BPF FS offers one, and says which token it used.
 *
 *   npm start -- [SECONDS] [BPFFS]
 *
 * Without BPFFS the loader decides as libbpf does: LIBBPF_BPF_TOKEN_PATH if set (an empty value disables
 * tokens), else a token from /sys/fs/bpf if one can be made there, else none (fine as root). With BPFFS, a
 * token from the BPF FS mounted there is mandatory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfError } from 'bpf-skel/runtime';
import { SyscountSkel } from './syscount.skel.js';

const seconds = Number(process.argv[2] ?? 3);
const bpffs = process.argv[3];

async function main(): Promise<void> {
  using skel = SyscountSkel.open(bpffs === undefined ? {} : { bpfTokenPath: bpffs });
  skel.load();
  const token = skel.obj.token;
  console.log(
    token.fd >= 0
      ? `loaded with a BPF token (${token.mode} mode, fd ${token.fd})`
      : `loaded without a BPF token (${token.reason ?? token.mode})`,
  );
  skel.attach();
  await sleep(seconds * 1000);

  const top = [...skel.maps.by_process.entries()].sort((a, b) => Number(b[1].syscalls - a[1].syscalls));
  console.log(`system calls in ${seconds} s, busiest processes first:`);
  for (const [pid, usage] of top.slice(0, 5)) {
    console.log(`${String(pid).padStart(8)} ${usage.comm.padEnd(16)} ${usage.syscalls}`);
  }
  console.log(`${top.length} processes${skel.bss.missed > 0n ? `, ${skel.bss.missed} not counted` : ''}`);
}

main().catch((err: unknown) => {
  // Under a token, a refused command names the delegate_* option that would allow it.
  console.error(err instanceof BpfError ? err.message : err);
  process.exitCode = 1;
});
