/**
 * cgroup-skb: per-cgroup traffic accounting. Makes a cgroup, attaches cgroup_skb ingress and egress
 * programs to it, runs a child in it that talks TCP to a small server this process runs (outside the
 * cgroup), and prints packets and bytes per cgroup and direction from the typed hash map.
 *
 *   npx tsx examples/cgroup-skb/main.ts [REQUESTS]
 *
 * Needs root, a cgroup v2 mount (found in /proc/self/mountinfo) and bash. The cgroup is removed at the end,
 * also when something fails.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { attachCgroup, BpfError } from 'bpf-skel/runtime';
import { CgroupSkbSkel, direction } from './cgroup-skb.skel.js';

const requests = Number(process.argv[2] ?? 3);

/** The mount point of the cgroup v2 hierarchy (on a hybrid layout, e.g. /sys/fs/cgroup/unified). */
function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // ... mount-point ... - fstype source options
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] === 'cgroup2') return before.split(' ')[4];
  }
  throw new Error('no cgroup2 filesystem is mounted');
}

/** A TCP server that answers every line with `pong <line>`. */
async function startServer(): Promise<Server> {
  const server = createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      for (const line of text.split('\n').filter(Boolean)) socket.write(`pong ${line}\n`);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * bash moves itself into the cgroup, then connects with /dev/tcp and sends REQUESTS lines, reading each
 * answer. Asynchronous, so that this process's server can answer meanwhile.
 */
function runChildIn(cgroup: string, port: number): Promise<string> {
  const script = `echo $$ > "$CG/cgroup.procs" || exit 1
    exec 3<>/dev/tcp/127.0.0.1/${port} || exit 1
    for i in $(seq ${requests}); do echo "ping $i" >&3; read -r answer <&3; echo "$answer"; done
    exec 3>&-`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { ...process.env, CG: cgroup } });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.pipe(process.stderr);
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0 ? resolve(out) : reject(new Error(`child in the cgroup failed with status ${status}`)),
    );
  });
}

async function main(): Promise<void> {
  if (!Number.isInteger(requests) || requests < 1)
    throw new RangeError('REQUESTS must be a positive integer');
  const cgroup = join(cgroup2Root(), `bpf-skel-example-${process.pid}`);
  using skel = CgroupSkbSkel.open();
  skel.load();
  const server = await startServer();
  let made = false;
  try {
    mkdirSync(cgroup);
    made = true;
    using ingress = attachCgroup(skel.progs.count_ingress, cgroup);
    using egress = attachCgroup(skel.progs.count_egress, cgroup);
    console.log(`attached: ${ingress.type} links, ${ingress.target} and ${egress.target.split(' on ')[0]}`);
    const { port } = server.address() as AddressInfo;
    const answers = await runChildIn(cgroup, port);
    console.log(`child in the cgroup got: ${answers.trim().split('\n').join(' | ')}`);

    const id = statSync(cgroup, { bigint: true }).ino;
    console.log(
      `${'CGROUP ID'.padEnd(10)} ${'DIRECTION'.padEnd(9)} ${'PACKETS'.padStart(7)} ${'BYTES'.padStart(7)}`,
    );
    for (const [key, value] of skel.maps.traffic) {
      const name = key.direction === direction.INGRESS ? 'ingress' : 'egress';
      const mark = key.cgroup_id === id ? ' (the test cgroup)' : '';
      console.log(
        `${String(key.cgroup_id).padEnd(10)} ${name.padEnd(9)} ${String(value.packets).padStart(7)} ${String(value.bytes).padStart(7)}${mark}`,
      );
    }
  } finally {
    server.close();
    // The child has exited and the links are gone (end of the using block), so the cgroup is empty.
    if (made) rmdirSync(cgroup);
  }
  console.log(`detached; removed ${cgroup}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof BpfError ? `cgroup-skb: ${err.message}` : err);
  process.exitCode = 1;
});
