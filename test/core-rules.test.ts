/**
 * CO-RE rules that the fixture programs do not reach: essential names, type compatibility through
 * pointers and prototypes, and the errors for malformed relocation records.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBtf } from '../src/btf/create.js';
import type { BtfCoreRelo } from '../src/btf/ext.js';
import type { BtfType } from '../src/btf/types.js';
import { BtfError, CoreRelocationError } from '../src/errors.js';
import { collectObject } from '../src/runtime/collect/object.js';
import { typesCompatible } from '../src/runtime/core/compat.js';
import { applyCoreRelocations, essentialName } from '../src/runtime/core/index.js';

describe('essential names', () => {
  it.each([
    ['task_struct___fake', 'task_struct'],
    ['a___b___c', 'a___b'],
    ['a____b', 'a____b'],
    ['___x', '___x'],
    ['x___', 'x___'],
    ['x___y', 'x'],
    ['plain', 'plain'],
  ])('%s -> %s', (name, want) => expect(essentialName(name)).toBe(want));
});

const int = (id: number, name: string, size: number, signed: boolean): BtfType => ({
  id,
  name,
  kind: 'int',
  size,
  signed,
  char: false,
  bool: false,
  bits: size * 8,
  bitOffset: 0,
});

describe('type compatibility', () => {
  // local: 1 int, 2 int *, 3 fn(int *) -> int, 4 fn(int, int) -> int
  const local = createBtf([
    { id: 0, name: '', kind: 'void' },
    int(1, 'int', 4, true),
    { id: 2, name: '', kind: 'ptr', type: 1 },
    { id: 3, name: '', kind: 'func_proto', returnType: 1, params: [{ name: 'p', type: 2 }] },
    {
      id: 4,
      name: '',
      kind: 'func_proto',
      returnType: 1,
      params: [
        { name: 'a', type: 1 },
        { name: 'b', type: 1 },
      ],
    },
  ]);
  // target: 1 long, 2 typedef my_long, 3 my_long *, 4 fn(my_long *) -> long, 5 struct s, 6 struct s *
  const target = createBtf([
    { id: 0, name: '', kind: 'void' },
    int(1, 'long', 8, true),
    { id: 2, name: 'my_long', kind: 'typedef', type: 1 },
    { id: 3, name: '', kind: 'ptr', type: 2 },
    { id: 4, name: '', kind: 'func_proto', returnType: 1, params: [{ name: 'q', type: 3 }] },
    { id: 5, name: 's', kind: 'struct', size: 0, kindFlag: false, members: [] },
    { id: 6, name: '', kind: 'ptr', type: 5 },
  ]);

  it('ignores integer size and typedefs, follows pointers and prototypes', () => {
    expect(typesCompatible(local, 1, target, 2)).toBe(true);
    expect(typesCompatible(local, 2, target, 3)).toBe(true);
    expect(typesCompatible(local, 3, target, 4)).toBe(true);
  });

  it('rejects other kinds and other arities', () => {
    expect(typesCompatible(local, 2, target, 6)).toBe(false);
    expect(typesCompatible(local, 4, target, 4)).toBe(false);
    expect(typesCompatible(local, 1, target, 5)).toBe(false);
  });
});

describe('malformed relocations', () => {
  const file = new URL('./fixtures/core_custom.bpf.o', import.meta.url).pathname;
  const obj = collectObject(readFileSync(file), file, 'core_custom');
  const local = obj.btf!;
  const relo = obj.btfExt!.coreRelo[0].records[0];
  const insns = new Uint8Array(obj.elf.sectionByName('syscall')!.data);
  const run = (r: BtfCoreRelo) =>
    applyCoreRelocations({
      insns: new Uint8Array(insns),
      section: 'syscall',
      relos: [r],
      local,
      target: local,
    });

  it('reports an access string that does not fit the local type as bad BTF', () => {
    expect(() => run({ ...relo, accessStr: '0:99', access: [0, 99] })).toThrow(BtfError);
    expect(() => run({ ...relo, accessStr: '0:99', access: [0, 99] })).toThrow(
      /member 99 of struct core_sample does not exist/,
    );
    expect(() => run({ ...relo, kind: 'type_size', accessStr: '0:1', access: [0, 1] })).toThrow(
      /a type relocation needs access string '0'/,
    );
  });

  it('reports an instruction offset outside the section', () => {
    const err = (() => {
      try {
        run({ ...relo, insnOff: insns.length });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CoreRelocationError);
    expect(err).toMatchObject({ code: 'EBADELF', section: 'syscall', relocation: 'field_byte_offset' });
  });

  it('finds flavors of one type ambiguous when they disagree', () => {
    // Against its own BTF, core_sample and core_sample___old are both candidates for core_sample.
    const all = obj.btfExt!.coreRelo[0].records;
    const sample = local.findByName('core_sample', 'struct')!;
    const old = local.findByName('core_sample___old', 'struct')!;
    expect(() =>
      applyCoreRelocations({
        insns: new Uint8Array(insns),
        section: 'syscall',
        relos: all,
        local,
        target: local,
      }),
    ).toThrow(
      `ambiguous: target types ${sample.id} and ${old.id} both match, giving ${sample.size} and ${old.size}`,
    );
  });
});
