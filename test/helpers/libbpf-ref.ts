/**
 * The reference our loader is compared against: what the kernel holds after libbpf (bpftool 7.1, libbpf
 * 1.1) loads the same object. The object is loaded with `bpftool prog loadall` into a fresh bpffs in a
 * private mount namespace; the programs are read back through their pins and the maps through the object's
 * BTF id and the programs' map ids; when the namespace exits, the pins go and the kernel frees everything.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { runPrivileged } from './kernel.js';

/** A program as the kernel reports it after libbpf loaded it. */
export interface RefProgram {
  /** The full C function name (bpftool takes it from the program's BTF when the kernel's is truncated). */
  name: string;
  /** The kernel's own name: at most 15 characters. */
  kernelName: string;
  /** Kernel program id (meaningless once the reference run is over; kept for diagnostics). */
  id: number;
  /** bpftool's name for the type: `'tracepoint'`, `'socket_filter'`, `'sched_cls'`... */
  type: string;
  /** The `enum bpf_prog_type` value. */
  typeId: number;
  /** The kernel's tag of the translated program: 16 hex digits. */
  tag: string;
  /** Size of the translated (xlated) program in bytes: instruction count × 8 after the verifier's rewrites. */
  xlatedLen: number;
  /** Size of the JIT image in bytes. */
  jitedLen: number;
  gplCompatible: boolean;
  /** Kernel names of the maps the program uses, in the kernel's order (includes libbpf's bound `.rodata`). */
  mapNames: string[];
  btfId: number | undefined;
}

/** A map as the kernel reports it after libbpf created it. */
export interface RefMap {
  /** The kernel's name: at most 15 characters; libbpf's internal maps are `<object>.bss`, `.data.foo`... */
  name: string;
  id: number;
  /** bpftool's name for the type: `'array'`, `'hash'`, `'ringbuf'`... */
  type: string;
  /** The `enum bpf_map_type` value. */
  typeId: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  frozen: boolean;
  btfId: number | undefined;
  /** For maps libbpf pinned by name (`LIBBPF_PIN_BY_NAME`): the pin's name under the bpffs root. */
  pinnedAs: string | undefined;
}

/** What the kernel holds for one object loaded by libbpf. */
export interface LibbpfReference {
  /** Absolute path of the object. */
  objectPath: string;
  /** Id of the object's BTF in the kernel, if libbpf loaded BTF. */
  btfId: number | undefined;
  /** Every program that was loaded, by full C function name. */
  programs: ReadonlyMap<string, RefProgram>;
  /** The object's maps by kernel name. A name held by more than one map (the kernel keeps only 15
   * characters) is left out here; see {@link mapList}. */
  maps: ReadonlyMap<string, RefMap>;
  /** Every map of the object, in creation order (libbpf creates them in object order). */
  mapList: readonly RefMap[];
}

/** bpftool could not load the object; `log` has bpftool's and libbpf's output (verifier log included). */
export class LibbpfReferenceError extends Error {
  override name = 'LibbpfReferenceError';
  constructor(
    readonly objectPath: string,
    readonly log: string,
  ) {
    super(`bpftool prog loadall ${objectPath} failed:\n${log}`);
  }
}

interface BpftoolProg {
  id: number;
  type: string | number;
  name?: string;
  tag: string;
  gpl_compatible: boolean;
  bytes_xlated: number;
  bytes_jited?: number;
  map_ids?: number[];
  btf_id?: number;
}

interface BpftoolMap {
  id: number;
  type: string | number;
  name?: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen?: number;
  btf_id?: number;
}

const PIN_DIR = '/sys/fs/bpf/ref';

// Each line of output is a tag, a name where needed, and one line of bpftool JSON.
const SCRIPT = `
bpftool prog loadall "$REF_OBJ" ${PIN_DIR} >&2 || exit 3
for p in ${PIN_DIR}/*; do
  printf 'P %s ' "\${p##*/}"; bpftool -j prog show pinned "$p" || exit 4; echo
done
for p in /sys/fs/bpf/*; do
  [ -f "$p" ] || continue
  json=$(bpftool -j map show pinned "$p" 2>/dev/null) && printf 'M %s %s\\n' "\${p##*/}" "$json"
done
printf 'A '; bpftool -j map show || exit 5; echo
`;

const cache = new Map<string, { mtimeMs: number; size: number; ref: LibbpfReference }>();

/**
 * Loads `objPath` with bpftool 7.1 (libbpf 1.1) in a private mount namespace and returns what the kernel
 * then holds for its programs and maps. Cached per object (path, size and mtime) for the life of the test
 * module. Throws {@link LibbpfReferenceError} when libbpf cannot load the object, e.g. a verifier
 * rejection or a section name libbpf 1.1 does not know.
 */
export function libbpfReference(objPath: string): LibbpfReference {
  const objectPath = resolve(objPath);
  const st = statSync(objectPath);
  const hit = cache.get(objectPath);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.ref;

  const run = runPrivileged(SCRIPT, { env: { REF_OBJ: objectPath }, check: false, timeoutMs: 60_000 });
  if (run.status === 3) throw new LibbpfReferenceError(objectPath, run.stderr);
  if (run.status !== 0) {
    throw new Error(`reading back ${objectPath} with bpftool failed (status ${run.status}):\n${run.stderr}`);
  }
  const ref = parseReference(objectPath, run.stdout);
  cache.set(objectPath, { mtimeMs: st.mtimeMs, size: st.size, ref });
  return ref;
}

function parseReference(objectPath: string, stdout: string): LibbpfReference {
  const progs: Array<[string, BpftoolProg]> = [];
  const pinnedMaps = new Map<number, string>();
  let allMaps: BpftoolMap[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('P ') || line.startsWith('M ')) {
      const sp = line.indexOf(' ', 2);
      const name = line.slice(2, sp);
      const json = JSON.parse(line.slice(sp + 1));
      if (line[0] === 'P') progs.push([name, json as BpftoolProg]);
      else pinnedMaps.set((json as BpftoolMap).id, name);
    } else if (line.startsWith('A ')) {
      allMaps = JSON.parse(line.slice(2)) as BpftoolMap[];
    }
  }

  const btfId = progs.find(([, p]) => p.btf_id !== undefined)?.[1].btf_id;
  // Maps of this load: those sharing its BTF, plus BTF-less ones a program uses. libbpf's feature-probe
  // maps (libbpf_global, libbpf_det_bind) are transient and not part of the object.
  const usedIds = new Set(progs.flatMap(([, p]) => p.map_ids ?? []));
  const ours = allMaps
    .filter((m) => (btfId !== undefined && m.btf_id === btfId) || usedIds.has(m.id))
    .filter((m) => !(m.name ?? '').startsWith('libbpf_'))
    .sort((a, b) => a.id - b.id);

  const types = kernelTypeIds();
  const mapList = ours.map((m): RefMap => {
    const type = typeName(m.type, types.mapTypes);
    return {
      name: m.name ?? '',
      id: m.id,
      type,
      typeId: typeId(m.type, types.mapTypes, 'map'),
      keySize: m.bytes_key,
      valueSize: m.bytes_value,
      maxEntries: m.max_entries,
      flags: m.flags,
      frozen: (m.frozen ?? 0) !== 0,
      btfId: m.btf_id,
      pinnedAs: pinnedMaps.get(m.id),
    };
  });
  const nameCount = new Map<string, number>();
  for (const m of mapList) nameCount.set(m.name, (nameCount.get(m.name) ?? 0) + 1);
  const maps = new Map(mapList.filter((m) => nameCount.get(m.name) === 1).map((m) => [m.name, m]));
  const byId = new Map(mapList.map((m) => [m.id, m.name]));

  const programs = new Map<string, RefProgram>();
  for (const [pinName, p] of progs) {
    const name = p.name ?? pinName;
    programs.set(pinName, {
      name,
      kernelName: name.slice(0, 15),
      id: p.id,
      type: typeName(p.type, types.progTypes),
      typeId: typeId(p.type, types.progTypes, 'program'),
      tag: p.tag,
      xlatedLen: p.bytes_xlated,
      jitedLen: p.bytes_jited ?? 0,
      gplCompatible: p.gpl_compatible,
      mapNames: (p.map_ids ?? []).map((id) => byId.get(id) ?? `#${id}`),
      btfId: p.btf_id,
    });
  }
  return { objectPath, btfId, programs, maps, mapList };
}

interface KernelTypeIds {
  progTypes: Map<string, number>;
  mapTypes: Map<string, number>;
}

let typeIds: KernelTypeIds | undefined;

/**
 * `enum bpf_prog_type` and `enum bpf_map_type` from the fixtures' vmlinux.h (this kernel's BTF), keyed
 * the way bpftool names them: the enumerator without its prefix, in lower case.
 */
function kernelTypeIds(): KernelTypeIds {
  if (typeIds) return typeIds;
  const header = readFileSync(new URL('../fixtures/vmlinux.h', import.meta.url), 'utf8');
  const collect = (prefix: string): Map<string, number> => {
    const out = new Map<string, number>();
    for (const m of header.matchAll(new RegExp(`^\\t${prefix}([A-Z0-9_]+) = (\\d+),$`, 'gm'))) {
      out.set(m[1].toLowerCase(), Number(m[2]));
    }
    return out;
  };
  typeIds = { progTypes: collect('BPF_PROG_TYPE_'), mapTypes: collect('BPF_MAP_TYPE_') };
  return typeIds;
}

/** bpftool prints a type it has no name for as a number. */
function typeName(type: string | number, ids: Map<string, number>): string {
  if (typeof type === 'string') return type;
  for (const [name, id] of ids) if (id === type) return name;
  return String(type);
}

function typeId(type: string | number, ids: Map<string, number>, what: string): number {
  if (typeof type === 'number') return type;
  const id = ids.get(type);
  if (id === undefined)
    throw new Error(`bpftool reported ${what} type '${type}', which this kernel's BTF lacks`);
  return id;
}
