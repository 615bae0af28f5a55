/**
 * xdp-counter: counts packets per source address and protocol with XDP on one end of a veth pair whose
 * other end lives in a private network namespace, then prints the typed hash map.
 *
 *   npx tsx examples/xdp-counter/main.ts [DATAGRAMS]
 *
 * Needs root and iproute2 (`ip`) and bash. Makes the namespace and the veth pair, attaches the program to
 * the host end, sends DATAGRAMS UDP datagrams (default 5) and one TCP connection attempt from the
 * namespace, prints the counts, detaches and removes everything it made, also when something fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { attachXdp, BpfError } from 'bpf-skel/runtime';
import { type counters, type flow_key, XdpCounterSkel } from './xdp-counter.skel.js';

const datagrams = Number(process.argv[2] ?? 5);

const tag = process.pid.toString(36);
const ns = `xdpcount-${tag}`;
const hostIf = `xdc${tag}h`;
const peerIf = `xdc${tag}p`;
// A /30 of its own per run, so that two runs at once do not share a subnet.
const subnet = `10.250.${process.pid % 250}`;
const hostAddr = `${subnet}.1`;
const peerAddr = `${subnet}.2`;
const PORT = 9; // discard: nobody listens, which is fine for counting

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Namespace and veth pair; the peer end is moved into the namespace. */
function setUpNetwork(): void {
  ip('netns', 'add', ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf, 'netns', ns);
  ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('-n', ns, 'addr', 'add', `${peerAddr}/30`, 'dev', peerIf);
  ip('-n', ns, 'link', 'set', peerIf, 'up');
}

/** Best effort, each step on its own: deleting one end of a veth pair deletes both. */
function tearDownNetwork(): void {
  spawnSync('ip', ['link', 'del', hostIf], { stdio: 'pipe' });
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
}

/** UDP datagrams and one TCP SYN from inside the namespace, with bash's /dev/udp and /dev/tcp. */
function sendTraffic(): void {
  const script = `for i in $(seq ${datagrams}); do echo "hello $i" > /dev/udp/${hostAddr}/${PORT}; done
    (exec 3<>/dev/tcp/${hostAddr}/${PORT}) 2>/dev/null; true`;
  execFileSync('ip', ['netns', 'exec', ns, 'bash', '-c', script], { stdio: 'pipe' });
}

const ETHER_TYPES: Record<number, string> = { 2048: 'IPv4', 2054: 'ARP', 34525: 'IPv6' };
const IP_PROTOCOLS: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP' };

/** `saddr` is in network byte order, and the codec read it as a little-endian u32. */
function ipv4(saddr: number): string {
  return [0, 8, 16, 24].map((shift) => (saddr >>> shift) & 0xff).join('.');
}

function describe(key: flow_key): { source: string; protocol: string } {
  if (key.eth_proto !== 0x0800) {
    const name = ETHER_TYPES[key.eth_proto] ?? `0x${key.eth_proto.toString(16).padStart(4, '0')}`;
    return { source: '-', protocol: name };
  }
  return { source: ipv4(key.saddr), protocol: `IPv4/${IP_PROTOCOLS[key.ip_proto] ?? key.ip_proto}` };
}

function udpFromPeer(skel: XdpCounterSkel): bigint {
  for (const [key, value] of skel.maps.counts) {
    if (key.ip_proto === 17 && ipv4(key.saddr) === peerAddr) return value.packets;
  }
  return 0n;
}

async function main(): Promise<void> {
  if (!Number.isInteger(datagrams) || datagrams < 1)
    throw new RangeError('DATAGRAMS must be a positive integer');
  using skel = XdpCounterSkel.open();
  skel.load();
  try {
    setUpNetwork();
    using link = attachXdp(skel.progs.count_packets, hostIf);
    console.log(`attached ${link.target} (${hostIf}); ${peerIf} is in netns ${ns}`);
    sendTraffic();
    // veth hands packets over in NAPI context: give the last ones a moment to be counted.
    for (let i = 0; i < 50 && udpFromPeer(skel) < BigInt(datagrams); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const rows: Array<[flow_key, counters]> = [...skel.maps.counts].sort(([, a], [, b]) =>
      Number(b.packets - a.packets),
    );
    console.log(
      `${'SOURCE'.padEnd(15)} ${'PROTOCOL'.padEnd(10)} ${'PACKETS'.padStart(7)} ${'BYTES'.padStart(7)}`,
    );
    for (const [key, value] of rows) {
      const { source, protocol } = describe(key);
      console.log(
        `${source.padEnd(15)} ${protocol.padEnd(10)} ${String(value.packets).padStart(7)} ${String(value.bytes).padStart(7)}`,
      );
    }
    console.log(`sent ${datagrams} UDP datagrams from ${peerAddr}; XDP counted ${udpFromPeer(skel)}`);
  } finally {
    tearDownNetwork();
  }
  console.log(`detached; removed ${hostIf}/${peerIf} and netns ${ns}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    tearDownNetwork();
    process.exit(128 + constants.signals[signal]);
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof BpfError ? `xdp-counter: ${err.message}` : err);
  process.exitCode = 1;
});
