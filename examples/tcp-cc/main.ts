/**
 * tcp-cc: a TCP congestion control written in BPF. Loads the skeleton, registers its struct_ops map
 * `bpfskel_reno` (the kernel then lists the algorithm as available), makes TCP connections over loopback
 * in a throwaway network namespace whose default is `bpfskel_reno`, prints what the algorithm counted,
 * and unregisters it. The host's own default congestion control is never touched.
 *
 *   npx tsx examples/tcp-cc/main.ts [CONNECTIONS]
 *
 * Each connection sends 4 MiB; default 3 connections. Needs root, util-linux `unshare` and iproute2 (`ip`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BpfError } from 'bpf-skel/runtime';
import { TcpCcSkel } from './tcp-cc.skel.js';

const connections = Number(process.argv[2] ?? 3);
const BYTES_EACH = 4 * 1024 * 1024;
const NAME = 'bpfskel_reno';
/**
 * Loopback drops nothing, so without a loss a connection would never leave slow start: the algorithm
 * starts each one with this threshold (in segments), as the kernel's `initial_ssthresh` parameters do.
 */
const INITIAL_SSTHRESH = 16;

function available(): string[] {
  return readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
}

function hostDefault(): string {
  return readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
}

/**
 * Run by node inside the namespace: a server that counts what it receives, and clients that connect one
 * after the other and each send `bytes`. Prints the namespace's default and the total received.
 */
const TRAFFIC = `
const net = require('node:net');
const fs = require('node:fs');
const [connections, bytes] = process.argv.slice(1).map(Number);
let received = 0;
const server = net.createServer((socket) => {
  socket.on('data', (chunk) => { received += chunk.length; });
  socket.on('end', () => socket.end());
});
function connectOnce() {
  return new Promise((resolve, reject) => {
    const client = net.connect(server.address().port, '127.0.0.1', () => client.end(Buffer.alloc(bytes)));
    client.on('error', reject);
    client.on('close', resolve);
    client.resume();
  });
}
server.listen(0, '127.0.0.1', async () => {
  for (let i = 0; i < connections; i++) await connectOnce();
  server.close();
  const cc = fs.readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
  console.log(JSON.stringify({ cc, received }));
});
`;

/**
 * Runs TRAFFIC under `unshare -n`: a new network namespace with only a loopback interface, made its
 * default congestion control `bpfskel_reno`. The namespace's default holds a reference to the algorithm,
 * so the shell sets it back to reno before the namespace goes away, whatever node did.
 */
function trafficInNamespace(): { cc: string; received: number } {
  const script =
    `ip link set lo up && echo ${NAME} > /proc/sys/net/ipv4/tcp_congestion_control || exit 1\n` +
    '"$0" -e "$1" "$2" "$3"; status=$?\n' +
    'echo reno > /proc/sys/net/ipv4/tcp_congestion_control\n' +
    'exit $status';
  const r = spawnSync(
    'unshare',
    ['-n', 'sh', '-c', script, process.execPath, TRAFFIC, String(connections), String(BYTES_EACH)],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) throw new Error(`traffic in the namespace failed (status ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { cc: string; received: number };
}

function main(): void {
  if (!Number.isInteger(connections) || connections < 1)
    throw new RangeError(`usage: main.ts [CONNECTIONS > 0], got ${process.argv[2]}`);
  const host = hostDefault();
  {
    using skel = TcpCcSkel.open();
    skel.rodata.initial_ssthresh = INITIAL_SSTHRESH;
    skel.load();
    skel.attach();
    console.log(`registered ${NAME}; available: ${available().join(' ')}`);

    const { cc, received } = trafficInNamespace();
    const plural = connections === 1 ? '' : 's';
    console.log(
      `network namespace with default ${cc}: ${connections} connection${plural} sent ${received} bytes over loopback`,
    );
    const now = hostDefault();
    console.log(`host default congestion control: ${now}${now === host ? ' (unchanged)' : ` (was ${host})`}`);

    const b = skel.bss;
    const rows: Array<[string, bigint | number]> = [
      ['sockets initialised', b.sockets_initialised],
      ['cong_avoid calls', b.cong_avoid_calls],
      ['  window not full', b.not_cwnd_limited],
      ['segments acked in slow start', b.acked_slow_start],
      ['segments acked in cong. avoidance', b.acked_cong_avoid],
      ['ssthresh calls (window cuts)', b.ssthresh_calls],
      ['undo_cwnd calls', b.undo_calls],
      ['largest cwnd (segments)', b.max_cwnd],
    ];
    for (const [name, value] of rows) console.log(`${name.padEnd(34)} ${String(value).padStart(8)}`);
  }
  // The end of the block destroyed the skeleton, which unregistered the algorithm.
  const left = available();
  console.log(`unregistered; available: ${left.join(' ')}`);
  if (left.includes(NAME)) throw new Error(`${NAME} is still registered`);
}

try {
  main();
} catch (err) {
  console.error(err instanceof BpfError || err instanceof RangeError ? `tcp-cc: ${err.message}` : err);
  process.exitCode = 1;
}
