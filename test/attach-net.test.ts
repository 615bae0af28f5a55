/**
 * Networking attachments on the real kernel with real packets: a socket filter on a socket pair; XDP and
 * tcx on the host end of a veth pair whose other end is in a test network namespace (UDP sent from
 * there); sk_lookup in that namespace; cgroup_skb egress on a test cgroup holding a child process. Every
 * namespace, interface and cgroup is removed even when a test fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readSync, rmdirSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachCgroup,
  attachSkLookup,
  attachSocketFilter,
  attachTcx,
  attachXdp,
  ifindexOf,
} from '../src/runtime/attach/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { closeFd, openDir } from '../src/runtime/sys/fd.js';
import { progInfo } from '../src/runtime/sys/info.js';
import { AttachTypes } from '../src/runtime/sys/kinds.js';
import { progQuery } from '../src/runtime/sys/prog.js';
import { AF_UNIX, SOCK_DGRAM, SOCK_NONBLOCK, socketPair } from '../src/runtime/sys/socket.js';
import { getU32, getU64, setInt, waitFor } from './bins/globals.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const FIX = new URL('./fixtures/', import.meta.url).pathname;
const canRun = requireKernel('bpf() as root', isRoot(), 'network attach tests need root');
const hasIp = requireKernel(
  'iproute2',
  commandExists('ip') && commandExists('bash'),
  'ip and bash are needed',
);

const PORT = 40000 + (process.pid % 20000);

function netObject(): BpfObject {
  const obj = BpfObject.open(`${FIX}attach_net.bpf.o`);
  setInt(obj, 'test_port', PORT, 2);
  obj.load();
  return obj;
}

describe.runIf(canRun)('socket filter', () => {
  it('filters what a socket receives, and stops when detached', () => {
    const fds = countOpenFds();
    const obj = netObject();
    const [tx, rx] = socketPair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK);
    const receive = (): string[] => {
      const got: string[] = [];
      const buf = Buffer.alloc(64);
      for (;;) {
        try {
          got.push(buf.toString('utf8', 0, readSync(rx, buf)));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return got;
          throw err;
        }
      }
    };
    try {
      const link = attachSocketFilter(obj.programs.get('sock_count')!, rx);
      expect(link.type).toBe('socket_filter');
      expect(link.fd).toBe(-1);
      for (const m of ['A1', 'D1', 'A2']) writeSync(tx, m);
      expect(receive()).toEqual(['A1', 'A2']);
      expect(getU64(obj, 'sock_packets')).toBe(3n);
      expect(() => link.update(obj.programs.get('sock_count')!)).toThrow(/not a kernel link/);
      link.detach();
      link.detach();
      writeSync(tx, 'D2');
      expect(receive()).toEqual(['D2']);
      expect(getU64(obj, 'sock_packets')).toBe(3n);
    } finally {
      closeFd(tx);
      closeFd(rx);
      obj.close();
    }
    expect(countOpenFds()).toBe(fds);
  });
});

describe.runIf(canRun && hasIp)('XDP, tcx and sk_lookup on a veth pair', () => {
  const ns = `bpfskel-${process.pid}`;
  const host = `bsk${process.pid}h`;
  const peer = `bsk${process.pid}p`;
  const net = `10.${200 + (process.pid % 50)}.${(process.pid >> 8) % 250}`;
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };

  beforeAll(() => {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
    ip('addr', 'add', `${net}.1/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  });
  afterAll(() => {
    spawnSync('ip', ['link', 'del', host], { stdio: 'pipe' });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  });

  /** Sends `n` UDP datagrams to `to`:PORT from inside the test namespace. */
  function sendFromNs(n: number, to: string): void {
    const script = `for i in $(seq ${n}); do echo x > /dev/udp/${to}/${PORT}; done; true`;
    execFileSync('ip', ['netns', 'exec', ns, 'bash', '-c', script], { stdio: 'pipe' });
  }

  it('counts UDP packets arriving on the host end with an XDP link, swaps programs, detaches', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const a = obj.programs.get('xdp_count_a')!;
    const b = obj.programs.get('xdp_count_b')!;
    const link = attachXdp(a, host);
    expect(link.type).toBe('xdp');
    expect(link.info()).toMatchObject({ kind: 'xdp', ifindex: ifindexOf(host) });
    sendFromNs(5, `${net}.1`);
    expect(await waitFor(() => getU64(obj, 'xdp_a'), 5n)).toBe(5n);
    link.update(b, { expected: a });
    expect(link.info().progId).toBe(progInfo(b.fd).id);
    expect(() => link.update(a, { expected: a })).toThrow(expect.objectContaining({ code: 'EPERM' }));
    sendFromNs(3, `${net}.1`);
    expect(await waitFor(() => getU64(obj, 'xdp_b'), 3n)).toBe(3n);
    expect(getU64(obj, 'xdp_a')).toBe(5n);
    link.detach();
    sendFromNs(2, `${net}.1`);
    await new Promise((r) => setTimeout(r, 50));
    expect([getU64(obj, 'xdp_a'), getU64(obj, 'xdp_b')]).toEqual([5n, 3n]);
    // Generic mode works on any device; veth also has a native (driver) hook. `ip` reports which one holds
    // the program: XDP_ATTACHED_SKB is 2, XDP_ATTACHED_DRV 1.
    const xdpMode = (): unknown =>
      (
        JSON.parse(execFileSync('ip', ['-d', '-j', 'link', 'show', 'dev', host], { encoding: 'utf8' })) as {
          xdp?: { mode: number };
        }[]
      )[0]?.xdp?.mode;
    const skb = attachXdp(a, ifindexOf(host), { mode: 'skb' });
    expect(xdpMode()).toBe(2);
    sendFromNs(2, `${net}.1`);
    expect(await waitFor(() => getU64(obj, 'xdp_a'), 7n)).toBe(7n);
    skb.detach();
    const drv = attachXdp(a, host, { mode: 'drv' });
    expect(xdpMode()).toBe(1);
    sendFromNs(2, `${net}.1`);
    expect(await waitFor(() => getU64(obj, 'xdp_a'), 9n)).toBe(9n);
    drv.detach();
    expect(xdpMode()).toBeUndefined();
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('orders two tcx ingress programs with before, runs both, and leaves the hook empty after detach', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const a = obj.programs.get('tcx_count_a')!;
    const b = obj.programs.get('tcx_count_b')!;
    const ifindex = ifindexOf(host);
    const la = attachTcx(a, host, 'ingress');
    const lb = attachTcx(b, host, 'ingress', { before: la });
    expect(lb.info()).toMatchObject({ kind: 'tcx', ifindex, attachType: AttachTypes.tcx_ingress });
    expect(progQuery(ifindex, AttachTypes.tcx_ingress).progIds).toEqual([
      progInfo(b.fd).id,
      progInfo(a.fd).id,
    ]);
    sendFromNs(4, `${net}.1`);
    expect(await waitFor(() => getU64(obj, 'tcx_a'), 4n)).toBe(4n);
    expect(getU64(obj, 'tcx_b')).toBe(4n);
    expect(getU32(obj, 'tcx_first')).toBe(2);
    la.detach();
    lb.detach();
    expect(progQuery(ifindex, AttachTypes.tcx_ingress).progIds).toEqual([]);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('runs sk_lookup in the test namespace for UDP to the test port', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const link = attachSkLookup(obj.programs.get('lookup_count')!, `/run/netns/${ns}`);
    expect(link.type).toBe('netns');
    expect(link.info()).toMatchObject({ kind: 'netns', attachType: AttachTypes.sk_lookup });
    // Datagrams to the namespace's own address are looked up (and counted) in that namespace.
    sendFromNs(3, `${net}.2`);
    expect(await waitFor(() => getU64(obj, 'sk_lookups'), 3n)).toBe(3n);
    link.detach();
    sendFromNs(2, `${net}.2`);
    expect(getU64(obj, 'sk_lookups')).toBe(3n);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});

/** The cgroup v2 mount point (a pure v2 system, or the `unified` part of a hybrid one). */
function cgroup2Root(): string | undefined {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2') return mountPoint;
  }
  return undefined;
}

describe.runIf(canRun && requireKernel('cgroup v2', cgroup2Root() !== undefined, 'no cgroup2 mount'))(
  'cgroup_skb',
  () => {
    const dir = `${cgroup2Root()}/bpfskel-test-${process.pid}`;
    beforeAll(() => mkdirSync(dir));
    afterAll(() => rmdirSync(dir));

    /** Runs a child in the test cgroup that sends `n` UDP datagrams to 127.0.0.1:PORT. */
    function sendFromCgroup(n: number): void {
      const script = `echo $$ > "$CG/cgroup.procs" && exec bash -c 'for i in $(seq ${n}); do echo x > /dev/udp/127.0.0.1/${PORT}; done; true'`;
      execFileSync('sh', ['-c', script], { env: { ...process.env, CG: dir }, stdio: 'pipe' });
    }

    it('counts egress packets of processes in the cgroup, with a link and with PROG_ATTACH', () => {
      const fds = countOpenFds();
      const obj = netObject();
      const prog = obj.programs.get('cgroup_count')!;
      const link = attachCgroup(prog, dir);
      expect(link.type).toBe('cgroup');
      expect(link.info()).toMatchObject({ kind: 'cgroup', attachType: AttachTypes.cgroup_inet_egress });
      sendFromCgroup(4);
      expect(getU64(obj, 'cgroup_egress')).toBe(4n);
      // Traffic from outside the cgroup is not seen.
      execFileSync('bash', ['-c', `echo x > /dev/udp/127.0.0.1/${PORT}`]);
      expect(getU64(obj, 'cgroup_egress')).toBe(4n);
      link.detach();
      sendFromCgroup(2);
      expect(getU64(obj, 'cgroup_egress')).toBe(4n);

      const legacy = attachCgroup(prog, dir, 'cgroup_inet_egress', { method: 'attach' });
      expect(legacy.type).toBe('prog_attach');
      const cgFd = legacy.fd;
      expect(cgFd).toBe(-1);
      sendFromCgroup(3);
      expect(getU64(obj, 'cgroup_egress')).toBe(7n);
      const progId = progInfo(prog.fd).id;
      const cg = openDir(dir);
      try {
        expect(progQuery(cg, AttachTypes.cgroup_inet_egress).progIds).toEqual([progId]);
        // A link made from the object's program is detached when the object closes, legacy ones too.
        obj.close();
        expect(legacy.detached).toBe(true);
        expect(progQuery(cg, AttachTypes.cgroup_inet_egress).progIds).toEqual([]);
        legacy.detach();
      } finally {
        closeFd(cg);
      }
      expect(countOpenFds()).toBe(fds);
    });

    it('asks for an attach type when the section has none', () => {
      using obj = BpfObject.open(`${FIX}sections.bpf.o`);
      for (const p of obj.programs.values()) p.autoload = p.name === 'cg_skb_any';
      obj.load();
      expect(() => attachCgroup(obj.programs.get('cg_skb_any')!, dir)).toThrow(/no expected attach type/);
    });
  },
);
