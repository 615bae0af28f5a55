/**
 * Networking attachments on the real kernel with real packets: a socket filter on a socket pair; XDP (in
 * each mode) and tcx on the host end of a veth pair whose other end is in a test network namespace (UDP
 * sent from there for ingress, to there for egress, tcx programs ordered with `before` and `after`);
 * sk_lookup in that namespace; cgroup_skb egress on a test cgroup holding a child process, by path and by
 * a cgroup FD the caller keeps, as a link and with `BPF_PROG_ATTACH` flags. Every namespace, interface and
 * cgroup is removed even when a test fails.
 */
import { execFileSync } from 'node:child_process';
import { readSync, writeSync } from 'node:fs';
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
import { AttachFlag } from '../src/runtime/sys/consts.js';
import { closeFd, openDir } from '../src/runtime/sys/fd.js';
import { progInfo } from '../src/runtime/sys/info.js';
import { AttachTypes } from '../src/runtime/sys/kinds.js';
import { progQuery } from '../src/runtime/sys/prog.js';
import { AF_UNIX, SOCK_DGRAM, SOCK_NONBLOCK, socketPair } from '../src/runtime/sys/socket.js';
import { getU32, getU64, setInt, waitFor } from './bins/globals.js';
import { cgroup2Root, createTestCgroup, type TestCgroup } from './helpers/cgroup.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { createVethPair, type VethPair } from './helpers/net.js';
import { FIXTURES } from './helpers/objects.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'network attach tests need root');
const hasIp = requireKernel(
  'iproute2',
  commandExists('ip') && commandExists('bash'),
  'ip and bash are needed',
);

const PORT = 40000 + (process.pid % 20000);

function netObject(): BpfObject {
  const obj = BpfObject.open(`${FIXTURES}attach_net.bpf.o`);
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
  let veth: VethPair;
  beforeAll(() => {
    veth = createVethPair('bsk', `10.${200 + (process.pid % 50)}.${(process.pid >> 8) % 250}`);
  });
  // A failed setup has already removed what it made.
  afterAll(() => veth?.remove());

  /** Sends `n` UDP datagrams to `to`:PORT from inside the test namespace. */
  function sendFromNs(n: number, to: string): void {
    veth.inNs(`for i in $(seq ${n}); do echo x > /dev/udp/${to}/${PORT}; done; true`);
  }

  it('counts UDP packets arriving on the host end with an XDP link, swaps programs, detaches', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const a = obj.programs.get('xdp_count_a')!;
    const b = obj.programs.get('xdp_count_b')!;
    const link = attachXdp(a, veth.host);
    expect(link.type).toBe('xdp');
    expect(link.info()).toMatchObject({ kind: 'xdp', ifindex: ifindexOf(veth.host) });
    sendFromNs(5, veth.hostAddr);
    expect(await waitFor(() => getU64(obj, 'xdp_a'), 5n)).toBe(5n);
    link.update(b, { expected: a });
    expect(link.info().progId).toBe(progInfo(b.fd).id);
    expect(() => link.update(a, { expected: a })).toThrow(expect.objectContaining({ code: 'EPERM' }));
    sendFromNs(3, veth.hostAddr);
    expect(await waitFor(() => getU64(obj, 'xdp_b'), 3n)).toBe(3n);
    expect(getU64(obj, 'xdp_a')).toBe(5n);
    link.detach();
    sendFromNs(2, veth.hostAddr);
    await new Promise((r) => setTimeout(r, 50));
    expect([getU64(obj, 'xdp_a'), getU64(obj, 'xdp_b')]).toEqual([5n, 3n]);
    // Generic mode works on any device; veth also has a native (driver) hook. `ip` reports which one holds
    // the program: XDP_ATTACHED_SKB is 2, XDP_ATTACHED_DRV 1.
    const xdpMode = (): unknown =>
      (
        JSON.parse(
          execFileSync('ip', ['-d', '-j', 'link', 'show', 'dev', veth.host], { encoding: 'utf8' }),
        ) as {
          xdp?: { mode: number };
        }[]
      )[0]?.xdp?.mode;
    const skb = attachXdp(a, ifindexOf(veth.host), { mode: 'skb' });
    expect(xdpMode()).toBe(2);
    sendFromNs(2, veth.hostAddr);
    expect(await waitFor(() => getU64(obj, 'xdp_a'), 7n)).toBe(7n);
    skb.detach();
    const drv = attachXdp(a, veth.host, { mode: 'drv' });
    expect(xdpMode()).toBe(1);
    sendFromNs(2, veth.hostAddr);
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
    const ifindex = ifindexOf(veth.host);
    const la = attachTcx(a, veth.host, 'ingress');
    const lb = attachTcx(b, veth.host, 'ingress', { before: la });
    expect(lb.info()).toMatchObject({ kind: 'tcx', ifindex, attachType: AttachTypes.tcx_ingress });
    expect(progQuery(ifindex, AttachTypes.tcx_ingress).progIds).toEqual([
      progInfo(b.fd).id,
      progInfo(a.fd).id,
    ]);
    sendFromNs(4, veth.hostAddr);
    expect(await waitFor(() => getU64(obj, 'tcx_a'), 4n)).toBe(4n);
    expect(getU64(obj, 'tcx_b')).toBe(4n);
    expect(getU32(obj, 'tcx_first')).toBe(2);
    la.detach();
    lb.detach();
    expect(progQuery(ifindex, AttachTypes.tcx_ingress).progIds).toEqual([]);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('places b after a on egress, runs both on packets leaving the host, and empties the hook', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const a = obj.programs.get('tcx_count_a')!;
    const b = obj.programs.get('tcx_count_b')!;
    const ifindex = ifindexOf(veth.host);
    const la = attachTcx(a, veth.host, 'egress');
    const lb = attachTcx(b, ifindex, 'egress', { after: la });
    expect(lb.info()).toMatchObject({ kind: 'tcx', ifindex, attachType: AttachTypes.tcx_egress });
    const ids = [progInfo(a.fd).id, progInfo(b.fd).id];
    expect(progQuery(ifindex, AttachTypes.tcx_egress).progIds).toEqual(ids);
    expect(progQuery(ifindex, AttachTypes.tcx_ingress).progIds).toEqual([]);
    const script = `for i in $(seq 3); do echo x > /dev/udp/${veth.peerAddr}/${PORT}; done; true`;
    execFileSync('bash', ['-c', script], { stdio: 'pipe' });
    expect(await waitFor(() => getU64(obj, 'tcx_b'), 3n)).toBe(3n);
    expect(getU64(obj, 'tcx_a')).toBe(3n);
    // A detached link is no anchor.
    lb.detach();
    expect(() => attachTcx(b, ifindex, 'egress', { after: lb })).toThrow(/not a live kernel link/);
    la.detach();
    expect(progQuery(ifindex, AttachTypes.tcx_egress).progIds).toEqual([]);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('runs sk_lookup in the test namespace for UDP to the test port', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const link = attachSkLookup(obj.programs.get('lookup_count')!, `/run/netns/${veth.ns}`);
    expect(link.type).toBe('netns');
    expect(link.info()).toMatchObject({ kind: 'netns', attachType: AttachTypes.sk_lookup });
    // Datagrams to the namespace's own address are looked up (and counted) in that namespace.
    sendFromNs(3, veth.peerAddr);
    expect(await waitFor(() => getU64(obj, 'sk_lookups'), 3n)).toBe(3n);
    link.detach();
    sendFromNs(2, veth.peerAddr);
    expect(getU64(obj, 'sk_lookups')).toBe(3n);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});

describe.runIf(canRun && requireKernel('cgroup v2', cgroup2Root() !== undefined, 'no cgroup2 mount'))(
  'cgroup_skb',
  () => {
    let cgroup: TestCgroup;
    beforeAll(() => {
      cgroup = createTestCgroup('test');
    });
    afterAll(() => cgroup?.remove());

    /** Runs a child in the test cgroup that sends `n` UDP datagrams to 127.0.0.1:PORT. */
    function sendFromCgroup(n: number): void {
      cgroup.run(`for i in $(seq ${n}); do echo x > /dev/udp/127.0.0.1/${PORT}; done; true`);
    }

    it('counts egress packets of processes in the cgroup, with a link and with PROG_ATTACH', () => {
      const fds = countOpenFds();
      const obj = netObject();
      const prog = obj.programs.get('cgroup_count')!;
      const link = attachCgroup(prog, cgroup.path);
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

      const legacy = attachCgroup(prog, cgroup.path, 'cgroup_inet_egress', { method: 'attach' });
      expect(legacy.type).toBe('prog_attach');
      const cgFd = legacy.fd;
      expect(cgFd).toBe(-1);
      sendFromCgroup(3);
      expect(getU64(obj, 'cgroup_egress')).toBe(7n);
      const progId = progInfo(prog.fd).id;
      const cg = openDir(cgroup.path);
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

    it('attaches to a cgroup FD the caller keeps, as a link and with ALLOW_OVERRIDE', () => {
      const fds = countOpenFds();
      const obj = netObject();
      const prog = obj.programs.get('cgroup_count')!;
      const type = AttachTypes.cgroup_inet_egress;
      const cg = openDir(cgroup.path);
      try {
        const link = attachCgroup(prog, cg);
        expect(link.type).toBe('cgroup');
        sendFromCgroup(2);
        expect(getU64(obj, 'cgroup_egress')).toBe(2n);
        link.detach();

        const legacy = attachCgroup(prog, cg, 'cgroup_inet_egress', {
          method: 'attach',
          attachFlags: AttachFlag.ALLOW_OVERRIDE,
        });
        expect(progQuery(cg, type)).toMatchObject({
          attachFlags: AttachFlag.ALLOW_OVERRIDE,
          progIds: [progInfo(prog.fd).id],
        });
        sendFromCgroup(3);
        expect(getU64(obj, 'cgroup_egress')).toBe(5n);
        legacy.detach();
        expect(progQuery(cg, type).progIds).toEqual([]);
        // The caller's FD is still its own and still open.
        expect(progQuery(cg, type).attachFlags).toBe(0);
      } finally {
        closeFd(cg);
      }
      obj.close();
      expect(countOpenFds()).toBe(fds);
    });

    it('asks for an attach type when the section has none', () => {
      using obj = BpfObject.open(`${FIXTURES}sections.bpf.o`);
      for (const p of obj.programs.values()) p.autoload = p.name === 'cg_skb_any';
      obj.load();
      expect(() => attachCgroup(obj.programs.get('cg_skb_any')!, cgroup.path)).toThrow(
        /no expected attach type/,
      );
    });
  },
);
