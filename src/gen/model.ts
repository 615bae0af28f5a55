/**
 * What a skeleton exposes of an object, read with the loader's own parser (so the generator and the loader
 * agree on names): its maps with their typed wrapper, its programs and the variables of each global data
 * section with their offsets.
 *
 * Ring buffer record types come, in this order, from an explicit `MAP=TYPE` entry of the `types` option, or
 * from a global variable named `<map>_record` whose type is the record type, a pointer to it or an array of
 * it (`struct event *events_record __attribute__((unused));`); such anchor variables are not shown in the
 * section views. Without either, records are raw bytes.
 *
 * @module
 */
import type { Btf, BtfDatasec, BtfType } from '../btf/types.js';
import { BtfError, OptionError } from '../errors.js';
import { collectObject } from '../runtime/collect/object.js';
import { kconfigLayout } from '../runtime/externs/kconfig.js';
import type { ObjectSpec } from '../runtime/spec.js';
import { type MapType, mapTypeName, type UnknownKind } from '../runtime/sys/kinds.js';

/** The runtime wrapper class a map gets in the skeleton. */
export type MapWrapper =
  | 'HashMap'
  | 'ArrayMap'
  | 'PerCpuHashMap'
  | 'PerCpuArrayMap'
  | 'QueueMap'
  | 'StackMap'
  | 'BloomFilterMap'
  | 'RingBuffer'
  | 'UserRingBuffer'
  | 'PerfEventArray'
  | 'ProgArrayMap'
  | 'MapOfMaps'
  | 'RawMap';

/** Whether a wrapper carries records (a ring buffer either way) rather than keyed values. */
export function isRing(wrapper: MapWrapper): boolean {
  return wrapper === 'RingBuffer' || wrapper === 'UserRingBuffer';
}

/** A map of `.maps` and how the skeleton types it. */
export interface MapModel {
  readonly name: string;
  readonly type: MapType | UnknownKind;
  readonly wrapper: MapWrapper;
  /** BTF ids of the key and value (or ring buffer record) types the wrapper is typed with; 0 when none. */
  readonly keyType: number;
  readonly valueType: number;
  readonly maxEntries: number;
  /** Where a ring buffer's record type came from, for documentation. */
  readonly recordFrom: string | undefined;
}

/** An entry program. */
export interface ProgramModel {
  readonly name: string;
  readonly section: string;
  /** Whether the section names a target that auto-attach can use. */
  readonly autoAttach: boolean;
}

/** A variable of a global data section. */
export interface VariableModel {
  readonly name: string;
  readonly type: number;
  readonly offset: number;
}

/** A global data section (`.data`, `.rodata.foo`, `.kconfig`...) and its variables, by offset. */
export interface SectionModel {
  /** Section name, which is also the internal map's name in `BpfObject.maps`. */
  readonly name: string;
  readonly kind: 'data' | 'rodata' | 'bss' | 'kconfig';
  readonly variables: readonly VariableModel[];
}

/** Everything the skeleton generator needs from an object. */
export interface ObjectModel {
  readonly btf: Btf;
  readonly maps: readonly MapModel[];
  readonly programs: readonly ProgramModel[];
  readonly sections: readonly SectionModel[];
}

const WRAPPERS: Partial<Record<MapType, MapWrapper>> = {
  hash: 'HashMap',
  lru_hash: 'HashMap',
  lpm_trie: 'HashMap',
  array: 'ArrayMap',
  percpu_hash: 'PerCpuHashMap',
  lru_percpu_hash: 'PerCpuHashMap',
  percpu_array: 'PerCpuArrayMap',
  queue: 'QueueMap',
  stack: 'StackMap',
  bloom_filter: 'BloomFilterMap',
  ringbuf: 'RingBuffer',
  user_ringbuf: 'UserRingBuffer',
  perf_event_array: 'PerfEventArray',
  prog_array: 'ProgArrayMap',
  array_of_maps: 'MapOfMaps',
  hash_of_maps: 'MapOfMaps',
};

/** Wrappers typed by key and value, by value only, or by a record type. */
const KEYED = new Set<MapWrapper>(['HashMap', 'PerCpuHashMap']);
const VALUED = new Set<MapWrapper>(['ArrayMap', 'PerCpuArrayMap', 'QueueMap', 'StackMap', 'BloomFilterMap']);

/**
 * Reads an object for the generator.
 *
 * @param fileName used in error messages
 * @param records ring buffer record types given explicitly: map name → type name
 * @throws ElfError / BtfError for a malformed object or one without BTF; OptionError for a bad record type
 */
export function describeObject(
  bytes: Uint8Array,
  fileName: string,
  records: ReadonlyMap<string, string>,
): ObjectModel {
  const spec = collectObject(bytes, fileName, 'skeleton');
  const btf = spec.btf;
  if (btf === undefined) {
    throw new BtfError('the object has no .BTF section; compile it with clang -g', { file: fileName });
  }
  const sections = describeSections(spec, btf);
  const anchors = new Map<string, number>();
  for (const s of sections) for (const v of s.variables) anchors.set(v.name, v.type);

  const maps: MapModel[] = [];
  const usedAnchors = new Set<string>();
  for (const m of spec.maps) {
    if (m.data !== undefined) continue;
    const type = mapTypeName(m.type);
    let wrapper: MapWrapper =
      (type.startsWith('unknown') ? undefined : WRAPPERS[type as MapType]) ?? 'RawMap';
    let keyType = 0;
    let valueType = 0;
    let recordFrom: string | undefined;
    if (KEYED.has(wrapper)) {
      if (m.btfKeyTypeId === 0 || m.btfValueTypeId === 0) wrapper = 'RawMap';
      else [keyType, valueType] = [m.btfKeyTypeId, m.btfValueTypeId];
    } else if (VALUED.has(wrapper)) {
      if (m.btfValueTypeId === 0) wrapper = 'RawMap';
      else valueType = m.btfValueTypeId;
    } else if (wrapper === 'MapOfMaps' && type === 'hash_of_maps' && m.btfKeyTypeId !== 0) {
      keyType = m.btfKeyTypeId;
    } else if (isRing(wrapper)) {
      const explicit = records.get(m.name);
      const anchor = anchors.get(`${m.name}_record`);
      if (explicit !== undefined) {
        valueType = findRecordType(btf, explicit);
        recordFrom = `the types option (${m.name}=${explicit})`;
      } else if (anchor !== undefined && recordTypeOf(btf, anchor) !== 0) {
        valueType = recordTypeOf(btf, anchor);
        usedAnchors.add(`${m.name}_record`);
        recordFrom = `the variable ${m.name}_record`;
      } else if (m.btfValueTypeId !== 0) {
        valueType = m.btfValueTypeId;
        recordFrom = 'the map value type';
      }
    }
    maps.push({ name: m.name, type, wrapper, keyType, valueType, maxEntries: m.maxEntries, recordFrom });
  }
  for (const name of records.keys()) {
    if (!maps.some((m) => m.name === name && isRing(m.wrapper))) {
      throw new OptionError(`'${name}' in the types option is not a ring buffer map of the object`, {
        option: 'types',
      });
    }
  }
  // A section with no variable to show (only static ones, or only record anchors) gets no view.
  const visibleSections = sections
    .map((s) => ({ ...s, variables: s.variables.filter((v) => !usedAnchors.has(v.name)) }))
    .filter((s) => s.variables.length > 0);
  const programs = spec.programs.map((p) => ({
    name: p.name,
    section: p.sectionName,
    autoAttach: p.sectionSpec.autoAttach,
  }));
  return { btf, maps, programs, sections: visibleSections };
}

/** The struct/union a record anchor variable names (itself, through a pointer or an array), or 0. */
function recordTypeOf(btf: Btf, varType: number): number {
  let t: BtfType = btf.resolve(varType);
  if (t.kind === 'ptr' || t.kind === 'array') t = btf.resolve(t.type);
  return t.kind === 'struct' || t.kind === 'union' ? t.id : 0;
}

function findRecordType(btf: Btf, name: string): number {
  for (const kind of ['struct', 'union', 'typedef'] as const) {
    const t = btf.findByName(name, kind);
    if (t !== undefined) return t.id;
  }
  throw new OptionError(`record type '${name}' is not a struct, union or typedef of the object's BTF`, {
    option: 'types',
  });
}

function sectionKind(name: string): SectionModel['kind'] {
  if (name === '.bss') return 'bss';
  if (name === '.kconfig') return 'kconfig';
  return name.startsWith('.rodata') ? 'rodata' : 'data';
}

/**
 * Variables of each data section. Offsets come from the ELF symbols (clang leaves 0 in the DATASEC); static
 * variables are left out (their names need not be unique and C code cannot reach them from outside either).
 */
function describeSections(spec: ObjectSpec, btf: Btf): SectionModel[] {
  const result: SectionModel[] = [];
  for (const m of spec.maps) {
    if (m.data === undefined || m.data.kind === 'kconfig') continue;
    const section = spec.elf.sectionByName(m.data.section);
    const datasec = btf.findByName(m.data.section, 'datasec') as BtfDatasec | undefined;
    if (section === undefined || datasec === undefined) continue;
    const symbols = new Map(spec.elf.symbolsOf(section.index).map((s) => [s.name, s]));
    const variables: VariableModel[] = [];
    for (const info of datasec.vars) {
      const v = btf.typeById(info.type);
      if (v.kind !== 'var' || v.linkage !== 'global') continue;
      const offset = symbols.get(v.name)?.value ?? info.offset;
      variables.push({ name: v.name, type: v.type, offset });
    }
    if (variables.length > 0)
      result.push({ name: m.data.section, kind: sectionKind(m.data.section), variables });
  }
  const kconfig = kconfigLayout(btf);
  if (kconfig !== undefined) {
    const variables = kconfig.vars.map((v) => ({ name: v.name, type: v.type, offset: v.offset }));
    result.push({ name: '.kconfig', kind: 'kconfig', variables });
  }
  return result;
}
