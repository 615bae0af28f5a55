/**
 * Generated code from hostile objects: C sources built here with clang (names that are every JS/TS
 * keyword and prototype key, section names carrying code and comment terminators, unicode-escape-like
 * text, identifiers thousands of characters long, a thousand maps, variables and programs, deeply nested
 * types, huge arrays). Every skeleton must pass `tsc --strict`, and text from the object must stay data:
 * importing a skeleton runs nothing of it, and no identifier token of the output comes from a payload.
 * Objects over the generator's size limit are refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ts } from 'ts-morph';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { generateSkeleton } from '../src/gen/skeleton.js';
import { commandExists, requireKernel } from './helpers/kernel.js';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'test', 'tmp', 'security-gen');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

/** The marker every payload sets; if any generated code ran it, it would be on globalThis. */
const MARK = '__bpf_skel_pwned';
/** Breaks out of a '...' literal, a "..." literal, a `...` template and a comment, then runs code. */
const PAYLOAD = `'); globalThis.${MARK} = 1; ("*/ \${globalThis.${MARK} = 2} \\u0027 \\x27 */ globalThis.${MARK} = 3; /*`;

const KEYWORDS = [
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'as',
  'implements',
  'interface',
  'let',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'yield',
  'any',
  'boolean',
  'constructor',
  'declare',
  'get',
  'module',
  'require',
  'number',
  'set',
  'string',
  'symbol',
  'type',
  'from',
  'of',
  'async',
  'await',
  'abstract',
  'accessor',
  'asserts',
  'bigint',
  'global',
  'infer',
  'is',
  'keyof',
  'namespace',
  'never',
  'object',
  'out',
  'override',
  'readonly',
  'satisfies',
  'undefined',
  'unique',
  'unknown',
  'using',
  'arguments',
  'eval',
  '__proto__',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'then',
  'NaN',
  'Infinity',
  'globalThis',
  'process',
  'Buffer',
  'Object',
  'Array',
  'Symbol',
  'Promise',
  'require',
  'exports',
  'window',
  '__defineGetter__',
];
/** C keywords and macros that cannot be C identifiers, among the names above. */
const C_RESERVED = new Set([
  'break',
  'case',
  'const',
  'continue',
  'default',
  'do',
  'else',
  'enum',
  'for',
  'if',
  'return',
  'static',
  'switch',
  'void',
  'while',
  'true',
  'false',
  'bool',
  'typeof',
  'undefined',
]);
const C_NAMES = [...new Set(KEYWORDS)].filter((k) => !C_RESERVED.has(k));

const HEADER = '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC("license") = "GPL";\n';

/** The hostile corpus: name -> C source. */
function sources(): Record<string, string> {
  const cstr = (s: string) => JSON.stringify(s);
  const long = (c: string) => `v_${c.repeat(4000)}`;
  const nested: string[] = ['struct n0 { __u32 leaf; };'];
  for (let i = 1; i <= 64; i++) nested.push(`struct n${i} { struct n${i - 1} in; __u32 v${i}; };`);
  const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  return {
    keywords: `${HEADER}
${C_NAMES.map((k) => `volatile __u32 ${k} = 1;`).join('\n')}
struct ${C_NAMES.slice(0, 40).join('_')} { ${C_NAMES.map((k) => `__u32 ${k};`).join(' ')} };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1); __type(key, __u32);
  __type(value, struct ${C_NAMES.slice(0, 40).join('_')}); } constructor_map SEC(".maps");
${C_NAMES.slice(0, 30)
  .map((k) => `SEC("syscall") int ${k}_prog(void *ctx) { return ${k}; }`)
  .join('\n')}
SEC("syscall") int __proto___(void *ctx) { return bpf_map_lookup_elem(&constructor_map, &(__u32){0}) != 0; }
`,
    payloads: `${HEADER}
const char rodata_payload[] = ${cstr(PAYLOAD)};
__u32 data_payload __attribute__((section(${cstr(`.data.${PAYLOAD}`)}))) = 7;
const volatile __u32 ro_payload __attribute__((section(${cstr(`.rodata.${PAYLOAD}`)}))) = 8;
SEC(${cstr(`uprobe//tmp/${PAYLOAD}:main`)}) int up(void *ctx) { return data_payload + ro_payload; }
SEC(${cstr(`tp/${PAYLOAD}/x`)}) int tp(void *ctx) { return rodata_payload[0]; }
SEC(${cstr(`iter/${PAYLOAD}`)}) int it(void *ctx) { return 0; }
`,
    unicode: `${HEADER}
volatile __u32 caf\\u00e9 = 1;
volatile __u32 \\u0442\\u0435\\u0441\\u0442 = 2;
volatile __u32 u_0061 = 3;
volatile __u32 \\u0251 = 4;
struct \\u00fcber { __u32 \\u00e4; char text[8]; };
struct \\u00fcber uber_value;
SEC("syscall") int \\u00e9v(void *ctx) { return caf\\u00e9; }
`,
    long: `${HEADER}
volatile __u32 ${long('a')} = 1;
volatile __u32 ${long('b')} = 2;
struct ${long('s')} { __u32 ${long('m')}; __u32 ${long('n')}; };
struct ${long('s')} long_struct;
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); }
  ${long('map')} SEC(".maps");
SEC("syscall") int ${long('prog')}(void *ctx) { return ${long('a')}; }
`,
    many: `${HEADER}
${many(1000, (i) => `volatile __u32 var_${i} = ${i};`)}
${many(1000, (i) => `struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } map_${i} SEC(".maps");`)}
${many(1000, (i) => `SEC("syscall") int prog_${i}(void *ctx) { return var_${i}; }`)}
`,
    deep: `${HEADER}
${nested.join('\n')}
struct n64 deep_value;
union u0 { __u32 a; struct n8 b; };
${many(32, (i) => `union u${i + 1} { union u${i} a; struct n${i} b; };`)}
union u32 deep_union;
__u64 huge_array[1 << 17];
char huge_string[1 << 20];
__u32 matrix[64][64][16];
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, struct n32); __type(value, union u16); } deep_map SEC(".maps");
SEC("syscall") int deep(void *ctx) { return deep_value.in.in.v62 + huge_array[3] + huge_string[9] + matrix[1][2][3]; }
`,
  };
}

const canBuild = requireKernel('clang', commandExists('clang'), 'clang builds the hostile corpus');
const built = new Map<string, Uint8Array>();
const generated = new Map<string, string>();

function build(name: string, source: string): void {
  const c = join(DIR, `${name}.bpf.c`);
  const o = join(DIR, `${name}.bpf.o`);
  writeFileSync(c, source);
  execFileSync(
    'clang',
    ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', join(ROOT, 'test', 'fixtures')].concat([
      '-I/usr/include/x86_64-linux-gnu',
      '-Wno-unused-value',
      '-c',
      c,
      '-o',
      o,
    ]),
    { stdio: 'pipe' },
  );
  built.set(name, new Uint8Array(readFileSync(o)));
}

/** Every identifier (names, property names, keys) of the parsed module `code`. */
function identifiers(code: string): Set<string> {
  const file = ts.createSourceFile('x.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const ids = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) ids.add(node.text);
    node.forEachChild(visit);
  };
  visit(file);
  return ids;
}

describe.runIf(canBuild)('skeletons of hostile objects', () => {
  beforeAll(() => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    for (const [name, source] of Object.entries(sources())) build(name, source);
    for (const [name, bytes] of built) {
      const { code } = generateSkeleton(bytes, { embed: 'inline', fileName: `${name}.bpf.o` });
      writeFileSync(join(DIR, `${name}.skel.ts`), code);
      generated.set(name, code);
    }
    writeFileSync(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          lib: ['es2023', 'esnext.disposable'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          verbatimModuleSyntax: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          paths: { 'bpf-skel/runtime': [join(ROOT, 'src', 'runtime', 'index.ts')] },
        },
        include: ['*.skel.ts'],
      }),
    );
  }, 120_000);

  it('builds the corpus: the payload and the big counts are really in the objects', () => {
    expect([...built.keys()].sort()).toEqual(['deep', 'keywords', 'long', 'many', 'payloads', 'unicode']);
    expect(Buffer.from(built.get('payloads') as Uint8Array).includes(`.data.${PAYLOAD}`)).toBe(true);
    const many = generated.get('many') as string;
    expect(many).toContain("'map_999'");
    expect(many).toContain("'prog_999'");
    expect(many).toMatch(/\bvar_999\b/);
  });

  it('every skeleton passes tsc --strict', () => {
    const r = spawnSync(TSC, ['-p', join(DIR, 'tsconfig.json')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('no identifier of the output comes from a payload; the payload text is there, as data', () => {
    for (const [name, code] of generated) expect(identifiers(code).has(MARK), name).toBe(false);
    // The section names did reach the output (in strings and comments), so the check above means something.
    expect(generated.get('payloads')).toContain(MARK);
  });

  it('importing and opening the skeletons runs nothing from the objects', async () => {
    for (const name of generated.keys()) {
      const mod = (await import(join(DIR, `${name}.skel.ts`))) as Record<string, unknown>;
      const cls = Object.values(mod).find(
        (v): v is { open(o: object): { destroy(): void } } =>
          typeof v === 'function' && typeof (v as { open?: unknown }).open === 'function',
      );
      expect(cls, name).toBeDefined();
      try {
        cls?.open({ bpfTokenPath: '' }).destroy();
      } catch (e) {
        // Opening parses the object; the corpus may hold sections the loader refuses. Only typed errors.
        expect(e, name).toBeInstanceOf(BpfError);
      }
    }
    expect((globalThis as Record<string, unknown>)[MARK]).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
  }, 60_000);
});

describe('size limit of gen', () => {
  it('refuses an object over 64 MiB with a clear error before parsing it', () => {
    const small = readFileSync(join(ROOT, 'test', 'fixtures', 'minimal.bpf.o'));
    // Trailing bytes are ignored by ELF readers, so this is a valid object that is too big.
    const big = new Uint8Array(64 * 1024 * 1024 + 1);
    big.set(small);
    const t0 = performance.now();
    expect(() => generateSkeleton(big, { embed: 'file', fileName: 'big.bpf.o' })).toThrow(
      /big\.bpf\.o is 67108865 bytes.*(limit|larger than).*67108864|maxBytes/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
