/**
 * Counts the packets arriving on a network interface per IP protocol, with an XDP program.
 *
 *   npm start -- [INTERFACE] [SECONDS]      (default: lo, until Ctrl-C)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { attachXdp, BpfError } from 'bpf-skel/runtime';
import { XdpcountSkel } from './xdpcount.skel.js';

const iface = process.argv[2] ?? 'lo';
const seconds = Number(process.argv[3] ?? 0);

/** Names of the IP protocol numbers most often seen; key 255 counts frames that are not IP. */
const NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 255: 'not ip' };

async function main(): Promise<void> {
  using skel = XdpcountSkel.open();
  skel.load();
  // XDP programs attach to an interface, so attach() leaves them alone: attach this one explicitly. The
  // link detaches when the skeleton is destroyed (at the end of this function, by `using`).
  using link = attachXdp(skel.progs.count_packets, iface);
  console.log(`counting packets arriving on ${iface} (${link.target}); Ctrl-C ends`);

  let stopped = false;
  process.once('SIGINT', () => {
    stopped = true;
  });
  for (let s = 1; !stopped && (seconds === 0 || s <= seconds); s++) {
    await sleep(1000);
    const rows: string[] = [];
    // A per-CPU map gives one value per CPU for each key: add them up.
    for (const [protocol, perCpu] of skel.maps.protocols.entries()) {
      const packets = perCpu.reduce((sum, c) => sum + c.packets, 0n);
      if (packets === 0n) continue;
      const bytes = perCpu.reduce((sum, c) => sum + c.bytes, 0n);
      rows.push(`${NAMES[protocol] ?? `proto ${protocol}`}: ${packets} packets, ${bytes} bytes`);
    }
    console.log(`${s} s: ${rows.length === 0 ? 'no packets yet' : rows.join('; ')}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof BpfError ? err.message : err);
  process.exitCode = 1;
});
