/**
 * BTF sanitizing on the real kernel: with a feature forced missing (the `overrideFeature` test hook), the
 * object's BTF is rewritten without that kind, the kernel accepts the rewritten BTF (programs carry it), and
 * the programs still compute the right values. The rewrite itself keeps every type id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBtf } from '../src/btf/create.js';
import { parseBtf } from '../src/btf/parse.js';
import type { Btf, BtfKindName, BtfType } from '../src/btf/types.js';
import { writeBtf } from '../src/btf/write.js';
import { prepareBtf } from '../src/runtime/load/btf.js';
import { BTF_SANITIZE_FEATURES, type BtfSanitizeFeature, sanitizeBtf } from '../src/runtime/load/sanitize.js';
import { BpfObject } from '../src/runtime/object.js';
import { overrideFeature } from '../src/runtime/probes.js';
import { btfGetFdById, btfLoad } from '../src/runtime/sys/btf.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { btfData, btfGetNextId, progInfo } from '../src/runtime/sys/info.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { isRoot, requireKernel } from './helpers/kernel.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.bpf.o`, import.meta.url).pathname;

/** What must be gone from the uploaded BTF when a feature is missing. */
const GONE: Record<BtfSanitizeFeature, (t: BtfType) => boolean> = {
  btf_datasec: (t) => t.kind === 'var' || t.kind === 'datasec',
  btf_func: (t) => t.kind === 'func' || t.kind === 'func_proto',
  btf_func_global: (t) => t.kind === 'func' && t.linkage === 'global',
  btf_float: (t) => t.kind === 'float',
  btf_decl_tag: (t) => t.kind === 'decl_tag',
  btf_type_tag: (t) => t.kind === 'type_tag',
  btf_enum64: (t) => t.kind === 'enum64' || (t.kind === 'enum' && t.signed),
};

/** The highest BTF object id now (BTF loaded after this has a larger id). */
function lastBtfId(): number {
  let last = 0;
  for (let id = btfGetNextId(0); id !== undefined; id = btfGetNextId(id)) last = id;
  return last;
}

/**
 * Loads `obj` and returns the BTF the kernel holds for it, parsed back from the kernel: the BTF object made
 * during the load whose bytes are what the loader prepared (a refused BTF fails the test: there would be
 * none). Programs carry that BTF too, except without BTF FUNC support (no func_info, so no program BTF).
 */
function loadAndReadBtf(obj: BpfObject, program: string): Btf {
  const before = lastBtfId();
  obj.load();
  const expected = writeBtf(prepareBtf(obj.spec.btf!, obj.spec.elf, (f) => obj.features.has(f)));
  let found: number | undefined;
  for (let id = btfGetNextId(before); id !== undefined && found === undefined; id = btfGetNextId(id)) {
    const fd = btfGetFdById(id);
    try {
      if (Buffer.from(btfData(fd)).equals(expected)) found = id;
    } catch {
      // Closed meanwhile (another test process); not ours.
    } finally {
      closeFd(fd);
    }
  }
  expect(found, 'the kernel holds the prepared BTF').toBeDefined();
  expect(progInfo(obj.programs.get(program)!.fd).btfId).toBe(obj.features.has('btf_func') ? found : 0);
  return parseBtf(expected);
}

function symbolOffset(obj: BpfObject, name: string): number {
  const sym = obj.spec.elf.symbols.find((s) => s.name === name);
  if (sym === undefined) throw new Error(`no symbol ${name}`);
  return sym.value;
}

function kinds(btf: Btf): Set<BtfKindName> {
  return new Set(btf.types.map((t) => t.kind));
}

afterEach(() => {
  for (const f of BTF_SANITIZE_FEATURES) overrideFeature(f, undefined);
});

describe('sanitizeBtf (pure rewrite)', () => {
  it('keeps every type id and only rewrites the missing kinds', () => {
    using obj = BpfObject.open(fixture('externs_sanitize'));
    const btf = obj.spec.btf!;
    const out = sanitizeBtf(btf, (f) => f !== 'btf_float' && f !== 'btf_type_tag');
    expect(out.types.length).toBe(btf.types.length);
    for (let id = 1; id < btf.types.length; id++) {
      const before = btf.types[id];
      const after = out.types[id];
      expect(after.id).toBe(id);
      if (before.kind === 'float')
        expect(after).toMatchObject({ kind: 'struct', name: '', size: 4, members: [] });
      else if (before.kind === 'type_tag') expect(after).toMatchObject({ kind: 'const', type: before.type });
      else expect(after).toBe(before);
    }
    expect(sanitizeBtf(btf, () => true)).toBe(btf);
  });

  it('turns a DATASEC into a struct whose members are its variables', () => {
    using obj = BpfObject.open(fixture('externs_sanitize'));
    const btf = obj.spec.btf!;
    const data = btf.findByName('.data', 'datasec')!;
    const out = sanitizeBtf(btf, (f) => f !== 'btf_datasec');
    const s = out.typeById(data.id);
    expect(s).toMatchObject({ kind: 'struct', name: '_data' });
    expect(s.kind === 'struct' ? s.members.map((m) => m.name) : []).toEqual(['ratio', 'tagged']);
    expect(out.typeById(data.vars[0].type)).toMatchObject({ kind: 'int', name: 'ratio', size: 1 });
  });
});

describe.runIf(requireKernel('bpf()', isRoot(), 'loading needs root'))('sanitized BTF on the kernel', () => {
  it('the fixtures really use every kind sanitizing removes (so the checks below can fail)', () => {
    using obj = BpfObject.open(fixture('externs_sanitize'));
    const btf = loadAndReadBtf(obj, 'run_sanitize');
    for (const f of BTF_SANITIZE_FEATURES) {
      if (f === 'btf_enum64') continue; // clang 14 emits no ENUM64; covered by the hand-made BTF below
      expect(btf.types.some(GONE[f]), `${f}: the uploaded BTF has the kind`).toBe(true);
    }
  });

  for (const feature of BTF_SANITIZE_FEATURES.filter((f) => f !== 'btf_enum64')) {
    it(`without ${feature}: the kernel takes the rewritten BTF and the programs still run`, () => {
      overrideFeature(feature, false);
      using obj = BpfObject.open(fixture('externs_sanitize'), { bpfTokenPath: '' });
      const btf = loadAndReadBtf(obj, 'run_sanitize');
      const prog = obj.programs.get('run_sanitize')!;
      expect(btf.types.filter(GONE[feature])).toEqual([]);
      expect(btf.types.length).toBeGreaterThanOrEqual(obj.spec.btf!.types.length);
      expect(progTestRun(prog.fd).retval).toBe(0);
      const bss = obj.maps.get('.bss')!.dataView();
      expect(bss.getBigUint64(symbolOffset(obj, 'out_hz'), true)).toBeGreaterThan(0n);
      expect(bss.getUint32(symbolOffset(obj, 'out_ratio_bits'), true)).toBe(0x3fc00000); // 1.5f
      expect(bss.getInt32(symbolOffset(obj, 'out_count'), true)).toBe(37);
      expect(bss.getInt32(symbolOffset(obj, 'out_sum'), true)).toBe(42);

      using globals = BpfObject.open(fixture('globals'), { bpfTokenPath: '' });
      expect(loadAndReadBtf(globals, 'copy_globals').types.filter(GONE[feature])).toEqual([]);
      const copy = globals.programs.get('copy_globals')!;
      expect(progTestRun(copy.fd).retval).toBe(0);
      const out = globals.maps.get('.bss')!.dataView();
      expect(out.getBigUint64(symbolOffset(globals, 'out_ro_u64'), true)).toBe(0xdeadbeefcafef00dn);
      expect(out.getUint32(symbolOffset(globals, 'runs'), true)).toBe(1);
    });
  }

  it('with every feature missing at once, both objects load with BTF and run', () => {
    for (const f of BTF_SANITIZE_FEATURES) overrideFeature(f, false);
    using obj = BpfObject.open(fixture('externs_sanitize'), { bpfTokenPath: '' });
    const left = kinds(loadAndReadBtf(obj, 'run_sanitize'));
    const prog = obj.programs.get('run_sanitize')!;
    for (const k of ['var', 'datasec', 'func', 'func_proto', 'float', 'decl_tag', 'type_tag'] as const)
      expect(left.has(k), k).toBe(false);
    expect(progTestRun(prog.fd).retval).toBe(0);
    expect(obj.maps.get('.bss')!.dataView().getInt32(symbolOffset(obj, 'out_sum'), true)).toBe(42);
  });

  it('without btf_enum64: ENUM64 becomes a union the kernel accepts, signed enums lose the flag', () => {
    const types: BtfType[] = [
      { kind: 'void', id: 0, name: '' },
      {
        kind: 'enum64',
        id: 1,
        name: 'big',
        size: 8,
        signed: false,
        values: [{ name: 'HUGE', value: 1n << 40n }],
      },
      { kind: 'enum', id: 2, name: 'small', size: 4, signed: true, values: [{ name: 'NEG', value: -1 }] },
      { kind: 'ptr', id: 3, name: '', type: 1 },
    ];
    const btf = createBtf(types);
    const out = sanitizeBtf(btf, (f) => f !== 'btf_enum64');
    expect(out.typeById(1)).toMatchObject({ kind: 'union', name: 'big', size: 8 });
    expect(out.typeById(2)).toMatchObject({ kind: 'enum', signed: false });
    expect(out.typeById(3)).toBe(btf.typeById(3));
    const fd = btfLoad(writeBtf(out));
    try {
      const back = parseBtf(btfData(fd));
      expect(back.types.filter(GONE.btf_enum64)).toEqual([]);
      expect(back.typeById(1).kind).toBe('union');
    } finally {
      closeFd(fd);
    }
  });
});
