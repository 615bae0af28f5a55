/**
 * `gen min-core-btf`: the minimal BTF for core.bpf.o, made from this kernel's BTF, holds only the types and
 * members its CO-RE relocations reach; it relocates the object exactly as the full BTF does (every
 * instruction equal except `bpf_core_type_id_kernel`, whose value is by definition an id of the BTF used),
 * and the program loaded with it runs with the same results. bpftool 7.1's `gen min_core_btf` is the
 * reference for the output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { parseBtf } from '../src/btf/parse.js';
import { minCoreBtf } from '../src/gen/min-core-btf.js';
import type { CoreOutcome } from '../src/runtime/core/index.js';
import { relocateCore } from '../src/runtime/load/core.js';
import { BpfObject } from '../src/runtime/object.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { commandExists, isRoot, requireKernel } from './helpers/kernel.js';

const FILE = new URL('./fixtures/core.bpf.o', import.meta.url).pathname;
const VMLINUX = '/sys/kernel/btf/vmlinux';
const hasBtf = requireKernel(
  'kernel BTF',
  (() => {
    try {
      readFileSync(VMLINUX, { flag: 'r' }).subarray(0, 1);
      return true;
    } catch {
      return false;
    }
  })(),
  `${VMLINUX} is missing (CONFIG_DEBUG_INFO_BTF)`,
);

describe.runIf(hasBtf)('min-core-btf for core.bpf.o', () => {
  const dir = mkdtempSync(join(tmpdir(), 'min-core-btf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'core.min.btf');
  const bytes = hasBtf
    ? minCoreBtf(loadKernelBtf(), [{ bytes: readFileSync(FILE), fileName: 'core.bpf.o' }])
    : undefined!;
  writeFileSync(out, bytes);

  it('keeps only the reached types and members', () => {
    const btf = parseBtf(bytes);
    const task = btf.findByName('task_struct', 'struct')!;
    const full = loadKernelBtf().findByName('task_struct', 'struct')!;
    expect(task.size).toBe(full.size);
    expect(task.members.map((m) => m.name).sort()).toEqual([
      'comm',
      'pid',
      'real_parent',
      'sched_reset_on_fork',
      'tgid',
    ]);
    for (const m of task.members) {
      expect(m.bitOffset).toBe(full.members.find((f) => f.name === m.name)!.bitOffset);
    }
    expect(btf.findByName('bpf_map_type', 'enum')).toBeDefined();
    expect(btf.types.length).toBeLessThan(20);
    expect(bytes.length).toBeLessThan(readFileSync(VMLINUX).length / 1000);
  });

  it('is what bpftool gen min_core_btf makes for the same inputs', () => {
    if (!requireKernel('bpftool', commandExists('bpftool'), 'bpftool is the reference')) return;
    const ref = join(dir, 'bpftool.btf');
    execFileSync('bpftool', ['gen', 'min_core_btf', VMLINUX, ref, FILE]);
    const theirs = readFileSync(ref);
    console.log(`min-core-btf: ${bytes.length} bytes; bpftool gen min_core_btf: ${theirs.length} bytes`);
    expect(bytes.length).toBeLessThanOrEqual(theirs.length);
    const a = parseBtf(bytes);
    const b = parseBtf(theirs);
    expect(a.types.map((t) => `${t.kind} ${t.name}`).sort()).toEqual(
      b.types.map((t) => `${t.kind} ${t.name}`).sort(),
    );
  });

  it('relocates every instruction as the full BTF does, but for type ids of the target BTF', () => {
    using obj = BpfObject.open(FILE);
    const full = relocateCore(obj.spec, VMLINUX);
    const min = relocateCore(obj.spec, out);
    // Type ids of the target BTF differ by design; every other relocation resolves to the same value.
    const value = (o: CoreOutcome) =>
      o.kind === 'type_id_target' || o.result.kind !== 'ok' ? o.result.kind : o.result.value;
    expect(min.outcomes.map(value)).toEqual(full.outcomes.map(value));
    const typeIdInsns = new Set(
      full.outcomes.filter((o) => o.kind === 'type_id_target').map((o) => o.insnOff / 8),
    );
    for (const [section, insns] of full.sections) {
      const other = min.sections.get(section)!;
      for (let i = 0; i < insns.length / 8; i++) {
        if (typeIdInsns.has(i)) continue;
        expect(
          Buffer.from(other.subarray(i * 8, i * 8 + 8)).equals(Buffer.from(insns.subarray(i * 8, i * 8 + 8))),
          `insn ${i}`,
        ).toBe(true);
      }
    }
  });

  it.runIf(requireKernel('bpf()', isRoot(), 'loading needs root'))(
    'loads and runs with the same results as with the full BTF',
    () => {
      const run = (btfCustomPath: string) => {
        using obj = BpfObject.open(FILE, { bpfTokenPath: '', btfCustomPath });
        obj.load();
        const prog = obj.programs.get('probe')!;
        expect(progTestRun(prog.fd).retval).toBe(0);
        const bss = obj.maps.get('.bss')!.dataView();
        const section = obj.spec.elf.sectionByName('.bss')!;
        const values: Record<string, number> = {};
        for (const s of obj.spec.elf.symbolsOf(section.index)) {
          if (s.name !== 'comm') values[s.name] = bss.getInt32(s.value, true);
        }
        return { tag: prog.tag, values };
      };
      const full = run(VMLINUX);
      const min = run(out);
      const minTaskId = parseBtf(bytes).findByName('task_struct', 'struct')!.id;
      expect(min.values.kernel_type_id).toBe(minTaskId);
      expect(full.values.kernel_type_id).toBe(loadKernelBtf().findByName('task_struct', 'struct')!.id);
      expect({ ...min.values, kernel_type_id: 0 }).toEqual({ ...full.values, kernel_type_id: 0 });
      expect(min.values.pid).toBeGreaterThan(0);
      // The tags differ only because bpf_core_type_id_kernel() yields an id of the BTF used.
      expect(min.tag === full.tag).toBe(minTaskId === full.values.kernel_type_id);
    },
  );
});
