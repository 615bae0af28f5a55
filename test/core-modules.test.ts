/**
 * CO-RE targets beyond vmlinux: a type the kernel's own BTF has no candidate for is looked up in module BTF
 * (split over vmlinux), as libbpf does. This machine has no module with BTF loaded, so the module here is
 * built by the test: split BTF over the real /sys/kernel/btf/vmlinux holding core_custom.bpf.o's
 * `struct core_sample` laid out anew.
 */
import { describe, expect, it } from 'vitest';
import { createBtf } from '../src/btf/create.js';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { parseBtf } from '../src/btf/parse.js';
import type { Btf, BtfType } from '../src/btf/types.js';
import { writeBtf } from '../src/btf/write.js';
import { relocateCore } from '../src/runtime/load/core.js';
import { BpfObject } from '../src/runtime/object.js';

const FIXTURE = new URL('./fixtures/core_custom.bpf.o', import.meta.url).pathname;

/** Split BTF over vmlinux with `struct core_sample { u32 pad; u32 pad2; u32 moved; }` (moved at 8). */
function moduleBtf(vmlinux: Btf): Btf {
  const first = vmlinux.types.length;
  const u32 = vmlinux.findByName('unsigned int', 'int')!.id;
  const sample: BtfType = {
    id: first,
    name: 'core_sample',
    kind: 'struct',
    size: 12,
    kindFlag: false,
    members: [
      { name: 'pad', type: u32, bitOffset: 0, bitfieldSize: 0 },
      { name: 'pad2', type: u32, bitOffset: 32, bitfieldSize: 0 },
      { name: 'moved', type: u32, bitOffset: 64, bitfieldSize: 0 },
    ],
  };
  const split = createBtf([...vmlinux.types, sample], { base: vmlinux, file: 'test-module' });
  return parseBtf(writeBtf(split), { base: vmlinux, file: 'test-module' });
}

describe('CO-RE against module BTF', () => {
  const vmlinux = loadKernelBtf();
  const module = moduleBtf(vmlinux);
  // open() only parses: no FD to release.
  const obj = BpfObject.open(FIXTURE, { bpfTokenPath: '' });

  it('relocates a type vmlinux lacks against the module that has it', () => {
    const { outcomes } = relocateCore(obj.spec, undefined, () => [module]);
    const moved = outcomes.find(
      (o) => o.access === 'struct core_sample.moved' && o.kind === 'field_byte_offset',
    );
    expect(moved?.result).toMatchObject({ kind: 'ok', value: 8n });
    if (moved?.result.kind !== 'ok') throw new Error('unreachable');
    // The target id is the module's: split ids continue after vmlinux's.
    expect(moved.result.targetTypeId).toBeGreaterThanOrEqual(vmlinux.types.length);
  });

  it('without the module the same relocation finds nothing and is poisoned', () => {
    const { outcomes } = relocateCore(obj.spec, undefined, () => []);
    const moved = outcomes.find(
      (o) => o.access === 'struct core_sample.moved' && o.kind === 'field_byte_offset',
    );
    expect(moved?.result.kind).toBe('poisoned');
  });

  it('prefers vmlinux: relocations of kernel types ignore the modules', () => {
    using core = BpfObject.open(new URL('./fixtures/core.bpf.o', import.meta.url).pathname, {
      bpfTokenPath: '',
    });
    let asked = 0;
    const { outcomes } = relocateCore(core.spec, undefined, () => {
      asked++;
      return [module];
    });
    expect(outcomes.length).toBeGreaterThan(0);
    const fromModule = outcomes.filter(
      (o) => o.result.kind === 'ok' && o.result.targetTypeId >= vmlinux.types.length,
    );
    expect(fromModule).toEqual([]);
    // core.bpf.o has ___fake types vmlinux lacks: for those (only) the modules were consulted.
    expect(asked).toBeLessThanOrEqual(1);
  });
});
