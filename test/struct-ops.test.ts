/**
 * struct_ops maps end to end on the real kernel: what open() reads from `.struct_ops`/`.struct_ops.link`,
 * the attributes load() sends (checked against kernel BTF), what the kernel reports back, programs run
 * through BPF_PROG_TEST_RUN (bpf_dummy_ops) and through real TCP connections (a tcp_congestion_ops
 * registered by map update and by link), the kernel's refusals as typed errors, and libbpf 1.1's behaviour
 * on the same object.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { parseElf } from '../src/elf/reader.js';
import { BpfError, FeatureMissingError, OptionError } from '../src/errors.js';
import { generateSkeleton } from '../src/gen/skeleton.js';
import { attachStructOps, StructOpsLink } from '../src/runtime/attach/struct-ops.js';
import { BpfObject } from '../src/runtime/object.js';
import { MAP_CREATE_ATTR, PROG_LOAD_ATTR } from '../src/runtime/sys/attr.js';
import { BpfCmd } from '../src/runtime/sys/bpf.js';
import { mapInfo, progInfo } from '../src/runtime/sys/info.js';
import { MapTypes, ProgramTypes } from '../src/runtime/sys/kinds.js';
import { addressOf } from '../src/runtime/sys/libc.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { libbpfReference } from './helpers/libbpf-ref.js';
import { thrown } from './helpers/thrown.js';
import { bpfCallsDuring } from './helpers/trace.js';

const ROOT = new URL('..', import.meta.url).pathname;
const fixture = (name: string) => new URL(`./fixtures/${name}.bpf.o`, import.meta.url).pathname;
const OPS = fixture('struct_ops');
const LINK = fixture('struct_ops_link');
const F_LINK = 0x2000;

const kernel = loadKernelBtf();
const structId = (name: string) => kernel.findByName(name, 'struct')?.id ?? 0;
const memberIndex = (struct: string, member: string) =>
  kernel.memberLayout(structId(struct)).findIndex((m) => m.name === member);
const hasStructOps = (name: string) => structId(`bpf_struct_ops_${name}`) !== 0;

function availableCcs(): string[] {
  return readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
}

/** Makes TCP connections over loopback in a new network namespace whose default congestion control is `cc`. */
function tcpWith(cc: string): void {
  const js =
    "const net=require('net');const s=net.createServer(c=>{c.resume();c.on('end',()=>{c.end();s.close();});});" +
    "s.listen(0,'127.0.0.1',()=>{const c=net.connect(s.address().port,'127.0.0.1',()=>c.end(Buffer.alloc(65536)));});";
  execFileSync(
    'unshare',
    [
      '-n',
      'sh',
      '-c',
      // The namespace's default holds a reference to the congestion control: give it back before exiting.
      `ip link set lo up && echo ${cc} > /proc/sys/net/ipv4/tcp_congestion_control && "$0" -e "$1"; r=$?; echo reno > /proc/sys/net/ipv4/tcp_congestion_control; exit $r`,
      process.execPath,
      js,
    ],
    { stdio: 'pipe', timeout: 10_000 },
  );
}

/** Captures the attrs of BPF_MAP_CREATE and BPF_PROG_LOAD calls made while `run` runs. */
function capture(run: () => void): { maps: Buffer[]; progs: Buffer[] } {
  const ok = bpfCallsDuring(run).filter((c) => c.result >= 0);
  const attrs = (cmd: number) => ok.filter((c) => c.cmd === cmd).map((c) => c.attr);
  return { maps: attrs(BpfCmd.MAP_CREATE), progs: attrs(BpfCmd.PROG_LOAD) };
}

const u32 = (b: Buffer, f: { offset: number }) => b.readUInt32LE(f.offset);
const progName = (b: Buffer) =>
  b
    .subarray(PROG_LOAD_ATTR.fields.prog_name.offset, PROG_LOAD_ATTR.fields.prog_name.offset + 16)
    .toString()
    .replace(/\0.*$/s, '');

/** The object's bytes with one string of its BTF replaced by another of the same length. */
function patchBtfString(path: string, from: string, to: string): Uint8Array {
  expect(to.length).toBe(from.length);
  const bytes = new Uint8Array(readFileSync(path));
  const btf = parseElf(bytes).sectionByName('.BTF');
  if (btf === undefined) throw new Error('no .BTF');
  const section = Buffer.from(bytes.buffer, bytes.byteOffset + btf.offset, btf.size);
  const needle = Buffer.from(`\0${from}\0`);
  const at = section.indexOf(needle);
  expect(at).toBeGreaterThan(0);
  expect(section.indexOf(needle, at + 1)).toBe(-1);
  section.write(to, at + 1);
  return bytes;
}

describe('open(): struct_ops maps from .struct_ops and .struct_ops.link', () => {
  it('makes one struct_ops map per variable, with members, programs and data bytes', () => {
    using obj = BpfObject.open(OPS);
    const cc = obj.maps.get('cc');
    const dummy = obj.maps.get('dummy_ops');
    expect(cc?.type).toBe('struct_ops');
    expect([cc?.keySize, cc?.maxEntries, cc?.flags]).toEqual([4, 1, 0]);
    const ops = cc?.spec.structOps;
    expect(ops?.kernelType).toBe('tcp_congestion_ops');
    expect(ops?.link).toBe(false);
    const programs = Object.fromEntries(
      (ops?.members ?? []).filter((m) => m.program !== undefined).map((m) => [m.name, m.program]),
    );
    expect(programs).toEqual({
      ssthresh: 'cc_ssthresh',
      cong_avoid: 'cc_cong_avoid',
      undo_cwnd: 'cc_undo_cwnd',
      init: 'cc_init',
    });
    const name = ops?.members.find((m) => m.name === 'name');
    const flags = ops?.members.find((m) => m.name === 'flags');
    const data = Buffer.from(ops?.data ?? []);
    expect(data.subarray(name?.offset, (name?.offset ?? 0) + 16).toString('latin1')).toBe(
      'bpfskel_cc\0\0\0\0\0\0',
    );
    expect(data.readUInt32LE(flags?.offset ?? 0)).toBe(1);
    // Function pointer slots are zeros until load puts program FDs there.
    expect(data.readBigUInt64LE(0)).toBe(0n);
    expect(dummy?.spec.structOps?.members.map((m) => m.program)).toEqual([
      'dummy_test_1',
      'dummy_test_2',
      undefined,
    ]);
    for (const p of obj.programs.values())
      expect([p.name, p.type, p.autoload]).toEqual([p.name, 'struct_ops', true]);
  });

  it('keeps the local layout of a flavoured struct, marks link maps, and turns off unreferenced programs', () => {
    using obj = BpfObject.open(LINK);
    const ops = obj.maps.get('cc_link')?.spec.structOps;
    expect(obj.maps.get('cc_link')?.flags).toBe(F_LINK);
    expect([ops?.localType, ops?.kernelType, ops?.section, ops?.link]).toEqual([
      'tcp_congestion_ops___skel',
      'tcp_congestion_ops',
      '.struct_ops.link',
      true,
    ]);
    expect(ops?.members.map((m) => [m.name, m.index, m.offset, m.program])).toEqual([
      ['name', 0, 0, undefined],
      ['init', 1, 16, 'link_init'],
      ['undo_cwnd', 2, 24, 'link_undo_cwnd'],
      ['cong_avoid', 3, 32, 'link_cong_avoid'],
      ['ssthresh', 4, 40, 'link_ssthresh'],
      ['flags', 5, 48, undefined],
    ]);
    expect(obj.programs.get('dummy_unused')?.autoload).toBe(false);
    expect(obj.programs.get('dummy_sleepable')?.autoload).toBe(true);
  });

  it('refuses a struct_ops program as a target of its own', () => {
    using obj = BpfObject.open(OPS);
    expect(() => obj.programs.get('cc_init')?.attach()).toThrow(OptionError);
    expect(() => obj.programs.get('cc_init')?.attach()).toThrow(/attachStructOps/);
  });
});

describe.runIf(requireKernel('bpf()', isRoot(), 'not root'))('struct_ops on the kernel', () => {
  const haveTcp = requireKernel(
    'struct_ops tcp_congestion_ops',
    hasStructOps('tcp_congestion_ops'),
    'kernel BTF has no bpf_struct_ops_tcp_congestion_ops',
  );
  const haveDummy = requireKernel(
    'struct_ops bpf_dummy_ops',
    hasStructOps('bpf_dummy_ops'),
    'kernel BTF has no bpf_struct_ops_bpf_dummy_ops (CONFIG_NET)',
  );

  it.runIf(haveTcp && haveDummy)('sends the struct type, member index and value type from kernel BTF', () => {
    using obj = BpfObject.open(OPS);
    const { maps, progs } = capture(() => obj.load());
    const F = MAP_CREATE_ATTR.fields;
    const created = maps.filter((a) => u32(a, F.map_type) === MapTypes.struct_ops);
    expect(
      created.map((a) => [u32(a, F.btf_vmlinux_value_type_id), u32(a, F.value_size), u32(a, F.key_size)]),
    ).toEqual([
      [
        structId('bpf_struct_ops_tcp_congestion_ops'),
        kernel.sizeOf(structId('bpf_struct_ops_tcp_congestion_ops')),
        4,
      ],
      [structId('bpf_struct_ops_bpf_dummy_ops'), kernel.sizeOf(structId('bpf_struct_ops_bpf_dummy_ops')), 4],
    ]);
    for (const a of created) {
      expect(u32(a, F.btf_fd)).toBeGreaterThan(0);
      expect([u32(a, F.btf_key_type_id), u32(a, F.btf_value_type_id), u32(a, F.max_entries)]).toEqual([
        0, 0, 1,
      ]);
    }
    const P = PROG_LOAD_ATTR.fields;
    const sent = Object.fromEntries(
      progs
        .filter((a) => u32(a, P.prog_type) === ProgramTypes.struct_ops)
        .map((a) => [
          progName(a),
          [u32(a, P.prog_type), u32(a, P.attach_btf_id), u32(a, P.expected_attach_type)],
        ]),
    );
    const tcp = structId('tcp_congestion_ops');
    const dummy = structId('bpf_dummy_ops');
    expect(sent).toEqual({
      cc_ssthresh: [ProgramTypes.struct_ops, tcp, memberIndex('tcp_congestion_ops', 'ssthresh')],
      cc_cong_avoid: [ProgramTypes.struct_ops, tcp, memberIndex('tcp_congestion_ops', 'cong_avoid')],
      cc_undo_cwnd: [ProgramTypes.struct_ops, tcp, memberIndex('tcp_congestion_ops', 'undo_cwnd')],
      cc_init: [ProgramTypes.struct_ops, tcp, memberIndex('tcp_congestion_ops', 'init')],
      dummy_test_1: [ProgramTypes.struct_ops, dummy, 0],
      dummy_test_2: [ProgramTypes.struct_ops, dummy, 1],
    });
    // What the kernel holds.
    const info = mapInfo(obj.maps.get('cc')?.fd ?? -1);
    expect([info.type, info.btfVmlinuxValueTypeId, info.keySize, info.maxEntries, info.name]).toEqual([
      MapTypes.struct_ops,
      structId('bpf_struct_ops_tcp_congestion_ops'),
      4,
      1,
      'cc',
    ]);
    expect(progInfo(obj.programs.get('cc_init')?.fd ?? -1).attachBtfId).toBe(tcp);
  });

  it.runIf(haveTcp)('sends the kernel member index, not the local one, for a flavoured struct', () => {
    using obj = BpfObject.open(LINK);
    const { maps, progs } = capture(() => obj.load());
    const P = PROG_LOAD_ATTR.fields;
    const index = Object.fromEntries(progs.map((a) => [progName(a), u32(a, P.expected_attach_type)]));
    expect(index.link_ssthresh).toBe(memberIndex('tcp_congestion_ops', 'ssthresh'));
    expect(index.link_init).toBe(memberIndex('tcp_congestion_ops', 'init'));
    expect(index.link_undo_cwnd).toBe(memberIndex('tcp_congestion_ops', 'undo_cwnd'));
    expect(index.dummy_unused).toBeUndefined();
    const F = MAP_CREATE_ATTR.fields;
    const ccLink = maps.find(
      (a) => u32(a, F.btf_vmlinux_value_type_id) === structId('bpf_struct_ops_tcp_congestion_ops'),
    );
    expect(ccLink && u32(ccLink, F.map_flags)).toBe(F_LINK);
    expect(mapInfo(obj.maps.get('cc_link')?.fd ?? -1).mapFlags).toBe(F_LINK);
    expect(obj.programs.get('dummy_unused')?.fd).toBe(-1);
  });

  it.runIf(haveDummy)('runs bpf_dummy_ops programs with BPF_PROG_TEST_RUN', () => {
    using obj = BpfObject.open(OPS);
    obj.load();
    const state = new Int32Array([20]);
    const statePtr = addressOf(new Uint8Array(state.buffer));
    const run = (prog: string, args: bigint[]) =>
      progTestRun(obj.programs.get(prog)?.fd ?? -1, {
        ctxIn: new Uint8Array(new BigUint64Array(args).buffer),
      }).retval;
    expect(run('dummy_test_1', [statePtr])).toBe(141);
    expect(state[0]).toBe(41);
    expect(run('dummy_test_1', [0n])).toBe(7);
    expect(run('dummy_test_2', [statePtr, 1000n, 200n, 30n, 4n])).toBe(1234);
    expect(obj.maps.get('.bss')?.dataView().getInt32(4, true)).toBe(2);
    using link = BpfObject.open(LINK);
    link.load();
    const ctx = new Uint8Array(new BigUint64Array([statePtr]).buffer);
    expect(progTestRun(link.programs.get('dummy_sleepable')?.fd ?? -1, { ctxIn: ctx }).retval).toBe(3);
  });

  it.runIf(haveTcp)(
    'registers a .struct_ops map by its update, runs it on TCP sockets, unregisters by delete',
    () => {
      using obj = BpfObject.open(OPS);
      obj.load();
      const map = obj.maps.get('cc');
      if (map === undefined) throw new Error('no map cc');
      expect(availableCcs()).not.toContain('bpfskel_cc');
      const link = attachStructOps(map);
      try {
        expect(link).toBeInstanceOf(StructOpsLink);
        expect([link.type, link.isKernelLink, link.fd]).toEqual(['struct_ops', false, -1]);
        expect(availableCcs()).toContain('bpfskel_cc');
        tcpWith('bpfskel_cc');
        // init runs for the connecting and the accepted socket.
        expect(obj.maps.get('.bss')?.dataView().getInt32(0, true)).toBeGreaterThanOrEqual(2);
        expect(() => link.pin('/sys/fs/bpf/nowhere')).toThrow(OptionError);
      } finally {
        link.detach();
      }
      expect(link.detached).toBe(true);
      expect(availableCcs()).not.toContain('bpfskel_cc');
      // The kernel registers a .struct_ops map once in its life.
      const again = thrown(() => attachStructOps(map));
      expect(again).toBeInstanceOf(BpfError);
      expect((again as BpfError).code).toBe('EBUSY');
      expect((again as BpfError).message).toMatch(/registers only once/);
    },
  );

  it.runIf(haveTcp && haveDummy)(
    'attach() is all or nothing: bpf_dummy_ops refuses registration, cc is undone',
    () => {
      const before = countOpenFds();
      {
        using obj = BpfObject.open(OPS);
        obj.load();
        const error = thrown(() => obj.attach());
        expect(error).toBeInstanceOf(BpfError);
        expect(error).not.toBeInstanceOf(FeatureMissingError);
        expect((error as BpfError).code).toBe('EOPNOTSUPP');
        expect((error as BpfError).command).toBe('BPF_MAP_UPDATE_ELEM');
        expect((error as BpfError).message).toMatch(/dummy_ops.*bpf_dummy_ops/);
        expect(obj.links.size).toBe(0);
        expect(availableCcs()).not.toContain('bpfskel_cc');
      }
      expect(countOpenFds()).toBe(before);
    },
  );

  it.runIf(haveTcp)('closing the object unregisters a .struct_ops map registered explicitly', () => {
    const obj = BpfObject.open(OPS);
    obj.load();
    const map = obj.maps.get('cc');
    if (map === undefined) throw new Error('no map cc');
    const link = attachStructOps(map);
    expect(availableCcs()).toContain('bpfskel_cc');
    obj.close();
    expect(availableCcs()).not.toContain('bpfskel_cc');
    link.detach();
  });

  it.runIf(haveTcp)(
    'registers a .struct_ops.link map through a link; detach and attach again; swap maps',
    () => {
      using a = BpfObject.open(LINK);
      using b = BpfObject.open(LINK);
      a.load();
      b.load();
      const mapA = a.maps.get('cc_link');
      const mapB = b.maps.get('cc_link');
      if (mapA === undefined || mapB === undefined) throw new Error('no map cc_link');
      const inits = (o: BpfObject) => o.maps.get('.bss')?.dataView().getInt32(0, true);
      for (let round = 0; round < 2; round++) {
        const link = attachStructOps(mapA);
        try {
          expect([link.type, link.isKernelLink]).toEqual(['struct_ops', true]);
          const info = link.info();
          expect(info.kind === 'struct_ops' && info.mapId).toBe(mapInfo(mapA.fd).id);
          expect(availableCcs()).toContain('bpfskel_link');
        } finally {
          link.detach();
        }
        expect(availableCcs()).not.toContain('bpfskel_link');
      }
      const link = attachStructOps(mapA);
      try {
        tcpWith('bpfskel_link');
        const first = inits(a) ?? 0;
        expect(first).toBeGreaterThanOrEqual(2);
        expect(() => link.update(a.programs.get('link_init') as never)).toThrow(OptionError);
        expect(() => link.replaceMap(mapB, { expected: mapB })).toThrow(BpfError);
        link.replaceMap(mapB, { expected: mapA });
        expect(link.map).toBe('cc_link');
        const info = link.info();
        expect(info.kind === 'struct_ops' && info.mapId).toBe(mapInfo(mapB.fd).id);
        tcpWith('bpfskel_link');
        expect(inits(a)).toBe(first);
        expect(inits(b)).toBeGreaterThanOrEqual(2);
      } finally {
        link.detach();
      }
      expect(availableCcs()).not.toContain('bpfskel_link');
    },
  );

  it.runIf(haveTcp)('a registration made with attachStructOps() ends when its object closes', () => {
    const fds = countOpenFds();
    const obj = BpfObject.open(LINK);
    obj.load();
    const link = attachStructOps(obj.maps.get('cc_link')!);
    expect(availableCcs()).toContain('bpfskel_link');
    obj.close();
    expect(link.detached).toBe(true);
    expect(availableCcs()).not.toContain('bpfskel_link');
    expect(countOpenFds()).toBe(fds);
  });

  it.runIf(haveTcp)(
    'a generated skeleton registers its struct_ops maps on attach(), skipping those with autoattach off',
    async () => {
      const dir = join(ROOT, 'test', 'tmp', 'struct-ops');
      mkdirSync(dir, { recursive: true });
      const { code } = generateSkeleton(new Uint8Array(readFileSync(LINK)), {
        embed: 'inline',
        fileName: 'struct_ops_link.bpf.o',
      });
      writeFileSync(join(dir, 'struct_ops_link.skel.ts'), code);
      const mod = (await import(join(dir, 'struct_ops_link.skel.ts'))) as {
        StructOpsLinkSkel: {
          openAndLoad(): { obj: BpfObject; attach(): void; detach(): void; destroy(): void };
        };
      };
      const skel = mod.StructOpsLinkSkel.openAndLoad();
      try {
        // bpf_dummy_ops cannot be registered: with it left on, attach() fails and undoes cc_link too.
        expect(() => skel.attach()).toThrow(/dummy_link/);
        expect(availableCcs()).not.toContain('bpfskel_link');
        for (const m of skel.obj.maps.values()) if (m.name !== 'cc_link') m.autoattach = false;
        skel.attach();
        expect(availableCcs()).toContain('bpfskel_link');
        skel.detach();
        expect(availableCcs()).not.toContain('bpfskel_link');
        skel.attach();
        expect(availableCcs()).toContain('bpfskel_link');
      } finally {
        skel.destroy();
      }
      expect(availableCcs()).not.toContain('bpfskel_link');
    },
  );

  it.runIf(haveTcp && haveDummy)(
    'attach() on a link object rolls back the link when a later map fails',
    () => {
      using obj = BpfObject.open(LINK);
      obj.load();
      expect(() => obj.attach()).toThrow(/dummy_link.*EOPNOTSUPP|dummy_link[\s\S]*does not register/);
      expect(obj.links.size).toBe(0);
      expect(availableCcs()).not.toContain('bpfskel_link');
    },
  );

  describe('bad input', () => {
    it.runIf(haveDummy)(
      'a struct type the kernel lacks: FeatureMissingError before anything is created',
      () => {
        const bytes = patchBtfString(OPS, 'bpf_dummy_ops', 'bpf_skel_nops');
        const before = countOpenFds();
        using obj = BpfObject.open(bytes);
        expect(obj.maps.get('dummy_ops')?.spec.structOps?.kernelType).toBe('bpf_skel_nops');
        let error: unknown;
        const { maps, progs } = capture(() => {
          error = thrown(() => obj.load());
        });
        expect(error).toBeInstanceOf(FeatureMissingError);
        expect((error as FeatureMissingError).feature).toBe('struct_ops bpf_skel_nops');
        expect((error as FeatureMissingError).code).toBe('ESRCH');
        expect((error as Error).message).toMatch(/dummy_ops/);
        expect([maps.length, progs.length]).toEqual([0, 0]);
        expect(obj.loaded).toBe(false);
        obj.close();
        expect(countOpenFds()).toBe(before);
      },
    );

    it.runIf(haveDummy)('a member the kernel lacks: an error naming it; an unset one is ignored', () => {
      const before = countOpenFds();
      {
        using obj = BpfObject.open(patchBtfString(OPS, 'test_2', 'test_9'));
        const error = thrown(() => obj.load());
        expect(error).toBeInstanceOf(FeatureMissingError);
        expect((error as FeatureMissingError).feature).toBe('struct_ops bpf_dummy_ops.test_9');
        expect((error as Error).message).toMatch(/member 'test_9'/);
      }
      {
        using obj = BpfObject.open(patchBtfString(OPS, 'test_sleepable', 'test_sleepabl_'));
        obj.load();
        expect(obj.programs.get('dummy_test_2')?.fd).toBeGreaterThan(0);
      }
      expect(countOpenFds()).toBe(before);
    });

    it.runIf(haveTcp)(
      'an unreferenced struct_ops program forced to load: an error naming it, no FD left',
      () => {
        const before = countOpenFds();
        {
          using obj = BpfObject.open(LINK);
          const p = obj.programs.get('dummy_unused');
          if (p === undefined) throw new Error('no program');
          p.autoload = true;
          expect(() => obj.load()).toThrow(/'dummy_unused'.*no struct_ops map references/);
        }
        {
          using obj = BpfObject.open(LINK);
          const p = obj.programs.get('link_init');
          if (p === undefined) throw new Error('no program');
          p.autoload = false;
          expect(() => obj.load()).toThrow(/member 'init' is program 'link_init', whose autoload is off/);
        }
        expect(countOpenFds()).toBe(before);
      },
    );

    it('attachStructOps refuses other maps and maps not loaded', () => {
      using obj = BpfObject.open(OPS);
      const bss = obj.maps.get('.bss');
      const cc = obj.maps.get('cc');
      if (bss === undefined || cc === undefined) throw new Error('no maps');
      expect(() => attachStructOps(bss)).toThrow(OptionError);
      expect(() => attachStructOps(cc)).toThrow(/not loaded/);
    });
  });

  it.runIf(haveTcp && haveDummy && commandExists('bpftool'))(
    'libbpf 1.1 loads the same programs (tags) and fails at the same point (dummy_ops update)',
    () => {
      const ref = libbpfReference(OPS);
      using obj = BpfObject.open(OPS);
      obj.load();
      for (const p of obj.programs.values())
        expect([p.name, p.tag]).toEqual([p.name, ref.programs.get(p.name)?.tag]);
      // bpftool registers each struct_ops map in turn; unregister what it registered right after.
      const script =
        'out=$(bpftool struct_ops register "$0" 2>&1); echo "$out"; ' +
        'for id in $(echo "$out" | sed -n "s/^Registered .* id \\([0-9]*\\)$/\\1/p"); do bpftool struct_ops unregister id $id >/dev/null; done';
      const r = spawnSync('sh', ['-c', script, OPS], { encoding: 'utf8', timeout: 20_000 });
      expect(r.stdout).toMatch(/Registered tcp_congestion_ops cc id \d+/);
      expect(r.stdout).toMatch(/can't register struct_ops dummy_ops/);
      expect(availableCcs()).not.toContain('bpfskel_cc');
    },
  );
});
