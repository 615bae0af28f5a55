/**
 * Skeleton generation over every fixture object: the output type-checks under `tsc --strict` (one tsc run
 * for all), is byte-for-byte stable, reaches every hostile name under its documented safe name while
 * looking the original up, and bad input gets a typed one-line error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/parse.js';
import { parseElf } from '../src/elf/index.js';
import { BtfError, ElfError, OptionError } from '../src/errors.js';
import { HELPER_NAMES, TYPE_HELPERS } from '../src/gen/codecs.js';
import {
  AUTO_INLINE_LIMIT,
  baseNameOf,
  generateSkeleton,
  generateTypes,
  SUPPORT_NAMES,
} from '../src/gen/skeleton.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const DIR = join(ROOT, 'test', 'tmp', 'gen-skeleton');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.bpf.o'))
  .sort();
const read = (file: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, file)));

/**
 * What the generator assumes of 'bpf-skel/runtime', as declarations: generated code is checked against
 * this contract, and against the real runtime once it exports the typed map wrappers.
 */
const RUNTIME_CONTRACT = `
export interface Codec<T> {
  readonly size: number;
  decode(view: DataView, offset: number): T;
  encode(value: T, view: DataView, offset: number): void;
  readonly inPlace?: {
    create(view: DataView, offset: number): T;
    point(record: T, view: DataView, offset: number): void;
  };
}
export interface OpenOptions { objectName?: string; bpfTokenPath?: string; bpfTokenFd?: number }
export declare class BpfError extends Error {
  constructor(message: string, opts: { code: string; errno?: number; command?: string });
  readonly code: string;
}
export declare class BpfLink { detach(): void; readonly fd: number }
export declare class BpfProgram { readonly name: string; autoload: boolean; autoattach: boolean; attach(): BpfLink }
export declare class BpfMap { readonly name: string; dataView(): DataView; isWritable(): boolean }
export declare class BpfObject {
  static open(source: string | Uint8Array, opts?: OpenOptions): BpfObject;
  readonly maps: ReadonlyMap<string, BpfMap>;
  readonly programs: ReadonlyMap<string, BpfProgram>;
  load(): void;
  close(): void;
}
export declare class HashMap<K, V> { constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) }
export declare class PerCpuHashMap<K, V> { constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) }
export declare class ArrayMap<V> { constructor(map: BpfMap, value: Codec<V>) }
export declare class PerCpuArrayMap<V> { constructor(map: BpfMap, value: Codec<V>) }
export declare class QueueMap<V> { constructor(map: BpfMap, value: Codec<V>) }
export declare class StackMap<V> { constructor(map: BpfMap, value: Codec<V>) }
export declare class BloomFilterMap<V> { constructor(map: BpfMap, value: Codec<V>) }
export declare class RingBuffer<T = Uint8Array> { constructor(map: BpfMap, codec: Codec<T> | undefined) }
export declare class UserRingBuffer<T = Uint8Array> { constructor(map: BpfMap, codec: Codec<T> | undefined) }
export declare class PerfEventArray { constructor(map: BpfMap) }
export declare class ProgArrayMap { constructor(map: BpfMap) }
export declare class MapOfMaps<K = number> { constructor(map: BpfMap, key?: Codec<K>) }
export declare class RawMap { constructor(map: BpfMap) }
export declare function mapNamed(obj: BpfObject, name: string): BpfMap;
export declare function programNamed(obj: BpfObject, name: string): BpfProgram;
export declare abstract class Skeleton<
  Progs extends { readonly [K in keyof Links]: BpfProgram },
  Links extends { [K in keyof Links]: BpfLink | undefined },
> {
  readonly obj: BpfObject;
  readonly progs: Progs;
  readonly links: Links;
  protected constructor(
    obj: BpfObject,
    progs: Progs,
    links: Links,
    autoAttached: readonly (keyof Links & string)[],
    linked: readonly (keyof Links & string)[],
  );
  load(): void;
  attach(): void;
  detach(): void;
  destroy(): void;
  [Symbol.dispose](): void;
}
export declare function openSkeleton<S>(
  bytes: Uint8Array,
  opts: OpenOptions | undefined,
  objectName: string,
  create: (obj: BpfObject) => S,
): S;
export declare function loadSkeleton<S extends { load(): void; destroy(): void }>(skel: S): S;
export declare function writableView(map: BpfMap, variable: string): DataView;
export declare function embeddedObject(base64: string, sha256: string, fileName: string): Uint8Array;
export declare function readObjectFile(url: URL, sha256: string, fileName: string): Uint8Array;
export interface UnionCodec<T> extends Codec<T> { encode(value: Partial<T>, view: DataView, offset: number): void }
export declare function readCString(view: DataView, offset: number, length: number): string;
export declare function writeCString(view: DataView, offset: number, length: number, text: string): void;
export declare function copyArray<T extends ArrayBufferView>(
  type: { new (length: number): T; new (buffer: ArrayBufferLike, byteOffset: number, length: number): { slice(): T } },
  view: DataView,
  offset: number,
  count: number,
): T;
export declare function writeBytes(view: DataView, offset: number, length: number, array: ArrayBufferView): void;
export declare function checkLength(array: readonly unknown[], count: number): void;
export declare function readBits(view: DataView, offset: number, shift: number, bits: number, signed: boolean): number;
export declare function writeBits(view: DataView, offset: number, shift: number, bits: number, value: number): void;
export declare function readBitsBig(view: DataView, offset: number, shift: number, bits: number, signed: boolean): bigint;
export declare function writeBitsBig(view: DataView, offset: number, shift: number, bits: number, value: bigint): void;
export declare function readInt128(view: DataView, offset: number, signed: boolean): bigint;
export declare function writeInt128(view: DataView, offset: number, value: bigint): void;
export declare const int8Codec: Codec<number>;
export declare const uint8Codec: Codec<number>;
export declare const int16Codec: Codec<number>;
export declare const uint16Codec: Codec<number>;
export declare const int32Codec: Codec<number>;
export declare const uint32Codec: Codec<number>;
export declare const int64Codec: Codec<bigint>;
export declare const uint64Codec: Codec<bigint>;
export declare const float32Codec: Codec<number>;
export declare const float64Codec: Codec<number>;
export declare const boolCodec: Codec<boolean>;
`;

/** A consumer of the hostile skeleton: every map, program and variable by its documented safe name. */
const HOSTILE_USAGE = `
import { HostileSkel, type interface_, new_, function_ } from './hostile.skel.js';

export function touch(skel: HostileSkel): unknown[] {
  const k: new_ = new_.globalThis;
  const v: interface_ = skel.bss.klass;
  const u = function_.decode(new DataView(new ArrayBuffer(4)), 0);
  skel.data.class__2 = 1;
  skel.data.class_ = 3;
  skel.data.kind = new_.Infinity_;
  skel.bss.delete__2 = v.delete_ + v.new_ + v.constructor_ + v.__proto___ + v.toString_ + v.then;
  return [
    k,
    u.valueOf_,
    u.arguments_,
    u.eval_,
    v.hasOwnProperty_,
    v.prototype_,
    skel.maps.await_,
    skel.maps.yield_,
    skel.maps.let_,
    skel.maps.hasOwnProperty_,
    skel.maps.a_map_with_a_long_name_one,
    skel.maps.a_map_with_a_long_name_two,
    skel.progs.import_,
    skel.progs.export_,
    skel.progs.catch_,
    skel.progs.finally_,
    skel.progs.a_program_with_a_long_name_one,
    skel.links.a_program_with_a_long_name_two,
    [skel.bss.new_, skel.bss.__proto___, skel.bss.constructor_, skel.bss.toString_, skel.bss.then, skel.bss.in_],
    [skel.bss.of, skel.bss.interface_, skel.bss.package_, skel.bss.private_, skel.bss.public_, skel.bss.super_],
    [skel.bss.arguments_, skel.bss.eval_, skel.bss.null_, skel.bss.delete_, skel.bss._new, skel.bss.function_],
    [skel.bss.fn, skel.bss.long_names.__defineGetter___, skel.bss.long_names.__lookupGetter___],
    [skel.data_default.default_section_value, skel.rodata_class.class_section_value],
    [skel.data_my_sec.under_section_value, skel.data_my_sec_2.dash_section_value],
  ];
}
`;

function tsconfig(runtime: string, include: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'es2022',
      lib: ['es2023', 'esnext.disposable'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      noImplicitOverride: true,
      verbatimModuleSyntax: true,
      declaration: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      paths: { 'bpf-skel/runtime': [runtime] },
    },
    include,
  });
}

/** Runtime exports generated code uses that the runtime entry does not provide (must be none). */
const RUNTIME_MISSING = await (async () => {
  const runtime: Record<string, unknown> = await import('../src/runtime/index.js');
  const names = [
    'BpfError',
    'BpfObject',
    'BpfMap',
    'BpfProgram',
    'BpfLink',
    'HashMap',
    'ArrayMap',
    'PerCpuHashMap',
  ];
  names.push(
    'PerCpuArrayMap',
    'QueueMap',
    'StackMap',
    'BloomFilterMap',
    'RingBuffer',
    'UserRingBuffer',
    'PerfEventArray',
  );
  names.push('ProgArrayMap', 'MapOfMaps', 'RawMap', ...SUPPORT_NAMES);
  names.push(...HELPER_NAMES.filter((h) => !TYPE_HELPERS.has(h)));
  const missing = names.filter((n) => runtime[n] === undefined);
  const program = runtime.BpfProgram as { prototype: Record<string, unknown> } | undefined;
  if (typeof program?.prototype.attach !== 'function') missing.push('BpfProgram.prototype.attach');
  return missing;
})();

const generated = new Map<string, string>();
/** Skeletons of objects compiled by this test: record types and kconfig. */
const extra = new Map<string, string>();

const EXTRA_SOURCES: Record<string, { source: string[]; types?: string[] }> = {
  record: {
    source: [
      '#define __uint(n, v) int (*n)[v]',
      'struct event { int pid; char comm[16]; };',
      'struct other { long x; };',
      'struct { __uint(type, 27); __uint(max_entries, 4096); } events SEC(".maps");',
      'struct { __uint(type, 27); __uint(max_entries, 4096); } more SEC(".maps");',
      'struct event *events_record;',
      'struct other *unrelated;',
    ],
    types: ['more=other'],
  },
  // Types named like every runtime import the generated code may use, and a map, a variable and a program
  // that need those imports.
  collide: {
    source: [
      '#define __uint(n, v) int (*n)[v]',
      '#define __type(n, t) t *n',
      'struct BpfObject { long BpfObject; };',
      'struct Skeleton { int openSkeleton; int loadSkeleton; };',
      'typedef struct Skeleton loadSkeleton;',
      'loadSkeleton openSkeleton;',
      'struct mapNamed { char readCString[8]; unsigned int copyArray[2]; unsigned int readBits : 3;',
      '  long long readBitsBig : 40; __int128 readInt128; struct BpfObject checkLength[20]; };',
      'union UnionCodec { int embeddedObject; char writeBytes[4]; };',
      'enum programNamed { attachAuto = 1, writableView = 2 };',
      'typedef unsigned int uint32Codec;',
      'struct { __uint(type, 1); __uint(max_entries, 4); __type(key, uint32Codec); __type(value, struct mapNamed); }',
      '  readObjectFile SEC(".maps");',
      'union UnionCodec writeCString;',
      'enum programNamed boolCodec;',
      'struct BpfObject int32Codec;',
      'SEC("syscall") int int64Codec(void *ctx) { return writeCString.embeddedObject + boolCodec; }',
    ],
    types: ['uint32Codec', 'loadSkeleton'],
  },
  kconfig: {
    source: [
      '#define KCONFIG __attribute__((section(".kconfig"), weak))',
      'extern unsigned int LINUX_KERNEL_VERSION KCONFIG;',
      'extern _Bool CONFIG_BPF_SYSCALL KCONFIG;',
      'extern unsigned long long CONFIG_HZ KCONFIG;',
      'int out;',
      'SEC("syscall") int prog(void *ctx) { out = LINUX_KERNEL_VERSION + CONFIG_BPF_SYSCALL + CONFIG_HZ; return 0; }',
    ],
  },
};

/** Compiles `name` from EXTRA_SOURCES with clang and writes its skeleton next to the fixtures' ones. */
function buildExtra(name: string): void {
  const { source, types } = EXTRA_SOURCES[name];
  const lines = [
    '#define SEC(n) __attribute__((section(n), used))',
    ...source,
    'char LICENSE[] SEC("license") = "GPL";',
  ];
  writeFileSync(join(DIR, `${name}.bpf.c`), `${lines.join('\n')}\n`);
  const args = ['-g', '-O2', '-target', 'bpf', '-c', `${name}.bpf.c`, '-o', `${name}.bpf.o`];
  execFileSync('clang', args, { cwd: DIR });
  const bytes = new Uint8Array(readFileSync(join(DIR, `${name}.bpf.o`)));
  const { code } = generateSkeleton(bytes, { embed: 'inline', fileName: `${name}.bpf.o`, types });
  extra.set(name, code);
  writeFileSync(join(DIR, `${name}.skel.ts`), code);
}

beforeAll(() => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  for (const file of fixtures) {
    const { code, sidecar } = generateSkeleton(read(file), { embed: 'auto', fileName: file });
    const base = file.slice(0, -'.bpf.o'.length);
    generated.set(base, code);
    writeFileSync(join(DIR, `${base}.skel.ts`), code);
    if (sidecar !== undefined) writeFileSync(join(DIR, sidecar.fileName), sidecar.bytes);
    writeFileSync(join(DIR, `${base}.types.ts`), generateTypes(read(file), { fileName: file }));
  }
  for (const name of Object.keys(EXTRA_SOURCES)) buildExtra(name);
  writeFileSync(join(DIR, 'hostile-usage.ts'), HOSTILE_USAGE);
  writeFileSync(join(DIR, 'runtime-contract.d.ts'), RUNTIME_CONTRACT);
  writeFileSync(join(DIR, 'tsconfig.json'), tsconfig('./runtime-contract.d.ts', ['*.ts']));
});

function tsc(project: string): string {
  const r = spawnSync(TSC, ['-p', project], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim() + (r.status === 0 ? '' : `\n(exit ${r.status})`);
}

describe('generateSkeleton over the fixtures', () => {
  it('covers the fixture set', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
    for (const name of ['minimal', 'globals', 'maps', 'hostile', 'ringbuf', 'mapinmap', 'tailcall']) {
      expect(generated.has(name), name).toBe(true);
    }
  });

  it('type-checks every skeleton, types module and the hostile usage with tsc --strict (one run)', () => {
    expect(tsc(join(DIR, 'tsconfig.json'))).toBe('');
  });

  it('type-checks every skeleton against the real runtime entry', () => {
    expect(RUNTIME_MISSING).toEqual([]);
    writeFileSync(
      join(DIR, 'tsconfig.real.json'),
      tsconfig(join(ROOT, 'src', 'runtime', 'index.ts'), ['*.skel.ts', 'hostile-usage.ts']),
    );
    expect(tsc(join(DIR, 'tsconfig.real.json'))).toBe('');
  });

  it('is stable: the same object gives the same bytes', () => {
    for (const file of fixtures) {
      const base = file.slice(0, -'.bpf.o'.length);
      expect(generateSkeleton(read(file), { embed: 'auto', fileName: file }).code, file).toBe(
        generated.get(base),
      );
    }
  });

  it('embeds small objects inline and puts big ones in a sidecar file, with the SHA-256', () => {
    const maps = read('maps.bpf.o');
    expect(maps.length).toBeGreaterThan(AUTO_INLINE_LIMIT);
    const big = generateSkeleton(maps, { embed: 'auto', fileName: 'some/dir/maps.bpf.o' });
    expect(big.sidecar?.fileName).toBe('maps.bpf.o');
    expect(Buffer.compare(big.sidecar?.bytes ?? new Uint8Array(), maps)).toBe(0);
    expect(big.code).toContain("new URL('./maps.bpf.o', import.meta.url)");
    expect(big.code).not.toContain('ELF_BASE64');
    const small = generateSkeleton(read('minimal.bpf.o'), { embed: 'auto', fileName: 'minimal.bpf.o' });
    expect(small.sidecar).toBeUndefined();
    const base64 = [...small.code.matchAll(/^ {2}'([A-Za-z0-9+/=]+)',$/gm)].map((m) => m[1]).join('');
    expect(new Uint8Array(Buffer.from(base64, 'base64'))).toEqual(read('minimal.bpf.o'));
    const forced = generateSkeleton(read('minimal.bpf.o'), { embed: 'file', fileName: 'minimal.bpf.o' });
    expect(forced.sidecar?.fileName).toBe('minimal.bpf.o');
    expect(forced.code).toContain("'bda1b49c65d775003beb9db12921c6bed969b470ee9155e184d59a753d039284'");
  });

  it('names the class from the file or the name option', () => {
    expect(baseNameOf('minimal.bpf.o')).toBe('Minimal');
    expect(baseNameOf('dir/my-prog_v2.bpf.o')).toBe('MyProgV2');
    expect(baseNameOf('2fast.o')).toBe('Bpf2fast');
    expect(generated.get('minimal')).toContain(
      'export class MinimalSkel extends Skeleton<MinimalProgs, MinimalLinks> {',
    );
    const named = generateSkeleton(read('minimal.bpf.o'), {
      embed: 'inline',
      fileName: 'x.o',
      name: 'my_tool',
    });
    expect(named.code).toContain('export class MyToolSkel extends Skeleton<MyToolProgs, MyToolLinks> {');
  });

  it('reaches hostile names by safe identifiers and looks the originals up', () => {
    const code = generated.get('hostile') as string;
    for (const [safe, original] of [
      ['await_', 'await'],
      ['yield_', 'yield'],
      ['let_', 'let'],
      ['hasOwnProperty_', 'hasOwnProperty'],
    ]) {
      expect(code).toMatch(new RegExp(`^ {6}${safe}: new \\w+<.*>\\(mapNamed\\(obj, '${original}'\\)`, 'm'));
    }
    for (const [safe, original] of [
      ['import_', 'import'],
      ['export_', 'export'],
      ['catch_', 'catch'],
      ['finally_', 'finally'],
    ]) {
      expect(code).toContain(`      ${safe}: programNamed(obj, '${original}'),`);
    }
    expect(code).toContain("const view = writableView(this.#map, 'delete');");
    expect(code).toContain("this.data_my_sec_2 = new HostileDataMySec2(mapNamed(obj, '.data.my-sec'));");
    expect(code).toContain("this.data_my_sec = new HostileDataMySec(mapNamed(obj, '.data.my_sec'));");
    // Nothing from the object reaches code unquoted: every original that is not an identifier is quoted.
    expect(code).not.toMatch(/[^'.]my-sec/);
  });

  it('types ring buffer records from MAP=TYPE, from a <map>_record variable, or leaves them raw', () => {
    expect(generated.get('ringbuf')).toContain('readonly rb: RingBuffer<Uint8Array>;');
    expect(generated.get('user_ringbuf')).toContain('readonly urb: UserRingBuffer<Uint8Array>;');
    const code = extra.get('record') as string;
    expect(code).toContain('readonly events: RingBuffer<event>;');
    expect(code).toContain("events: new RingBuffer<event>(mapNamed(obj, 'events'), event),");
    expect(code).toContain('readonly more: RingBuffer<other>;');
    expect(code).not.toContain('get events_record');
    expect(code).toContain('get unrelated(): bigint');
    const bytes = new Uint8Array(readFileSync(join(DIR, 'record.bpf.o')));
    expect(() =>
      generateSkeleton(bytes, { embed: 'inline', fileName: 'r.o', types: ['nope=event'] }),
    ).toThrow(OptionError);
  });

  it('renames types that would shadow runtime imports, and the module still runs', async () => {
    const code = extra.get('collide') as string;
    for (const line of [
      'export interface mapNamed_ {',
      'export const mapNamed_: Codec<mapNamed_> = {',
      'export const UnionCodec_: UnionCodec<UnionCodec_> = {',
      'export const programNamed_ = {',
      'export type uint32Codec_ = number;',
      'export const uint32Codec_: Codec<uint32Codec_> = uint32Codec;',
      'export interface BpfObject_ {',
      'export interface Skeleton_ {',
      'export type loadSkeleton_ = Skeleton_;',
      'extends Skeleton<CollideProgs, CollideLinks> {',
      'readonly readObjectFile: HashMap<number, mapNamed_>;',
      "readObjectFile: new HashMap<number, mapNamed_>(mapNamed(obj, 'readObjectFile'), uint32Codec, mapNamed_),",
      "      int64Codec: programNamed(obj, 'int64Codec'),",
    ]) {
      expect(code).toContain(line);
    }
    for (const name of [
      'readCString',
      'copyArray',
      'readBitsBig',
      'readInt128',
      'checkLength',
      'UnionCodec',
      'Skeleton',
      'openSkeleton',
      'loadSkeleton',
    ]) {
      expect(code, name).toMatch(
        new RegExp(`^import (type )?\\{[^}]*\\b${name}\\b[^}]*\\} from 'bpf-skel/runtime';`, 'm'),
      );
    }
    const mod = (await import(join(DIR, 'collide.skel.ts'))) as Record<string, unknown>;
    const codec = mod.mapNamed_ as {
      size: number;
      decode(view: DataView, offset: number): Record<string, unknown>;
      encode(value: Record<string, unknown>, view: DataView, offset: number): void;
    };
    const value = {
      readCString: 'comm',
      copyArray: new Uint32Array([7, 8]),
      readBits: 5,
      readBitsBig: -3n,
      readInt128: -(1n << 100n),
      checkLength: Array.from({ length: 20 }, (_, i) => ({ BpfObject: BigInt(i) - 9n })),
    };
    const view = new DataView(new ArrayBuffer(codec.size + 1), 1);
    codec.encode(value, view, 0);
    expect(codec.decode(view, 0)).toEqual(value);
  });

  it('carries no copies of the runtime support: imports and per-type code only', () => {
    for (const [name, code] of [...generated, ...extra]) {
      expect(code.match(/^import .* from '([^']*)';$|^\} from '([^']*)';$/gm), name).toEqual(
        expect.arrayContaining([expect.stringContaining("'bpf-skel/runtime'")]),
      );
      expect(code, name).not.toMatch(/from '(?!bpf-skel\/runtime')/);
      expect(code, name).not.toMatch(/^(export )?(function|interface UnionCodec)\b/m);
      expect(code, name).not.toMatch(/^const (utf8|\w+Codec\b)/m);
    }
  });

  it('gives __kconfig externs a read-only view laid out by alignment, size and name', () => {
    const code = extra.get('kconfig') as string;
    expect(code).toContain("this.kconfig = new KconfigKconfig(mapNamed(obj, '.kconfig'));");
    const getters = [...code.matchAll(/^ {2}get (\w+)\(\): (\w+) \{\n.*\n {4}return (.*);$/gm)].map((m) =>
      m.slice(1),
    );
    expect(getters).toEqual([
      ['out', 'number', 'view.getInt32(0, true)'],
      ['CONFIG_HZ', 'bigint', 'view.getBigUint64(0, true)'],
      ['LINUX_KERNEL_VERSION', 'number', 'view.getUint32(8, true)'],
      ['CONFIG_BPF_SYSCALL', 'boolean', 'view.getUint8(12) !== 0'],
    ]);
    expect(code).not.toMatch(/set CONFIG_/);
  });

  it('emits requested types and typedef aliases in gen types', () => {
    const code = generateTypes(read('ringbuf.bpf.o'), {
      fileName: 'ringbuf.bpf.o',
      types: ['emit_args', 'pid_t'],
    });
    expect(code).toContain('export interface emit_args {');
    expect(code).toContain('export type pid_t = number;');
    expect(code).toContain('export const pid_t: Codec<pid_t> = int32Codec;');
    expect(() => generateTypes(read('ringbuf.bpf.o'), { fileName: 'r.o', types: ['event'] })).toThrow(
      /type 'event' is not a struct, union, enum or typedef/,
    );
  });
});

describe('bad input', () => {
  const gen = (bytes: Uint8Array) => () =>
    generateSkeleton(bytes, { embed: 'inline', fileName: 'bad.bpf.o' });

  it('rejects a file that is not ELF with an ElfError', () => {
    expect(gen(new TextEncoder().encode('#!/bin/sh\necho not an object\n'))).toThrow(ElfError);
    expect(gen(new Uint8Array(0))).toThrow(ElfError);
  });

  it('rejects an object without BTF with a BtfError saying so, on one line', () => {
    const dir = join(DIR, 'nobtf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'nobtf.bpf.c'), 'int counter;\n');
    execFileSync('clang', ['-O2', '-target', 'bpf', '-c', 'nobtf.bpf.c', '-o', 'nobtf.bpf.o'], { cwd: dir });
    const run = gen(new Uint8Array(readFileSync(join(dir, 'nobtf.bpf.o'))));
    expect(run).toThrow(BtfError);
    expect(run).toThrow(/^bad\.bpf\.o: the object has no \.BTF section; compile it with clang -g$/);
  });

  it('rejects malformed BTF with a BtfError', () => {
    const bytes = read('minimal.bpf.o').slice();
    const magic = Buffer.from(bytes).indexOf(Buffer.from([0x9f, 0xeb, 0x01, 0x00]));
    expect(magic).toBeGreaterThan(0);
    bytes[magic] = 0;
    expect(gen(bytes)).toThrow(BtfError);
  });

  it('rejects a struct member outside its struct with a BtfError instead of emitting an out-of-bounds read', () => {
    const bytes = read('globals.bpf.o').slice();
    const section = parseElf(bytes).sectionByName('.BTF') as { offset: number; data: Uint8Array };
    const btf = parseBtf(section.data);
    const config = btf.findByName('config', 'struct') as {
      members: readonly { type: number; bitOffset: number }[];
    };
    const tag = config.members[3];
    const record = new Uint8Array(
      new Uint32Array([btf.strings.offsetOf('tag'), tag.type, tag.bitOffset]).buffer,
    );
    const at = Buffer.from(section.data).indexOf(record);
    expect(at).toBeGreaterThan(0);
    new DataView(bytes.buffer).setUint32(section.offset + at + 8, 8 * 64, true);
    expect(gen(bytes)).toThrow(BtfError);
    expect(gen(bytes)).toThrow(/member 'tag' of type \d+ lies outside its 24 bytes/);
  });

  it('rejects bad options with an OptionError', () => {
    const bytes = read('minimal.bpf.o');
    expect(() => generateSkeleton(bytes, { embed: 'zip' as 'inline', fileName: 'm.o' })).toThrow(OptionError);
    expect(() => generateSkeleton(bytes, { embed: 'inline', fileName: 'm.o', types: ['=x'] })).toThrow(
      OptionError,
    );
    expect(() => generateSkeleton(bytes, { embed: 'inline', fileName: 'm.o', types: ['no_such'] })).toThrow(
      OptionError,
    );
  });
});
