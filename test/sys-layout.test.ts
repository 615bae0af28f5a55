/**
 * Checks every layout of src/runtime/sys/attr.ts, and the kernel constants of consts.ts, against the running
 * kernel's BTF (/sys/kernel/btf/vmlinux), read with the project's own BTF reader.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import type { Btf } from '../src/btf/types.js';
import {
  BPF_ATTR_LAYOUTS,
  type CommandLayout,
  type FieldLayout,
  MAX_ATTR_SIZE,
  STRUCT_LAYOUTS,
} from '../src/runtime/sys/attr.js';
import { BpfCmd } from '../src/runtime/sys/bpf.js';
import { ElemFlag, MapFlag } from '../src/runtime/sys/consts.js';
import { requireKernel } from './helpers/kernel.js';

/** A leaf member as BTF places it: offset in bits from the start of the searched type. */
interface Placed {
  bitOffset: number;
  size: number;
  bitfieldSize: number;
}

/** Finds `path` (member names; anonymous members are looked through, as in C) inside composite `id`. */
function findMember(btf: Btf, id: number, path: readonly string[]): Placed | undefined {
  const t = btf.resolve(id);
  if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
  for (const m of btf.memberLayout(t.id)) {
    if (m.name === path[0]) {
      if (path.length === 1)
        return { bitOffset: m.bitOffset, size: btf.sizeOf(m.type), bitfieldSize: m.bitfieldSize };
      const inner = findMember(btf, m.type, path.slice(1));
      if (inner !== undefined) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    } else if (m.name === '') {
      const inner = findMember(btf, m.type, path);
      if (inner !== undefined) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return undefined;
}

/** Every leaf of composite `id` as `dotted.path -> placement`, anonymous members flattened. */
function leaves(
  btf: Btf,
  id: number,
  prefix = '',
  base = 0,
  out = new Map<string, Placed>(),
): Map<string, Placed> {
  for (const m of btf.memberLayout(btf.resolveId(id))) {
    const t = btf.resolve(m.type);
    const at = base + m.bitOffset;
    if (t.kind === 'struct' || t.kind === 'union') {
      leaves(btf, t.id, m.name === '' ? prefix : `${prefix}${m.name}.`, at, out);
    } else {
      out.set(`${prefix}${m.name}`, {
        bitOffset: at,
        size: btf.sizeOf(m.type),
        bitfieldSize: m.bitfieldSize,
      });
    }
  }
  return out;
}

function expectPlaced(what: string, field: FieldLayout, placed: Placed | undefined): void {
  expect(placed, `${what} exists in the kernel's BTF`).toBeDefined();
  if (placed === undefined) return;
  expect({ offsetBits: placed.bitOffset, size: placed.size, bits: placed.bitfieldSize }, what).toEqual({
    offsetBits: field.offset * 8 + (field.bitOffset ?? 0),
    size: field.size,
    bits: field.bitSize ?? 0,
  });
}

/** Fields whose names say they are padding; attr.ts does not describe them. */
const RESERVED = /^__reserved/;

const hasBtf = requireKernel(
  'kernel BTF',
  existsSync('/sys/kernel/btf/vmlinux'),
  '/sys/kernel/btf/vmlinux missing',
);

describe.runIf(hasBtf)('attr layouts match the kernel BTF', () => {
  const btf = hasBtf ? loadKernelBtf() : undefined;

  function attrUnion(): number {
    const u = btf!.findByName('bpf_attr', 'union');
    if (u === undefined) throw new Error('no union bpf_attr in kernel BTF');
    return u.id;
  }

  /** The type id of the struct a command reads: a named member, or the one anonymous struct holding its fields. */
  function commandStruct(layout: CommandLayout): number {
    const members = btf!.memberLayout(attrUnion());
    if (layout.member !== '') {
      const m = members.find((x) => x.name === layout.member);
      if (m === undefined) throw new Error(`union bpf_attr has no member ${layout.member}`);
      expect(m.bitOffset).toBe(0);
      return m.type;
    }
    const names = Object.keys(layout.fields);
    const candidates = members.filter(
      (m) => m.name === '' && names.every((n) => findMember(btf!, m.type, n.split('.')) !== undefined),
    );
    expect(candidates.length, `exactly one anonymous struct holds ${names.join(', ')}`).toBe(1);
    return candidates[0]!.type;
  }

  it('has a layout for every command, and the largest fits union bpf_attr', () => {
    expect(Object.keys(BPF_ATTR_LAYOUTS).sort()).toEqual(Object.keys(BpfCmd).sort());
    expect(MAX_ATTR_SIZE).toBe(btf!.sizeOf(attrUnion()));
  });

  for (const [cmd, layout] of Object.entries(BPF_ATTR_LAYOUTS)) {
    it(`BPF_${cmd}: every field, and every kernel field, at the same offset and size`, () => {
      const struct = commandStruct(layout);
      for (const [name, field] of Object.entries(layout.fields)) {
        expectPlaced(`BPF_${cmd} ${name}`, field, findMember(btf!, struct, name.split('.')));
      }
      const kernel = leaves(btf!, struct);
      const missing = [...kernel.keys()].filter((n) => !RESERVED.test(n) && !(n in layout.fields));
      expect(missing, `kernel fields of BPF_${cmd} missing from attr.ts`).toEqual([]);
      const end = Math.max(...[...kernel.values()].map((p) => p.bitOffset / 8 + p.size));
      expect(layout.size, `BPF_${cmd} attr size reaches the end of its last field`).toBe(end);
    });
  }

  for (const layout of STRUCT_LAYOUTS) {
    it(`struct ${layout.struct}: size, every field, and every kernel field`, () => {
      const t = btf!.findByName(layout.struct, 'struct');
      expect(t, `struct ${layout.struct} in kernel BTF`).toBeDefined();
      expect(btf!.sizeOf(t!.id)).toBe(layout.size);
      for (const [name, field] of Object.entries(layout.fields)) {
        expectPlaced(`${layout.struct}.${name}`, field, findMember(btf!, t!.id, name.split('.')));
      }
      const missing = [...leaves(btf!, t!.id).keys()].filter(
        (n) => !RESERVED.test(n) && !(n in layout.fields),
      );
      expect(missing, `fields of struct ${layout.struct} missing from attr.ts`).toEqual([]);
    });
  }

  it('the flag bits of consts.ts equal the kernel enum constants', () => {
    const all = new Map<string, number>();
    for (const t of btf!.types) {
      if (t.kind !== 'enum') continue;
      for (const v of t.values) if (!all.has(v.name)) all.set(v.name, v.value);
    }
    for (const [name, value] of Object.entries(ElemFlag)) {
      expect(all.get(name === 'LOCK' ? 'BPF_F_LOCK' : `BPF_${name}`), `ElemFlag.${name}`).toBe(value);
    }
    for (const [name, value] of Object.entries(MapFlag))
      expect(all.get(`BPF_F_${name}`), `MapFlag.${name}`).toBe(value);
  });
});
