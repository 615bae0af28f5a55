/**
 * `bpf-skel gen skeleton` and `gen types`: from the bytes of a compiled `.bpf.o` to the text of a typed
 * TypeScript module. Generated code imports only `bpf-skel/runtime` (its support functions, see
 * runtime/skeleton-support.ts, instead of carrying copies), passes `tsc --strict`, and is stable: the same
 * object and options give the same bytes.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Btf } from '../btf/types.js';
import { OptionError } from '../errors.js';
import { CODEC_LOCALS, CodecEmitter, docLines, HELPER_NAMES, TYPE_HELPERS } from './codecs.js';
import { cDoc, emitDeclarations } from './declarations.js';
import { describeObject, isRing, type MapModel, type ObjectModel, type SectionModel } from './model.js';
import { assignKeyed, assignNames, commentText, compareCodeUnits, stringLiteral } from './names.js';
import { cDeclaration, planTypes, type TypePlan, tsTypeOf } from './types.js';

/** How the skeleton carries the object's bytes. */
export type EmbedMode = 'inline' | 'file' | 'auto';

/** Objects up to this size are embedded inline by `embed: 'auto'`; bigger ones go to a sibling file. */
export const AUTO_INLINE_LIMIT = 256 * 1024;

/** Options of {@link generateSkeleton}. */
export interface SkeletonOptions {
  /** Base of the generated names (`Minimal` gives `MinimalSkel`); default: from `fileName`. */
  name?: string;
  /** `inline`: base64 in the module; `file`: read `fileName` next to the module; `auto`: by size. */
  embed: EmbedMode;
  /** The object's file name, e.g. `minimal.bpf.o` (its directory part is ignored). */
  fileName: string;
  /**
   * Extra types to generate, by C name (struct, union, enum or typedef); `MAP=TYPE` also makes `TYPE` the
   * record type of ring buffer `MAP`.
   */
  types?: string[];
  /** Largest object accepted, in bytes (default {@link DEFAULT_MAX_BYTES}). */
  maxBytes?: number;
}

/** Objects larger than this are refused unless `maxBytes` says otherwise (the kernel loads far smaller ones). */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** Refuses an object over the size limit before any parsing. */
function checkSize(bytes: Uint8Array, fileName: string, maxBytes = DEFAULT_MAX_BYTES): void {
  if (bytes.length > maxBytes) {
    throw new OptionError(
      `${fileBase(fileName)} is ${bytes.length} bytes, larger than the limit of ${maxBytes} bytes (maxBytes)`,
      { option: 'maxBytes', code: 'EFBIG' },
    );
  }
}

/** Options of {@link generateTypes}. */
export interface TypesOptions {
  /** The object's file name, for messages and the header comment. */
  fileName: string;
  /** Types to generate by C name; default: every type reachable from maps and global variables. */
  types?: string[];
  /** Largest object accepted, in bytes (default {@link DEFAULT_MAX_BYTES}). */
  maxBytes?: number;
}

/** What {@link generateSkeleton} produces. */
export interface GeneratedSkeleton {
  /** The module text (`<name>.skel.ts`). */
  code: string;
  /** With `embed: 'file'`: the file to write next to the module. */
  sidecar?: { fileName: string; bytes: Uint8Array };
}

/** Support code of the runtime a skeleton may import (its base class and functions), besides the codec helpers. */
export const SUPPORT_NAMES = [
  'Skeleton',
  'openSkeleton',
  'loadSkeleton',
  'mapNamed',
  'programNamed',
  'writableView',
  'embeddedObject',
  'readObjectFile',
] as const;

type SupportName = (typeof SUPPORT_NAMES)[number];

/**
 * Names the module scope of generated code reserves: imports, constants, locals and globals it refers to.
 * Imports are named imports, so every name generated code may import from the runtime is here.
 */
export const RESERVED_MODULE_NAMES: readonly string[] = [
  ...CODEC_LOCALS,
  ...HELPER_NAMES,
  ...SUPPORT_NAMES,
  'BpfObject',
  'BpfMap',
  'BpfProgram',
  'BpfLink',
  'Codec',
  'OpenOptions',
  'HashMap',
  'ArrayMap',
  'PerCpuHashMap',
  'PerCpuArrayMap',
  'QueueMap',
  'StackMap',
  'BloomFilterMap',
  'RingBuffer',
  'UserRingBuffer',
  'PerfEventArray',
  'ProgArrayMap',
  'MapOfMaps',
  'RawMap',
  'ELF_BASE64',
  'ELF_URL',
  'ELF_SHA256',
  'ELF_FILE',
  // Used by skeletons before their support moved to the runtime; still reserved so that generated names
  // stay the same.
  'BpfError',
  'attachAuto',
  'createHash',
  'readFileSync',
  'Buffer',
  'verifiedElf',
  'copyBuffer',
  'utf8Decoder',
  'utf8Encoder',
  'obj',
  'opts',
  'skel',
  'map',
  'error',
  'digest',
  'variable',
  'program',
  // globals generated code refers to
  'Array',
  'ArrayBuffer',
  'ArrayBufferView',
  'BigInt',
  'DataView',
  'Error',
  'JSON',
  'Math',
  'Partial',
  'RangeError',
  'Record',
  'String',
  'Symbol',
  'TextDecoder',
  'TextEncoder',
  'URL',
  'Uint8Array',
  'Int8Array',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
  'Float32Array',
  'Float64Array',
];

/** Instance members of the skeleton class (with those of the runtime's `Skeleton`) that section views must not take. */
const SKEL_MEMBERS = [
  'obj',
  'maps',
  'progs',
  'links',
  'load',
  'attach',
  'detach',
  'destroy',
  'open',
  'openAndLoad',
  'elfBytes',
];

/** `minimal.bpf.o` → `Minimal`, `my-prog.o` → `MyProg`: PascalCase of the file name before its first dot. */
export function baseNameOf(fileName: string): string {
  const file = fileName.slice(fileName.lastIndexOf('/') + 1);
  const stem = file.includes('.') ? file.slice(0, file.indexOf('.')) : file;
  return pascal(stem);
}

function pascal(text: string): string {
  const parts = text.split(/[^A-Za-z0-9]+/).filter((p) => p !== '');
  const joined = parts.map((p) => p[0].toUpperCase() + p.slice(1)).join('');
  if (joined === '') return 'Bpf';
  return /^[0-9]/.test(joined) ? `Bpf${joined}` : joined;
}

/** The object name the loader gives a file: its name up to the first dot (`minimal.bpf.o` → `minimal`). */
function objectNameOf(fileName: string): string {
  return fileBase(fileName).split('.')[0] || 'bpf';
}

function fileBase(fileName: string): string {
  return fileName.slice(fileName.lastIndexOf('/') + 1);
}

/** Splits `MAP=TYPE` entries from plain type names. */
function parseTypeRequests(types: readonly string[]): { names: string[]; records: Map<string, string> } {
  const names: string[] = [];
  const records = new Map<string, string>();
  for (const entry of types) {
    const eq = entry.indexOf('=');
    if (eq === -1) {
      names.push(entry);
      continue;
    }
    const map = entry.slice(0, eq);
    const type = entry.slice(eq + 1);
    if (map === '' || type === '' || records.has(map)) {
      throw new OptionError(`bad types entry '${entry}': expected TYPE or MAP=TYPE, one per map`, {
        option: 'types',
      });
    }
    records.set(map, type);
  }
  return { names, records };
}

/** Types to declare: map keys and values, ring buffer records and global variables. */
function typeRoots(model: ObjectModel): number[] {
  const roots: number[] = [];
  for (const m of model.maps) {
    if (m.keyType !== 0) roots.push(m.keyType);
    if (m.valueType !== 0) roots.push(m.valueType);
  }
  for (const s of model.sections) for (const v of s.variables) roots.push(v.type);
  return roots;
}

function header(fileName: string, what: string): string[] {
  return [
    `// Generated by bpf-skel from ${commentText(fileBase(fileName))}: ${what}.`,
    '// Do not edit: regenerate it when the object changes.',
  ];
}

/**
 * Generates the TypeScript types and codecs of an object, without a skeleton class.
 *
 * @throws ElfError / BtfError on a malformed object or one without BTF; OptionError for an unknown type name
 */
export function generateTypes(elfBytes: Uint8Array, opts: TypesOptions): string {
  checkSize(elfBytes, opts.fileName, opts.maxBytes);
  const { names, records } = parseTypeRequests(opts.types ?? []);
  const model = describeObject(elfBytes, opts.fileName, records);
  const roots = names.length > 0 || records.size > 0 ? [] : typeRoots(model);
  for (const m of model.maps) if (records.has(m.name)) roots.push(m.valueType);
  const plan = planTypes(model.btf, roots, names, RESERVED_MODULE_NAMES);
  const emitter = new CodecEmitter(plan, RESERVED_MODULE_NAMES);
  const decls = emitDeclarations(emitter);
  const helpers = emitter.helpersUsed();
  const usesCodec = /\bCodec\b/.test(decls.join('\n'));
  const imports = runtimeImports(
    helpers.filter((h) => !TYPE_HELPERS.has(h)),
    [...(usesCodec ? ['Codec'] : []), ...helpers.filter((h) => TYPE_HELPERS.has(h))],
  );
  const lines = [
    ...header(opts.fileName, 'types and codecs of its BTF'),
    '',
    ...(imports.length > 0 ? imports : ['export {};']),
  ];
  if (decls.length > 0) lines.push('', ...decls);
  return `${lines.join('\n')}\n`;
}

/** Names of the module's generated classes and interfaces. */
interface ClassNames {
  skel: string;
  maps: string;
  progs: string;
  links: string;
  /** Section name → [skeleton property, view class]. */
  sections: Map<string, [string, string]>;
}

function sectionProperty(section: string): string {
  if (section === '.kconfig') return 'kconfig';
  const kind = section.startsWith('.rodata') ? 'rodata' : section.startsWith('.bss') ? 'bss' : 'data';
  const rest = section.slice(kind.length + 1);
  return rest === '' ? kind : `${kind}_${rest.replace(/^\./, '')}`;
}

function classNames(base: string, sections: readonly SectionModel[]): ClassNames {
  const props = assignKeyed(
    sections.map((s) => [s.name, sectionProperty(s.name)] as const),
    SKEL_MEMBERS,
  );
  const entities: [string, string][] = [
    ['skel', `${base}Skel`],
    ['maps', `${base}Maps`],
    ['progs', `${base}Progs`],
    ['links', `${base}Links`],
  ];
  for (const s of sections)
    entities.push([`section:${s.name}`, `${base}${pascal(props.get(s.name) as string)}`]);
  const names = assignKeyed(entities, RESERVED_MODULE_NAMES);
  const sectionNames = new Map<string, [string, string]>();
  for (const s of sections) {
    sectionNames.set(s.name, [props.get(s.name) as string, names.get(`section:${s.name}`) as string]);
  }
  return {
    skel: names.get('skel') as string,
    maps: names.get('maps') as string,
    progs: names.get('progs') as string,
    links: names.get('links') as string,
    sections: sectionNames,
  };
}

/**
 * Generates the skeleton module of an object.
 *
 * @throws ElfError / BtfError on a malformed object or one without BTF; OptionError for bad options
 */
export function generateSkeleton(elfBytes: Uint8Array, opts: SkeletonOptions): GeneratedSkeleton {
  checkSize(elfBytes, opts.fileName, opts.maxBytes);
  if (opts.embed !== 'inline' && opts.embed !== 'file' && opts.embed !== 'auto') {
    throw new OptionError(`embed must be 'inline', 'file' or 'auto', not ${String(opts.embed)}`, {
      option: 'embed',
    });
  }
  const { names: requested, records } = parseTypeRequests(opts.types ?? []);
  const model = describeObject(elfBytes, opts.fileName, records);
  const base = opts.name !== undefined ? pascal(opts.name) : baseNameOf(opts.fileName);
  const cls = classNames(base, model.sections);
  const reserved = [...RESERVED_MODULE_NAMES, cls.skel, cls.maps, cls.progs, cls.links];
  for (const [, [, view]] of cls.sections) reserved.push(view);
  const plan = planTypes(model.btf, typeRoots(model), requested, reserved);
  const emitter = new CodecEmitter(plan, reserved);
  const inline = opts.embed === 'inline' || (opts.embed === 'auto' && elfBytes.length <= AUTO_INLINE_LIMIT);
  const fileName = fileBase(opts.fileName);

  const mapNames = assignNames(model.maps.map((m) => m.name));
  const progNames = assignNames(model.programs.map((p) => p.name));
  const maps = [...model.maps].sort((a, b) => compareCodeUnits(mapNames.get(a.name), mapNames.get(b.name)));
  const programs = [...model.programs].sort((a, b) =>
    compareCodeUnits(progNames.get(a.name), progNames.get(b.name)),
  );
  const sections = [...model.sections].sort((a, b) => compareCodeUnits(a.name, b.name));

  const body: string[][] = [];
  const declarations = emitDeclarations(emitter);
  if (declarations.length > 0) body.push(declarations);
  for (const s of sections)
    body.push(emitSectionView(emitter, s, cls.sections.get(s.name) as [string, string]));
  const wrappers = new Set(maps.map((m) => m.wrapper));
  body.push(emitMapsInterface(plan, cls.maps, fileName, maps, mapNames.get));
  body.push(emitProgsInterfaces(cls, fileName, programs, progNames.get));
  body.push(emitEmbedding(elfBytes, fileName, inline));
  body.push(
    emitSkelClass({
      emitter,
      cls,
      fileName,
      maps,
      programs,
      sections,
      inline,
      mapName: mapNames.get,
      progName: progNames.get,
    }),
  );
  const support: Record<SupportName, boolean> = {
    Skeleton: true,
    openSkeleton: true,
    loadSkeleton: true,
    mapNamed: maps.length > 0 || sections.length > 0,
    programNamed: programs.length > 0,
    writableView: sections.some((s) => s.kind !== 'kconfig'),
    embeddedObject: inline,
    readObjectFile: !inline,
  };
  const helpers = emitter.helpersUsed();

  const text = body.map((b) => b.join('\n')).join('\n');
  const used = (id: string): boolean => new RegExp(`\\b${id}\\b`).test(text);
  const valueImports = [
    ...wrappers,
    ...SUPPORT_NAMES.filter((n) => support[n]),
    ...helpers.filter((h) => !TYPE_HELPERS.has(h)),
  ];
  const typeImports = [
    ...['BpfLink', 'BpfMap', 'BpfObject', 'BpfProgram', 'Codec', 'OpenOptions'].filter(used),
    ...helpers.filter((h) => TYPE_HELPERS.has(h)),
  ];
  const lines = [
    ...header(opts.fileName, 'typed skeleton'),
    '',
    ...runtimeImports(valueImports, typeImports),
    '',
    ...body.flatMap((b, i) => (i === 0 ? b : ['', ...b])),
  ];
  const code = `${lines.join('\n')}\n`;
  return inline ? { code } : { code, sidecar: { fileName, bytes: elfBytes } };
}

/** The import declarations of `bpf-skel/runtime` for these values and types, each list sorted. */
function runtimeImports(values: readonly string[], types: readonly string[]): string[] {
  return [...importLines('import', values), ...importLines('import type', types)];
}

function importLines(keyword: string, names: readonly string[]): string[] {
  if (names.length === 0) return [];
  const sorted = [...new Set(names)].sort(compareCodeUnits);
  const line = `${keyword} { ${sorted.join(', ')} } from 'bpf-skel/runtime';`;
  if (line.length <= 110) return [line];
  return [`${keyword} {`, ...sorted.map((n) => `  ${n},`), "} from 'bpf-skel/runtime';"];
}

function emitSectionView(emitter: CodecEmitter, section: SectionModel, names: [string, string]): string[] {
  const { btf } = emitter.plan;
  const [, className] = names;
  const readOnly = section.kind === 'kconfig';
  const text =
    section.kind === 'kconfig'
      ? [
          `Values of the \`__kconfig\` externs (\`${commentText(section.name)}\`), filled in by the loader at load;`,
          'read-only. Aggregates and arrays are copied out.',
        ]
      : [
          `Global variables of section \`${commentText(section.name)}\`, read and written in place: before load the initial`,
          section.kind === 'rodata'
            ? 'values, after load the frozen map memory (setters then throw). Aggregates and arrays are copied.'
            : 'values, after load the live map memory. Aggregates and arrays are copied in and out.',
        ];
  const lines = [
    ...docLines(text, ''),
    `export class ${className} {`,
    '  readonly #map: BpfMap;',
    '',
    `  /** Wraps the internal map of \`${commentText(section.name)}\`. */`,
    '  constructor(map: BpfMap) {',
    '    this.#map = map;',
    '  }',
  ];
  const props = assignKeyed(
    section.variables.map((v, i) => [i, v.name] as const),
    ['constructor'],
  );
  const order = section.variables
    .map((v, i) => ({ v, name: props.get(i) as string }))
    .sort((a, b) => a.v.offset - b.v.offset || compareCodeUnits(a.name, b.name));
  for (const { v, name } of order) {
    const type = tsTypeOf(emitter.plan, v.type);
    const doc = `${cDoc(cDeclaration(btf, v.type, v.name))}, offset ${v.offset}`;
    lines.push(
      '',
      ...docLines([doc], '  '),
      `  get ${name}(): ${type} {`,
      '    const view = this.#map.dataView();',
      `    return ${emitter.decode(v.type, '', v.offset, '    ')};`,
      '  }',
    );
    if (!readOnly) {
      lines.push(
        '',
        `  set ${name}(value: ${type}) {`,
        `    const view = writableView(this.#map, ${stringLiteral(v.name)});`,
        ...emitter.encode(v.type, 'value', '', v.offset).map((l) => `    ${l}`),
        '  }',
      );
    }
  }
  lines.push('}');
  return lines;
}

function mapTypeArgs(plan: TypePlan, m: MapModel): string {
  switch (m.wrapper) {
    case 'HashMap':
    case 'PerCpuHashMap':
      return `<${tsTypeOf(plan, m.keyType)}, ${tsTypeOf(plan, m.valueType)}>`;
    case 'ArrayMap':
    case 'PerCpuArrayMap':
    case 'QueueMap':
    case 'StackMap':
    case 'BloomFilterMap':
      return `<${tsTypeOf(plan, m.valueType)}>`;
    case 'RingBuffer':
    case 'UserRingBuffer':
      return `<${m.valueType === 0 ? 'Uint8Array' : tsTypeOf(plan, m.valueType)}>`;
    case 'MapOfMaps':
      return m.keyType === 0 ? '' : `<${tsTypeOf(plan, m.keyType)}>`;
    default:
      return '';
  }
}

function mapDoc(btf: Btf, m: MapModel): string {
  const parts = [`\`${commentText(m.type)}\` map \`${commentText(m.name)}\``];
  if (m.keyType !== 0) parts.push(`key ${cDoc(cDeclaration(btf, m.keyType, ''))}`);
  if (m.valueType !== 0) {
    const role = isRing(m.wrapper) ? 'records' : 'value';
    parts.push(`${role} ${cDoc(cDeclaration(btf, m.valueType, ''))}`);
  }
  if (m.recordFrom !== undefined) parts.push(`record type from ${commentText(m.recordFrom)}`);
  else if (isRing(m.wrapper)) parts.push('raw records (declare `<map>_record` to type them)');
  if (!isRing(m.wrapper) && m.maxEntries > 0) {
    parts.push(`${m.maxEntries} ${m.maxEntries === 1 ? 'entry' : 'entries'}`);
  }
  return parts.join(', ');
}

function emitMapsInterface(
  plan: TypePlan,
  name: string,
  fileName: string,
  maps: readonly MapModel[],
  safe: (original: string) => string,
): string[] {
  const lines = [
    ...docLines([`Maps of \`${commentText(fileName)}\`, typed from its BTF.`], ''),
    `export interface ${name} {`,
  ];
  maps.forEach((m, i) => {
    if (i > 0) lines.push('');
    lines.push(
      ...docLines([mapDoc(plan.btf, m)], '  '),
      `  readonly ${safe(m.name)}: ${m.wrapper}${mapTypeArgs(plan, m)};`,
    );
  });
  lines.push('}');
  return closeEmpty(lines);
}

/** `interface X {` directly followed by `}` becomes `interface X {}`. */
function closeEmpty(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line === '}' && out.length > 0 && out[out.length - 1].endsWith(' {')) out[out.length - 1] += '}';
    else out.push(line);
  }
  return out;
}

function emitProgsInterfaces(
  cls: ClassNames,
  fileName: string,
  programs: readonly { name: string; section: string }[],
  safe: (original: string) => string,
): string[] {
  const progs = [
    ...docLines([`Programs of \`${commentText(fileName)}\`, by C function name.`], ''),
    `export interface ${cls.progs} {`,
  ];
  const links = [
    ...docLines(
      [
        `Links of the programs of \`${commentText(fileName)}\`: set by \`attach()\` for programs that attach by`,
        'section name, cleared by `detach()`; assign your own to have `detach()` and `destroy()` release them.',
      ],
      '',
    ),
    `export interface ${cls.links} {`,
  ];
  programs.forEach((p, i) => {
    if (i > 0) {
      progs.push('');
      links.push('');
    }
    const doc = `\`SEC(${commentText(JSON.stringify(p.section))})\` \`${commentText(p.name)}\``;
    progs.push(...docLines([doc], '  '), `  readonly ${safe(p.name)}: BpfProgram;`);
    links.push(...docLines([doc], '  '), `  ${safe(p.name)}: BpfLink | undefined;`);
  });
  progs.push('}');
  links.push('}');
  return [...closeEmpty(progs), '', ...closeEmpty(links)];
}

function emitEmbedding(bytes: Uint8Array, fileName: string, inline: boolean): string[] {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const lines = [
    `/** SHA-256 of \`${commentText(fileName)}\` as generated from. */`,
    `const ELF_SHA256 = ${stringLiteral(digest)};`,
    '',
  ];
  if (inline) {
    const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    const chunks: string[] = [];
    for (let i = 0; i < base64.length; i += 100) chunks.push(base64.slice(i, i + 100));
    lines.push(
      `/** \`${commentText(fileName)}\` (${bytes.length} bytes), base64. */`,
      'const ELF_BASE64 = [',
      ...chunks.map((c) => `  '${c}',`),
      "].join('');",
    );
  } else {
    lines.push(
      `/** \`${commentText(fileName)}\` (${bytes.length} bytes), read from next to this module. */`,
      `const ELF_URL = new URL(${stringLiteral(`./${encodeURIComponent(fileName)}`)}, import.meta.url);`,
    );
  }
  return lines;
}

interface SkelParts {
  emitter: CodecEmitter;
  cls: ClassNames;
  fileName: string;
  maps: readonly MapModel[];
  programs: readonly { name: string; section: string; autoAttach: boolean }[];
  sections: readonly SectionModel[];
  inline: boolean;
  mapName: (original: string) => string;
  progName: (original: string) => string;
}

function mapConstruction(emitter: CodecEmitter, m: MapModel, mapName: (o: string) => string): string {
  const { plan } = emitter;
  const target = `mapNamed(obj, ${stringLiteral(m.name)})`;
  const indent = '      ';
  let args: string[];
  switch (m.wrapper) {
    case 'HashMap':
    case 'PerCpuHashMap':
      args = [target, emitter.codecExpr(m.keyType, indent), emitter.codecExpr(m.valueType, indent)];
      break;
    case 'ArrayMap':
    case 'PerCpuArrayMap':
    case 'QueueMap':
    case 'StackMap':
    case 'BloomFilterMap':
      args = [target, emitter.codecExpr(m.valueType, indent)];
      break;
    case 'RingBuffer':
    case 'UserRingBuffer':
      args = [target, m.valueType === 0 ? 'undefined' : emitter.codecExpr(m.valueType, indent)];
      break;
    case 'MapOfMaps':
      args = m.keyType === 0 ? [target] : [target, emitter.codecExpr(m.keyType, indent)];
      break;
    default:
      args = [target];
  }
  return `      ${mapName(m.name)}: new ${m.wrapper}${mapTypeArgs(plan, m)}(${args.join(', ')}),`;
}

function emitSkelClass(p: SkelParts): string[] {
  const { cls, fileName } = p;
  const name = cls.skel;
  const objectName = stringLiteral(objectNameOf(fileName));
  const lines = [
    ...docLines(
      [
        `Skeleton of \`${commentText(fileName)}\`: \`open()\` it, set read-only globals, \`load()\`, \`attach()\`, then`,
        'use its maps and global variables; `destroy()` (or `using`) releases everything. The life cycle',
        '(`obj`, `progs`, `links`, `load()`, `attach()`, `detach()`, `destroy()`) comes from `Skeleton`.',
      ],
      '',
    ),
    `export class ${name} extends Skeleton<${cls.progs}, ${cls.links}> {`,
    '  /** Typed maps. */',
    `  readonly maps: ${cls.maps};`,
  ];
  for (const s of p.sections) {
    const [prop, view] = cls.sections.get(s.name) as [string, string];
    lines.push(`  /** Global variables of \`${commentText(s.name)}\`. */`, `  readonly ${prop}: ${view};`);
  }
  lines.push('', '  private constructor(obj: BpfObject) {', ...superCall(p));
  if (p.maps.length === 0) lines.push('    this.maps = {};');
  else {
    lines.push('    this.maps = {');
    for (const m of p.maps) lines.push(mapConstruction(p.emitter, m, p.mapName));
    lines.push('    };');
  }
  for (const s of p.sections) {
    const [prop, view] = cls.sections.get(s.name) as [string, string];
    lines.push(`    this.${prop} = new ${view}(mapNamed(obj, ${stringLiteral(s.name)}));`);
  }
  lines.push(
    '  }',
    '',
    `  /** The bytes of \`${commentText(fileName)}\` (a fresh copy), checked against their recorded SHA-256. */`,
    '  static elfBytes(): Uint8Array {',
    p.inline
      ? `    return embeddedObject(ELF_BASE64, ELF_SHA256, ${stringLiteral(fileName)});`
      : `    return readObjectFile(ELF_URL, ELF_SHA256, ${stringLiteral(fileName)});`,
    '  }',
    '',
    '  /**',
    '   * Parses the object (no BPF syscalls yet); `opts` go to `BpfObject.open()` unchanged. The object is',
    `   * named ${commentText(JSON.stringify(objectNameOf(fileName)))} (the prefix of its internal maps, as for the file) unless \`opts.objectName\` says otherwise.`,
    '   */',
    `  static open(opts?: OpenOptions): ${name} {`,
    `    return openSkeleton(${name}.elfBytes(), opts, ${objectName}, (obj) => new ${name}(obj));`,
    '  }',
    '',
    '  /** `open(opts)` then `load()`; nothing stays open when loading fails. */',
    `  static openAndLoad(opts?: OpenOptions): ${name} {`,
    `    return loadSkeleton(${name}.open(opts));`,
    '  }',
    '}',
  );
  return lines;
}

/**
 * The constructor's `super(obj, progs, links, autoAttached, linked)`. The name lists are data for the
 * runtime's loops rather than a statement per program: a skeleton of thousands of programs must still be
 * within what tsc analyses in one function body.
 */
function superCall(p: SkelParts): string[] {
  if (p.programs.length === 0) return ['    super(obj, {}, {}, [], []);'];
  const names = (progs: readonly { name: string }[]): string[] =>
    progs.map((prog) => stringLiteral(p.progName(prog.name)));
  const list = (items: readonly string[]): string[] => {
    const flat = `      [${items.join(', ')}],`;
    return flat.length <= 110 ? [flat] : ['      [', ...items.map((n) => `        ${n},`), '      ],'];
  };
  return [
    '    super(',
    '      obj,',
    '      {',
    ...p.programs.map(
      (prog) => `        ${p.progName(prog.name)}: programNamed(obj, ${stringLiteral(prog.name)}),`,
    ),
    '      },',
    '      {',
    ...p.programs.map((prog) => `        ${p.progName(prog.name)}: undefined,`),
    '      },',
    '      // attach() attaches these by section name, in this order:',
    ...list(names(p.programs.filter((prog) => prog.autoAttach))),
    '      // detach() releases the links of these, in this order:',
    ...list(names([...p.programs].reverse())),
    '    );',
  ];
}
