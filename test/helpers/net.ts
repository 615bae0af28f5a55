/**
 * A veth pair for network attach tests: one end in this network namespace, the other in a test namespace
 * of its own, each with an IPv4 address on a /24, so that real packets cross the host end both ways.
 * Made with iproute2's `ip`; removed again even when a test fails half way.
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** A veth pair made by {@link createVethPair}. */
export interface VethPair {
  /** The test network namespace (a bind mount at `/run/netns/<ns>`). */
  readonly ns: string;
  /** The end in this namespace, at {@link VethPair.hostAddr}. */
  readonly host: string;
  /** The end in the test namespace, at {@link VethPair.peerAddr}. */
  readonly peer: string;
  readonly hostAddr: string;
  readonly peerAddr: string;
  /** Runs a bash script inside the test namespace; throws when it exits non-zero. */
  inNs(script: string): void;
  /** Deletes the pair and the namespace; safe to call more than once. */
  remove(): void;
}

/**
 * Makes namespace `bpfskel-<tag>-<pid>` and the pair `<tag><pid>h` (here, `<subnet>.1`) and `<tag><pid>p`
 * (there, `<subnet>.2`), both up, loopback up in the namespace. `tag` keeps test files that run at the
 * same time apart (at most 4 characters: interface names have 15); so must `subnet` (`a.b.c`).
 */
export function createVethPair(tag: string, subnet: string): VethPair {
  const ns = `bpfskel-${tag}-${process.pid}`;
  const host = `${tag}${process.pid}h`;
  const peer = `${tag}${process.pid}p`;
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };
  const pair: VethPair = {
    ns,
    host,
    peer,
    hostAddr: `${subnet}.1`,
    peerAddr: `${subnet}.2`,
    inNs(script) {
      execFileSync('ip', ['netns', 'exec', ns, 'bash', '-c', script], { stdio: 'pipe' });
    },
    remove() {
      // Deleting one end deletes both; the namespace goes last.
      spawnSync('ip', ['link', 'del', host], { stdio: 'pipe' });
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
    },
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
    ip('addr', 'add', `${pair.hostAddr}/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${pair.peerAddr}/24`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (err) {
    pair.remove();
    throw err;
  }
  return pair;
}
