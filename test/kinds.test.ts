import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/index.js';
import {
  AttachTypes,
  attachTypeName,
  LinkTypes,
  linkTypeName,
  MapTypes,
  mapTypeName,
  ProgramTypes,
  programTypeName,
} from '../src/runtime/sys/kinds.js';

const btf = loadKernelBtf();

interface Kind {
  table: Readonly<Record<string, number>>;
  nameOf: (value: number) => string;
  /** Kernel enum and the prefix its enumerators carry before our short name. */
  kernelEnum: string;
  prefix: string;
  /** `bpftool feature list_builtins` group. */
  bpftoolGroup: string;
}

const KINDS: Kind[] = [
  {
    table: ProgramTypes,
    nameOf: programTypeName,
    kernelEnum: 'bpf_prog_type',
    prefix: 'BPF_PROG_TYPE_',
    bpftoolGroup: 'prog_types',
  },
  {
    table: MapTypes,
    nameOf: mapTypeName,
    kernelEnum: 'bpf_map_type',
    prefix: 'BPF_MAP_TYPE_',
    bpftoolGroup: 'map_types',
  },
  {
    table: AttachTypes,
    nameOf: attachTypeName,
    kernelEnum: 'bpf_attach_type',
    prefix: 'BPF_',
    bpftoolGroup: 'attach_types',
  },
  {
    table: LinkTypes,
    nameOf: linkTypeName,
    kernelEnum: 'bpf_link_type',
    prefix: 'BPF_LINK_TYPE_',
    bpftoolGroup: 'link_types',
  },
];

function kernelEnum(name: string): ReadonlyMap<string, number> {
  const e = btf.findByName(name, 'enum');
  if (e === undefined) throw new Error(`kernel BTF has no enum ${name}`);
  return new Map(e.values.map((v) => [v.name, v.value]));
}

describe.each(KINDS)('$kernelEnum', ({ table, nameOf, kernelEnum: enumName, prefix, bpftoolGroup }) => {
  const kernel = kernelEnum(enumName);

  it('has the value of this kernel for every name', () => {
    for (const [name, value] of Object.entries(table)) {
      expect(kernel.get(prefix + name.toUpperCase()), name).toBe(value);
    }
  });

  it('names every value of this kernel up to its highest (aliases and the __MAX marker aside)', () => {
    const max = Math.max(...Object.values(table));
    const known = new Set(Object.values(table));
    for (const [enumerator, value] of kernel) {
      if (enumerator.startsWith('__MAX_')) continue;
      if (value > max) {
        console.info(`${enumName}: ${enumerator} = ${value} is newer than the table`);
        continue;
      }
      const name = enumerator.slice(prefix.length).toLowerCase();
      if (enumerator.endsWith('_DEPRECATED')) expect(known.has(value), enumerator).toBe(true);
      else expect(table[name], enumerator).toBe(value);
    }
  });

  it('maps every number back to its one name, and unknown numbers to unknown(N)', () => {
    for (const [name, value] of Object.entries(table)) expect(nameOf(value)).toBe(name);
    expect(new Set(Object.values(table)).size).toBe(Object.keys(table).length);
    const beyond = Math.max(...Object.values(table)) + 1;
    expect(nameOf(beyond)).toBe(`unknown(${beyond})`);
    expect(nameOf(-1)).toBe('unknown(-1)');
    expect(nameOf(1.5)).toBe('unknown(1.5)');
  });

  it('uses the names bpftool prints, in the same order', () => {
    const builtins = execFileSync('bpftool', ['feature', 'list_builtins', bpftoolGroup], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(builtins.length).toBeGreaterThan(8);
    // bpftool lists the names its libbpf knows in enum order from 0, so the position is the value.
    builtins.forEach((name, value) => {
      expect(table[name], name).toBe(value);
    });
  });
});
