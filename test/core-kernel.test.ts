/**
 * CO-RE of core.bpf.o against this kernel's BTF: every relocated value must be what the kernel's BTF says
 * (offsets from our layout code over /sys/kernel/btf/vmlinux), the program must load and, run with
 * BPF_PROG_TEST_RUN in this thread, read this thread's pid, tgid, parent and comm; and its tag must equal
 * the one libbpf gets for the same object on this kernel.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import type { Btf } from '../src/btf/types.js';
import { applyCoreRelocations, type CoreOutcome, newCoreCandidateCache } from '../src/runtime/core/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { progInfo } from '../src/runtime/sys/info.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { commandExists, isRoot, requireKernel, tempBpffs } from './helpers/kernel.js';
import { libbpfReference } from './helpers/libbpf-ref.js';

const FILE = new URL('./fixtures/core.bpf.o', import.meta.url).pathname;
const SECTION = 'raw_tp/sys_enter';
const hasKernelBtf = requireKernel(
  'kernel BTF',
  (() => {
    try {
      loadKernelBtf();
      return true;
    } catch {
      return false;
    }
  })(),
  '/sys/kernel/btf/vmlinux is not readable',
);

/** Applies the section's CO-RE relocations to a copy of its instructions. */
function relocate(obj: BpfObject, target: Btf): { insns: Uint8Array; outcomes: CoreOutcome[] } {
  const { spec } = obj;
  const insns = new Uint8Array(spec.elf.sectionByName(SECTION)!.data);
  const relos = spec.btfExt!.coreRelo.find((s) => s.section === SECTION)!.records;
  const outcomes = applyCoreRelocations({ insns, section: SECTION, relos, local: spec.btf!, target });
  return { insns, outcomes };
}

/** Byte offset of member `name` of kernel struct `struct`, from the kernel's BTF. */
function offsetOf(k: Btf, struct: string, name: string): number {
  const t = k.findByName(struct, 'struct')!;
  const member = k.memberLayout(t.id).find((m) => m.name === name)!;
  return member.bitOffset / 8;
}

describe.runIf(hasKernelBtf)('core.bpf.o against the kernel BTF', () => {
  const k = hasKernelBtf ? loadKernelBtf() : undefined!;

  it('computes what the kernel BTF says', () => {
    using obj = BpfObject.open(FILE);
    const { outcomes } = relocate(obj, k);
    const task = k.findByName('task_struct', 'struct')!;
    const mapType = k.findByName('bpf_map_type', 'enum')!;
    const ringbuf = mapType.values.find((v) => v.name === 'BPF_MAP_TYPE_RINGBUF')!.value;
    const pidMember = k.memberLayout(task.id).find((m) => m.name === 'pid')!;
    const bitfield = k.memberLayout(task.id).find((m) => m.name === 'sched_reset_on_fork')!;
    const got = outcomes.map((o) => [
      o.kind,
      o.access,
      o.result.kind === 'ok' ? o.result.value : o.result.reason,
    ]);
    const localTask = obj.spec.btf!.findByName('task_struct', 'struct')!.id;
    expect(got).toEqual([
      ['field_byte_offset', 'struct task_struct.pid', BigInt(offsetOf(k, 'task_struct', 'pid'))],
      ['field_byte_offset', 'struct task_struct.tgid', BigInt(offsetOf(k, 'task_struct', 'tgid'))],
      [
        'field_byte_offset',
        'struct task_struct.real_parent',
        BigInt(offsetOf(k, 'task_struct', 'real_parent')),
      ],
      ['field_byte_offset', 'struct task_struct.comm', BigInt(offsetOf(k, 'task_struct', 'comm'))],
      // The bitfield is read as the naturally aligned unit of its type that holds it.
      [
        'field_byte_offset',
        'struct task_struct.sched_reset_on_fork',
        BigInt(Math.floor(bitfield.bitOffset / 32) * 4),
      ],
      ['field_byte_size', 'struct task_struct.sched_reset_on_fork', 4n],
      [
        'field_lshift_u64',
        'struct task_struct.sched_reset_on_fork',
        BigInt(64 - ((bitfield.bitOffset % 32) + 1)),
      ],
      ['field_signed', 'struct task_struct.sched_reset_on_fork', 0n],
      ['field_rshift_u64', 'struct task_struct.sched_reset_on_fork', 63n],
      ['field_rshift_u64', 'struct task_struct.sched_reset_on_fork', 63n],
      ['field_exists', 'struct task_struct.pid', 1n],
      ['field_exists', 'struct task_struct___fake.bpf_skel_no_such_field', 0n],
      ['field_byte_size', 'struct task_struct.pid', BigInt(k.sizeOf(pidMember.type))],
      ['type_exists', 'struct task_struct', 1n],
      ['type_exists', 'struct bpf_skel_missing_type', 0n],
      ['type_size', 'struct task_struct', BigInt(task.size)],
      ['type_id_local', 'struct task_struct', BigInt(localTask)],
      ['type_id_target', 'struct task_struct', BigInt(task.id)],
      ['enumval_exists', 'enum bpf_map_type___fake::BPF_MAP_TYPE_RINGBUF___fake', 1n],
      ['enumval_exists', 'enum bpf_map_type___fake::BPF_MAP_TYPE_BPF_SKEL_NONE___fake', 0n],
      ['enumval_value', 'enum bpf_map_type___fake::BPF_MAP_TYPE_RINGBUF___fake', BigInt(ringbuf)],
    ]);
    expect(outcomes[18].result).toMatchObject({
      targetTypeId: mapType.id,
      target: 'enum bpf_map_type::BPF_MAP_TYPE_RINGBUF',
    });
  });

  it('gives the same result through a shared candidate cache, object after object', () => {
    const cache = newCoreCandidateCache();
    using a = BpfObject.open(FILE);
    using b = BpfObject.open(FILE);
    const run = (obj: BpfObject) => {
      const insns = new Uint8Array(obj.spec.elf.sectionByName(SECTION)!.data);
      const relos = obj.spec.btfExt!.coreRelo[0].records;
      applyCoreRelocations({ insns, section: SECTION, relos, local: obj.spec.btf!, target: k, cache });
      return insns;
    };
    expect(run(a)).toEqual(run(b));
    expect(run(a)).toEqual(relocate(a, k).insns);
  });
});

const canLoad = hasKernelBtf && requireKernel('bpf()', isRoot(), 'needs root to load programs');

describe.runIf(canLoad)('core.bpf.o loaded with CO-RE applied', () => {
  const withBpftool = commandExists('bpftool');
  // Mounted when the tests run, not when vitest collects them (`vitest list` runs no hooks).
  let bpffs: ReturnType<typeof tempBpffs> | undefined;
  beforeAll(() => {
    if (withBpftool) bpffs = tempBpffs();
  });
  afterAll(() => bpffs?.[Symbol.dispose]());

  /** Opens core.bpf.o; load() applies its CO-RE relocations against the running kernel. */
  function openRelocated(): BpfObject {
    return BpfObject.open(FILE, { pinRootPath: bpffs?.path, bpfTokenPath: '' });
  }

  it('reads this thread through the relocated offsets', () => {
    using obj = openRelocated();
    obj.load();
    const prog = obj.programs.get('probe')!;
    expect(progTestRun(prog.fd).retval).toBe(0);

    const bss = obj.maps.get('.bss')!;
    const value = new Uint8Array(bss.valueSize);
    expect(bss.lookup(new Uint8Array(4), value)).toBe(true);
    const v = new DataView(value.buffer);
    const section = obj.spec.elf.sectionByName('.bss')!;
    const at = new Map(obj.spec.elf.symbolsOf(section.index).map((s) => [s.name, Number(s.value)]));
    const i32 = (name: string) => v.getInt32(at.get(name)!, true);
    const [, , tid] = readlinkSync('/proc/thread-self').split('/');
    const comm = readFileSync('/proc/thread-self/comm', 'utf8').trim();
    const k = loadKernelBtf();
    expect({
      pid: i32('pid'),
      tgid: i32('tgid'),
      parent: i32('parent_tgid'),
      comm: new TextDecoder()
        .decode(value.subarray(at.get('comm')!, at.get('comm')! + 16))
        .replace(/\0.*$/s, ''),
      resetOnFork: v.getUint32(at.get('sched_reset_on_fork')!, true),
      hasPid: i32('has_pid_field'),
      hasFake: i32('has_fake_field'),
      pidSize: i32('pid_field_size'),
      hasTask: i32('has_task_struct'),
      hasMissing: i32('has_missing_type'),
      taskSize: i32('task_struct_size'),
      kernelTypeId: i32('kernel_type_id'),
      hasRingbuf: i32('has_ringbuf_enum'),
      hasFakeEnum: i32('has_fake_enum'),
      ringbuf: Number(v.getBigInt64(at.get('ringbuf_enum_value')!, true)),
      runs: v.getUint32(at.get('runs')!, true),
    }).toEqual({
      pid: Number(tid),
      tgid: process.pid,
      parent: process.ppid,
      comm,
      resetOnFork: 0,
      hasPid: 1,
      hasFake: 0,
      pidSize: 4,
      hasTask: 1,
      hasMissing: 0,
      taskSize: k.findByName('task_struct', 'struct')!.size,
      kernelTypeId: k.findByName('task_struct', 'struct')!.id,
      hasRingbuf: 1,
      hasFakeEnum: 0,
      ringbuf: 27,
      runs: 1,
    });
  });

  it.runIf(withBpftool)('gets the tag libbpf gets on this kernel', () => {
    const ref = libbpfReference(FILE).programs.get('probe')!;
    using obj = openRelocated();
    obj.load();
    const info = progInfo(obj.programs.get('probe')!.fd);
    expect({ tag: info.tag, xlated: info.xlatedProgLen }).toEqual({ tag: ref.tag, xlated: ref.xlatedLen });
  });
});
