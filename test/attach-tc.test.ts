/**
 * Classic tc (cls_bpf on clsact over rtnetlink) on the real kernel with real packets: the host end of a
 * veth pair whose other end is in a test network namespace; UDP sent across it is counted by the
 * fixture's sched_cls programs. iproute2's `tc` is the independent witness of what the kernel holds.
 * The netlink structs and enums used are checked against the kernel's BTF. The namespace and interfaces
 * are removed even when a test fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { BpfError, OptionError } from '../src/errors.js';
import { attachTc, destroyTcHook, ifindexOf } from '../src/runtime/attach/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { progInfo } from '../src/runtime/sys/info.js';
import { NETLINK_ENUMS, NETLINK_LAYOUTS } from '../src/runtime/sys/netlink.js';
import { getU32, getU64, setInt, waitFor } from './bins/globals.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const FIX = new URL('./fixtures/', import.meta.url).pathname;
const VMLINUX = '/sys/kernel/btf/vmlinux';
const canRun = requireKernel('bpf() as root', isRoot(), 'tc attach tests need root');
const hasTools = requireKernel(
  'iproute2',
  commandExists('ip') && commandExists('tc') && commandExists('bash'),
  'ip, tc and bash are needed',
);

const PORT = 40000 + (process.pid % 20000);

describe.runIf(requireKernel('kernel BTF', existsSync(VMLINUX), `no ${VMLINUX}`))('netlink layouts', () => {
  it('match the kernel BTF structs and enumerators', () => {
    const btf = loadKernelBtf();
    for (const layout of Object.values(NETLINK_LAYOUTS)) {
      const t = btf.findByName(layout.struct, 'struct');
      expect(t, layout.struct).toBeDefined();
      expect(btf.sizeOf(t!.id), layout.struct).toBe(layout.size);
      const members = new Map(btf.memberLayout(t!.id).map((m) => [m.name, m]));
      for (const [name, field] of Object.entries(layout.fields)) {
        const m = members.get(name);
        expect(m, `${layout.struct}.${name}`).toBeDefined();
        expect([m!.bitOffset / 8, btf.sizeOf(m!.type)], `${layout.struct}.${name}`).toEqual([
          field.offset,
          field.size,
        ]);
      }
    }
    const enumerators = new Map<string, number>();
    for (const t of btf.types) {
      if (t.kind === 'enum') for (const v of t.values) enumerators.set(v.name, v.value);
    }
    for (const [name, value] of Object.entries(NETLINK_ENUMS))
      expect(enumerators.get(name), name).toBe(value);
  });
});

function netObject(): BpfObject {
  const obj = BpfObject.open(`${FIX}attach_net.bpf.o`);
  setInt(obj, 'test_port', PORT, 2);
  obj.load();
  return obj;
}

describe.runIf(canRun && hasTools)('classic tc on a veth pair', () => {
  const ns = `bpfskel-tc-${process.pid}`;
  const host = `bst${process.pid}h`;
  const peer = `bst${process.pid}p`;
  // 10.150-199.x: apart from test/attach-net.test.ts's 10.200-249.x, which may run at the same time.
  const net = `10.${150 + (process.pid % 50)}.${(process.pid >> 8) % 250}`;
  const run = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

  beforeAll(() => {
    run('ip', 'netns', 'add', ns);
    run('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
    run('ip', 'addr', 'add', `${net}.1/24`, 'dev', host);
    run('ip', 'link', 'set', host, 'up');
    run('ip', '-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', peer);
    run('ip', '-n', ns, 'link', 'set', peer, 'up');
  });
  // A failed test must not leave its hook to the next one.
  afterEach(() => {
    spawnSync('tc', ['qdisc', 'del', 'dev', host, 'clsact'], { stdio: 'pipe' });
  });
  afterAll(() => {
    spawnSync('ip', ['link', 'del', host], { stdio: 'pipe' });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  });

  /** Sends `n` UDP datagrams to the host end (`ingress`) or from it (`egress`). */
  function send(n: number, direction: 'ingress' | 'egress'): void {
    const to = direction === 'ingress' ? `${net}.1` : `${net}.2`;
    const script = `for i in $(seq ${n}); do echo x > /dev/udp/${to}/${PORT}; done; true`;
    if (direction === 'ingress') run('ip', 'netns', 'exec', ns, 'bash', '-c', script);
    else run('bash', '-c', script);
  }
  const filters = (direction: 'ingress' | 'egress'): string =>
    run('tc', 'filter', 'show', 'dev', host, direction);
  const hasClsact = (): boolean => /qdisc clsact ffff:/.test(run('tc', 'qdisc', 'show', 'dev', host));
  /** Waits for `read` to reach `want`, then checks it stays there (no packet counted twice). */
  async function expectCount(read: () => bigint, want: bigint): Promise<void> {
    expect(await waitFor(read, want)).toBe(want);
    await new Promise((r) => setTimeout(r, 50));
    expect(read()).toBe(want);
  }

  it('counts every ingress packet, is what tc lists, and detaches its filter and qdisc', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const prog = obj.programs.get('tcx_count_a')!;
    try {
      expect(hasClsact()).toBe(false);
      const link = attachTc(prog, host, 'ingress');
      expect(link.type).toBe('tc_filter');
      expect(link.fd).toBe(-1);
      expect(link.ifindex).toBe(ifindexOf(host));
      expect(link.programId).toBe(progInfo(prog.fd).id);
      expect(link.priority).toBeGreaterThan(0);
      expect(link.handle).toBeGreaterThan(0);
      expect(hasClsact()).toBe(true);
      const listed = filters('ingress');
      expect(listed).toMatch(
        new RegExp(
          `pref ${link.priority} bpf .*handle 0x${link.handle.toString(16)} tcx_count_a direct-action .*id ${link.programId} `,
        ),
      );
      expect(filters('egress')).toBe('');
      expect(() => link.info()).toThrow(/not a kernel link/);

      send(6, 'ingress');
      await expectCount(() => getU64(obj, 'tcx_a'), 6n);

      link.detach();
      link.detach();
      expect(filters('ingress')).toBe('');
      // The attach made the clsact qdisc, and its last filter is gone: the qdisc went with it.
      expect(hasClsact()).toBe(false);
      send(3, 'ingress');
      await new Promise((r) => setTimeout(r, 50));
      expect(getU64(obj, 'tcx_a')).toBe(6n);
    } finally {
      obj.close();
    }
    expect(countOpenFds()).toBe(fds);
  });

  it('orders filters by priority, replaces one, keeps a qdisc it did not make, and counts egress', async () => {
    const fds = countOpenFds();
    const obj = netObject();
    const a = obj.programs.get('tcx_count_a')!;
    const b = obj.programs.get('tcx_count_b')!;
    const idB = progInfo(b.fd).id;
    run('tc', 'qdisc', 'add', 'dev', host, 'clsact');
    try {
      // b is added first but a's lower priority number runs it first; both return TC_ACT_UNSPEC, so the
      // packet goes on to the next filter.
      const lb = attachTc(b, host, 'ingress', { priority: 20, handle: 2 });
      const la = attachTc(a, host, 'ingress', { priority: 10, handle: 1 });
      expect([la.priority, la.handle, lb.priority, lb.handle]).toEqual([10, 1, 20, 2]);
      send(4, 'ingress');
      await expectCount(() => getU64(obj, 'tcx_a'), 4n);
      expect(getU64(obj, 'tcx_b')).toBe(4n);
      expect(getU32(obj, 'tcx_first')).toBe(1);

      let dup: unknown;
      try {
        attachTc(b, host, 'ingress', { priority: 10, handle: 1 });
      } catch (err) {
        dup = err;
      }
      expect(dup).toBeInstanceOf(BpfError);
      expect(dup).toMatchObject({ code: 'EEXIST', errno: 17, command: 'netlink RTM_NEWTFILTER' });
      expect((dup as Error).message).toMatch(/ifindex \d+ ingress.*EEXIST.*: Filter already exists/);

      // Replacing a's filter with b: a's link no longer owns it, so detaching a leaves it alone.
      const lc = attachTc(b, host, 'ingress', { priority: 10, handle: 1, replace: true });
      expect(lc.programId).toBe(idB);
      la.detach();
      expect(filters('ingress')).toMatch(new RegExp(`pref 10 bpf .*handle 0x1 tcx_count_b .*id ${idB} `));
      lc.detach();
      expect(filters('ingress')).not.toMatch(/pref 10 /);
      expect(filters('ingress')).toMatch(/pref 20 bpf .*handle 0x2 tcx_count_b/);
      lb.detach();
      expect(filters('ingress')).toBe('');

      const le = attachTc(a, ifindexOf(host), 'egress');
      send(5, 'egress');
      await expectCount(() => getU64(obj, 'tcx_a'), 9n);
      le.detach();
      expect(filters('egress')).toBe('');
      // The qdisc was there before: detaching leaves it; destroying it is explicit.
      expect(hasClsact()).toBe(true);
      expect(destroyTcHook(host)).toBe(true);
      expect(hasClsact()).toBe(false);
      expect(destroyTcHook(host)).toBe(false);
    } finally {
      obj.close();
    }
    expect(countOpenFds()).toBe(fds);
  });

  it('rejects a missing interface, a wrong program type and bad options with typed errors', () => {
    const fds = countOpenFds();
    const obj = netObject();
    const prog = obj.programs.get('tcx_count_a')!;
    try {
      const missing = `nx${process.pid}`;
      expect(() => attachTc(prog, missing, 'ingress')).toThrow(
        expect.objectContaining({ code: 'ENODEV', message: expect.stringContaining(`'${missing}'`) }),
      );
      expect(() => attachTc(prog, 0x7ffffff0, 'egress')).toThrow(
        expect.objectContaining({
          code: 'ENODEV',
          command: 'netlink RTM_NEWQDISC',
          message: expect.stringContaining(`ifindex ${0x7ffffff0}`),
        }),
      );
      const xdp = obj.programs.get('xdp_count_a')!;
      expect(() => attachTc(xdp, host, 'ingress')).toThrow(OptionError);
      expect(() => attachTc(xdp, host, 'ingress')).toThrow(/'xdp_count_a'.* xdp program.*sched_cls/);
      expect(() => attachTc(prog, host, 'ingress', { priority: 0x10000 })).toThrow(
        expect.objectContaining({ option: 'priority' }),
      );
      expect(() => attachTc(prog, host, 'ingress', { handle: 0 })).toThrow(
        expect.objectContaining({ option: 'handle' }),
      );
      expect(() => attachTc(prog, host, 'ingress', { replace: true, priority: 1 })).toThrow(
        expect.objectContaining({ option: 'replace' }),
      );
      expect(() => attachTc(prog, host, 'sideways' as 'ingress')).toThrow(
        expect.objectContaining({ option: 'direction' }),
      );
      // Nothing was left behind by the failures.
      expect(hasClsact()).toBe(false);
    } finally {
      obj.close();
    }
    expect(countOpenFds()).toBe(fds);
  });
});
