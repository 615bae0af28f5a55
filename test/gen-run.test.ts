/**
 * Generated skeletons run against the real loader and kernel: typed views of global data before load
 * (initial values, writable), after load (live `.data`/`.bss`, read-only `.rodata`), a program run with
 * BPF_PROG_TEST_RUN, and the embedded bytes' hash check.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { generateSkeleton } from '../src/gen/skeleton.js';
import type { BpfObject } from '../src/runtime/object.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'test', 'tmp', 'gen-run');

/** The parts of the generated globals skeleton this test uses. */
interface Config {
  magic: bigint;
  flags: number;
  delta: number;
  tag: string;
}
interface GlobalsSkel {
  readonly obj: BpfObject;
  readonly rodata: { cfg: Config; ro_u64: bigint; ro_array: Int32Array; ro_str: string; verbose: boolean };
  readonly rodata_bar: { bar_limit: number; bar_name: string };
  readonly data: { data_u64: bigint; data_array: Int32Array; data_str: string };
  readonly data_foo: { foo_counter: number; foo_u64: bigint };
  readonly bss: {
    out_cfg: Config;
    out_ro_u64: bigint;
    out_ro_array: Int32Array;
    out_ro_str: string;
    out_bar_limit: number;
    out_bar_name: string;
    out_data_u64: bigint;
    out_foo_counter: number;
    runs: number;
  };
  readonly progs: { copy_globals: { fd: number } };
  load(): void;
  destroy(): void;
}
interface GlobalsModule {
  GlobalsSkel: {
    open(opts?: object): GlobalsSkel;
    openAndLoad(opts?: object): GlobalsSkel;
    elfBytes(): Uint8Array;
  };
}

let mod: GlobalsModule;

/**
 * Generates the skeleton of a fixture and imports it as written; `bpf-skel/runtime` resolves to the sources
 * (vitest.config.ts), so no build is needed.
 */
async function load<T>(name: string): Promise<T> {
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', `${name}.bpf.o`)));
  const { code } = generateSkeleton(bytes, { embed: 'inline', fileName: `${name}.bpf.o` });
  writeFileSync(join(DIR, `${name}.skel.ts`), code);
  return (await import(join(DIR, `${name}.skel.ts`))) as T;
}

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  mod = await load<GlobalsModule>('globals');
});

describe('generated skeleton, open only', () => {
  it('returns the embedded bytes and reads initial values through typed views', () => {
    const fixture = new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'globals.bpf.o')));
    expect(Buffer.compare(mod.GlobalsSkel.elfBytes(), fixture)).toBe(0);
    const skel = mod.GlobalsSkel.open({ bpfTokenPath: '' });
    try {
      expect(skel.rodata.cfg).toEqual({ magic: 0x1122334455667788n, flags: 7, delta: -3, tag: 'cfg' });
      expect(skel.rodata.ro_u64).toBe(0xdeadbeefcafef00dn);
      expect(skel.rodata.ro_array).toEqual(new Int32Array([1, -2, 3, -4]));
      expect(skel.rodata.ro_str).toBe('hello, rodata');
      expect(skel.rodata.verbose).toBe(false);
      expect(skel.rodata_bar).toMatchObject({ bar_limit: 99, bar_name: 'bar' });
      expect(skel.data.data_u64).toBe(0x0102030405060708n);
      expect(skel.data.data_array).toEqual(new Int32Array([10, 20, 30]));
      expect(skel.data.data_str).toBe('data');
      expect(skel.data_foo.foo_counter).toBe(42);
      expect(skel.bss.runs).toBe(0);
      skel.rodata.ro_u64 = 5n;
      expect(skel.rodata.ro_u64).toBe(5n);
      expect(() => {
        skel.rodata.ro_str = 'x'.repeat(17);
      }).toThrow(RangeError);
    } finally {
      skel.destroy();
      skel.destroy();
    }
  });
});

describe('generated skeleton, hash check', () => {
  it('refuses embedded bytes that do not match the recorded SHA-256', async () => {
    const code = readFileSync(join(DIR, 'globals.skel.ts'), 'utf8');
    const tampered = code.replace(
      /^( {2}')([A-Za-z])/m,
      (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'),
    );
    expect(tampered).not.toBe(code);
    writeFileSync(join(DIR, 'tampered.skel.ts'), tampered);
    const bad = (await import(join(DIR, 'tampered.skel.ts'))) as GlobalsModule;
    expect(() => bad.GlobalsSkel.open()).toThrow(BpfError);
    expect(() => bad.GlobalsSkel.elfBytes()).toThrow(
      /^globals\.bpf\.o has SHA-256 [0-9a-f]{64}, not [0-9a-f]{64}: regenerate/,
    );
  });
});

describe.runIf(requireKernel('bpf()', isRoot(), 'loading needs root (or a token)'))(
  'generated skeleton, loaded',
  () => {
    it('sends typed values set before load and reads the results live after', () => {
      const skel = mod.GlobalsSkel.open({ bpfTokenPath: '' });
      try {
        skel.rodata.cfg = { magic: 0xfeedn, flags: 0xffffffff, delta: -32768, tag: 'ab' };
        skel.rodata.ro_u64 = 0x0123456789abcdefn;
        skel.rodata.ro_array = new Int32Array([7, 8]);
        skel.rodata.ro_str = 'typed view';
        skel.rodata_bar.bar_limit = -7;
        skel.rodata_bar.bar_name = 'renamed';
        skel.data_foo.foo_counter = 1000;
        skel.load();

        expect(progTestRun(skel.progs.copy_globals.fd).retval).toBe(0);
        expect(skel.bss.out_cfg).toEqual({ magic: 0xfeedn, flags: 0xffffffff, delta: -32768, tag: 'ab' });
        expect(skel.bss.out_ro_u64).toBe(0x0123456789abcdefn);
        expect(skel.bss.out_ro_array).toEqual(new Int32Array([7, 8, 0, 0]));
        expect(skel.bss.out_ro_str).toBe('typed view');
        expect(skel.bss.out_bar_limit).toBe(-7);
        expect(skel.bss.out_bar_name).toBe('renamed');
        expect(skel.bss.out_foo_counter).toBe(1000);
        expect(skel.data_foo.foo_counter).toBe(1001);
        expect(skel.data.data_u64).toBe(0x0102030405060709n);
        expect(skel.bss.runs).toBe(1);

        // Writable sections are live both ways after load.
        skel.data_foo.foo_counter = 5;
        skel.bss.runs = 40;
        progTestRun(skel.progs.copy_globals.fd);
        expect(skel.bss.out_foo_counter).toBe(5);
        expect(skel.bss.runs).toBe(41);

        // .rodata is frozen: its setters throw a BpfError and the value stays.
        let error: unknown;
        try {
          skel.rodata.ro_u64 = 1n;
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(BpfError);
        expect((error as BpfError).code).toBe('EPERM');
        expect((error as BpfError).message).toBe('cannot write "ro_u64": .rodata is read-only after load');
        expect(skel.rodata.ro_u64).toBe(0x0123456789abcdefn);
      } finally {
        skel.destroy();
      }
    });

    it('openAndLoad() loads, and dispose releases every FD', () => {
      const before = countOpenFds();
      const skel = mod.GlobalsSkel.openAndLoad({ bpfTokenPath: '' }) as GlobalsSkel & Disposable;
      expect(skel.progs.copy_globals.fd).toBeGreaterThan(0);
      expect(countOpenFds()).toBeGreaterThan(before);
      skel[Symbol.dispose]();
      skel[Symbol.dispose]();
      expect(countOpenFds()).toBe(before);
    });
  },
);

/** The parts of the generated hostile skeleton this test uses, by their safe names. */
interface Interface {
  constructor_: number;
  __proto___: number;
  toString_: number;
  then: number;
  new_: number;
  delete_: number;
  hasOwnProperty_: bigint;
  prototype_: string;
}
interface KeyValue<K, V> {
  get(key: K): V | undefined;
}
interface HostileSkel {
  readonly maps: {
    await_: KeyValue<number, Interface>;
    yield_: KeyValue<number, { valueOf_: number; arguments_: number; eval_: Uint8Array }>;
    let_: KeyValue<number, { __defineGetter___: number; __lookupGetter___: number }>;
    hasOwnProperty_: KeyValue<number, number>;
    a_map_with_a_long_name_one: KeyValue<number, number>;
    a_map_with_a_long_name_two: KeyValue<number, number>;
  };
  readonly progs: Record<'import_' | 'export_' | 'catch_' | 'finally_', { fd: number }>;
  readonly bss: Record<string, unknown> & { klass: Interface };
  readonly data: { class_: number; class__2: number; kind: number };
  readonly data_default: { default_section_value: number };
  readonly rodata_class: { class_section_value: number };
  readonly data_my_sec: { under_section_value: number };
  readonly data_my_sec_2: { dash_section_value: number };
  load(): void;
  destroy(): void;
}
interface HostileModule {
  HostileSkel: { open(opts?: object): HostileSkel };
  new_: Record<string, number>;
}

describe.runIf(requireKernel('bpf()', isRoot(), 'loading needs root (or a token)'))(
  'generated skeleton of hostile names, loaded',
  () => {
    it('moves values through every renamed variable, member and map', async () => {
      const hostile = await load<HostileModule>('hostile');
      expect(hostile.new_).toEqual({ NaN_: 0, Infinity_: 1, globalThis: 2, instanceof_: 3 });
      const skel = hostile.HostileSkel.open({ bpfTokenPath: '' });
      try {
        expect(skel.data.class__2).toBe(1);
        expect(skel.data.class_).toBe(3);
        expect(skel.data.kind).toBe(hostile.new_.Infinity_);
        skel.data.class__2 = 10;
        skel.load();
        expect(progTestRun(skel.progs.import_.fd).retval).toBe(1);
        expect(progTestRun(skel.progs.export_.fd).retval).toBe(0);
        const b = skel.bss;
        expect([b.delete__2, b.new_, b.__proto___, b.constructor_, b.toString_, b.then]).toEqual([
          1, 2, 3, 4, 5, 6,
        ]);
        expect([b.delete_, b._new, b.function_]).toEqual([13, 8, 0x100000000n]);
        const klass = b.klass;
        expect([klass.constructor_, klass.__proto___, klass.then, klass.hasOwnProperty_]).toEqual([
          10,
          11,
          12,
          0x200000000n,
        ]);
        expect(Object.getPrototypeOf(b.klass)).toBe(Object.prototype);
        expect(skel.data_default.default_section_value).toBe(9);
        expect(skel.rodata_class.class_section_value).toBe(5);
        expect(skel.data_my_sec_2.dash_section_value).toBe(7);
        expect(skel.data_my_sec.under_section_value).toBe(6);
        expect(skel.maps.await_.get(hostile.new_.globalThis)).toEqual(b.klass);
        expect(skel.maps.yield_.get(0)?.valueOf_).toBe(0x01020304);
        expect(skel.maps.yield_.get(0)?.eval_).toEqual(new Uint8Array([4, 3, 2, 1]));
        expect(skel.maps.let_.get(0)).toMatchObject({ __defineGetter___: 13, __lookupGetter___: 14 });
        expect(skel.maps.hasOwnProperty_.get(0)).toBe(1);
        expect(skel.maps.a_map_with_a_long_name_one.get(0)).toBe(1);
        expect(skel.maps.a_map_with_a_long_name_two.get(0)).toBe(2);
      } finally {
        skel.destroy();
      }
    });
  },
);
