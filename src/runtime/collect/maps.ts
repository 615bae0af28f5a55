/**
 * Maps of an object: BTF-defined maps from `.maps` (with inner-map templates and static initialisers) and
 * the internal maps that hold global data sections.
 *
 * @module
 */
import type { Btf, BtfComposite, BtfDatasec } from '../../btf/types.js';
import type { ElfFile, ElfSection } from '../../elf/types.js';
import { SHF, SHT } from '../../elf/types.js';
import { ElfError } from '../../errors.js';
import { kconfigLayout } from '../externs/kconfig.js';
import type { MapSpec, PinningMode, SlotInit } from '../spec.js';
import { MapTypes } from '../sys/kinds.js';

/** `BPF_F_RDONLY_PROG`: programs may only read the map. */
const F_RDONLY_PROG = 0x80;
/** `BPF_F_MMAPABLE`: the array can be mmapped. */
const F_MMAPABLE = 0x400;
/** Largest global data section accepted (the kernel caps array values far lower; this only bounds memory). */
const MAX_DATA_SECTION = 1 << 30;
/** Longest kernel object name, without the NUL. */
const OBJ_NAME_MAX = 15;

/** Whether a section holds global data that becomes an internal map. */
export function isDataSection(s: ElfSection): boolean {
  if (s.type !== SHT.PROGBITS && s.type !== SHT.NOBITS) return false;
  if ((s.flags & SHF.ALLOC) === 0 || (s.flags & SHF.EXECINSTR) !== 0 || s.size === 0) return false;
  const n = s.name;
  return (
    n === '.data' || n === '.rodata' || n === '.bss' || n.startsWith('.data.') || n.startsWith('.rodata.')
  );
}

/** Kernel-visible name of the internal map for `section` of object `objName` (as libbpf names it). */
export function internalMapName(objName: string, section: string): string {
  // Custom sections (".data.foo") are named by the section alone, standard ones get the object's prefix.
  const custom = section.indexOf('.', 1) !== -1;
  // The prefix leaves room for the section name, counted as at least 7 characters ('.kconfig' gets 7).
  const prefix = custom ? '' : objName.slice(0, OBJ_NAME_MAX - Math.max(7, section.length));
  return sanitizeObjName(prefix + section).slice(0, OBJ_NAME_MAX);
}

/** A name the kernel accepts: `[A-Za-z0-9_.]`, at most 15 characters. */
export function kernelObjName(name: string): string {
  return sanitizeObjName(name).slice(0, OBJ_NAME_MAX);
}

function sanitizeObjName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** Internal maps for every global data section, and `.kconfig` when the object declares `__kconfig` externs. */
export function collectDataMaps(elf: ElfFile, btf: Btf | undefined, objName: string): MapSpec[] {
  const maps: MapSpec[] = [];
  for (const s of elf.sections) {
    if (!isDataSection(s)) continue;
    if (s.size > MAX_DATA_SECTION) {
      throw new ElfError(`global data section of ${s.size} bytes is larger than any BPF map can hold`, {
        file: elf.file,
        section: s.name,
      });
    }
    const kind = s.name === '.bss' ? 'bss' : s.name.startsWith('.rodata') ? 'rodata' : 'data';
    const datasec = btf?.findByName(s.name, 'datasec');
    const initial = new Uint8Array(s.size);
    if (s.type !== SHT.NOBITS) initial.set(s.data);
    maps.push({
      name: s.name,
      kernelName: internalMapName(objName, s.name),
      type: MapTypes.array,
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      flags: F_MMAPABLE | (kind === 'rodata' ? F_RDONLY_PROG : 0),
      numaNode: 0,
      mapExtra: 0n,
      pinning: 'none',
      btfKeyTypeId: 0,
      btfValueTypeId: datasec?.id ?? 0,
      inner: undefined,
      slots: new Map(),
      data: { kind, section: s.name, initial },
    });
  }
  const kconfig = btf === undefined ? undefined : kconfigLayout(btf);
  if (kconfig !== undefined) {
    // `__kconfig` externs have no ELF section: their map is laid out from BTF and filled in at load.
    maps.push({
      name: '.kconfig',
      kernelName: internalMapName(objName, '.kconfig'),
      type: MapTypes.array,
      keySize: 4,
      valueSize: Math.max(kconfig.size, 1),
      maxEntries: 1,
      flags: F_MMAPABLE | F_RDONLY_PROG,
      numaNode: 0,
      mapExtra: 0n,
      pinning: 'none',
      btfKeyTypeId: 0,
      btfValueTypeId: kconfig.datasecId,
      inner: undefined,
      slots: new Map(),
      data: { kind: 'kconfig', section: '.kconfig', initial: new Uint8Array(Math.max(kconfig.size, 1)) },
    });
  }
  return maps;
}

/** BTF-defined maps declared in `.maps`, and where each starts within the section. */
export function collectBtfMaps(
  elf: ElfFile,
  btf: Btf | undefined,
): { maps: MapSpec[]; byOffset: Map<number, string>; section: number } {
  const section = elf.sectionByName('.maps');
  if (section === undefined) return { maps: [], byOffset: new Map(), section: -1 };
  const where = { file: elf.file, section: '.maps' };
  if (btf === undefined) throw new ElfError('maps are declared in .maps but the object has no BTF', where);
  const datasec = btf.findByName('.maps', 'datasec') as BtfDatasec | undefined;
  if (datasec === undefined) throw new ElfError('the BTF has no DATASEC describing .maps', where);

  const symbols = new Map(elf.symbolsOf(section.index).map((s) => [s.name, s]));
  const byOffset = new Map<number, string>();
  const relocs = new Map(elf.relocationsFor(section.index).map((r) => [r.offset, r]));
  const maps: MapSpec[] = [];
  for (const info of datasec.vars) {
    const v = btf.typeById(info.type);
    if (v.kind !== 'var') throw new ElfError(`.maps DATASEC entry ${info.type} is not a variable`, where);
    const sym = symbols.get(v.name);
    if (sym === undefined) throw new ElfError(`map '${v.name}' has BTF but no symbol in .maps`, where);
    byOffset.set(sym.value, v.name);
    const def = parseMapDef(btf, v.type, v.name, where);
    const slots = new Map<number, SlotInit>();
    if (def.valuesOffset !== undefined) {
      const end = sym.value + sym.size;
      for (const [offset, rel] of relocs) {
        const start = sym.value + def.valuesOffset;
        if (offset < start || offset >= end) continue;
        if ((offset - start) % 8 !== 0)
          throw new ElfError(`misaligned initialiser of map '${v.name}'`, where);
        const target = elf.symbols[rel.symbol];
        if (target === undefined) throw new ElfError(`initialiser of map '${v.name}' names no symbol`, where);
        const kind = target.type === 'func' ? 'program' : 'map';
        slots.set((offset - start) / 8, { kind, name: target.name });
      }
    }
    maps.push({ ...def.spec, name: v.name, kernelName: kernelObjName(v.name), slots });
  }
  return { maps, byOffset, section: section.index };
}

interface ParsedDef {
  spec: MapSpec;
  /** Byte offset of the `values` member, for static initialisers. */
  valuesOffset: number | undefined;
}

function parseMapDef(
  btf: Btf,
  typeId: number,
  name: string,
  where: { file?: string; section: string },
): ParsedDef {
  const t = btf.resolve(typeId);
  if (t.kind !== 'struct') throw new ElfError(`map '${name}' is not declared as a struct`, where);
  const def = t as BtfComposite;
  const attrs = new Map<string, number>();
  let keyTypeId = 0;
  let valueTypeId = 0;
  let inner: MapSpec | undefined;
  let valuesOffset: number | undefined;
  for (const m of def.members) {
    const fail = (why: string): never => {
      throw new ElfError(`map '${name}', attribute '${m.name}': ${why}`, where);
    };
    switch (m.name) {
      case 'type':
      case 'max_entries':
      case 'map_flags':
      case 'numa_node':
      case 'key_size':
      case 'value_size':
      case 'map_extra':
      case 'pinning':
        attrs.set(m.name, uintAttr(btf, m.type) ?? fail('expected __uint(name, value)'));
        break;
      case 'key':
      case 'value': {
        const p = btf.resolve(m.type);
        if (p.kind !== 'ptr') fail('expected __type(name, T)');
        const id = (p as { type: number }).type;
        if (m.name === 'key') keyTypeId = id;
        else valueTypeId = id;
        break;
      }
      case 'values': {
        const arr = btf.resolve(m.type);
        if (arr.kind !== 'array') fail('expected __array(values, T)');
        const elem = btf.resolve((arr as { type: number }).type);
        if (elem.kind !== 'ptr') fail('expected an array of pointers');
        const target = btf.resolve((elem as { type: number }).type);
        if (target.kind === 'struct') inner = { ...parseMapDef(btf, target.id, `${name}.inner`, where).spec };
        valuesOffset = m.bitOffset / 8;
        break;
      }
      default:
        fail('unknown map attribute');
    }
  }
  const type = attrs.get('type');
  if (type === undefined) throw new ElfError(`map '${name}' has no type`, where);
  const keySize = attrs.get('key_size') ?? (keyTypeId !== 0 ? btf.sizeOf(keyTypeId) : 0);
  let valueSize = attrs.get('value_size') ?? (valueTypeId !== 0 ? btf.sizeOf(valueTypeId) : 0);
  if (inner !== undefined || type === MapTypes.prog_array) valueSize = attrs.get('value_size') ?? 4;
  const pin = attrs.get('pinning') ?? 0;
  if (pin > 1) throw new ElfError(`map '${name}' has unsupported pinning ${pin}`, where);
  if (keyTypeId !== 0 && attrs.has('key_size') && attrs.get('key_size') !== btf.sizeOf(keyTypeId)) {
    throw new ElfError(`map '${name}': key_size disagrees with the size of its key type`, where);
  }
  const pinning: PinningMode = pin === 1 ? 'by_name' : 'none';
  return {
    spec: {
      name,
      kernelName: kernelObjName(name),
      type,
      keySize,
      valueSize,
      maxEntries: attrs.get('max_entries') ?? 0,
      flags: attrs.get('map_flags') ?? 0,
      numaNode: attrs.get('numa_node') ?? 0,
      mapExtra: BigInt(attrs.get('map_extra') ?? 0),
      pinning,
      btfKeyTypeId: keyTypeId,
      btfValueTypeId: valueTypeId,
      inner,
      slots: new Map(),
      data: undefined,
    },
    valuesOffset,
  };
}

/** Value of a `__uint(name, value)` attribute: a pointer to an array of `value` elements. */
function uintAttr(btf: Btf, typeId: number): number | undefined {
  const p = btf.resolve(typeId);
  if (p.kind !== 'ptr') return undefined;
  const arr = btf.resolve(p.type);
  return arr.kind === 'array' ? arr.nelems : undefined;
}
