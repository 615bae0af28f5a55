/**
 * USDT (user statically-defined tracing) probes: reading them from a binary's `.note.stapsdt` notes and
 * attaching `usdt` programs to them as uprobes.
 *
 * Each SystemTap SDT note (owner `stapsdt`, type 3) describes one probe site: its address, the link-time
 * address of the `.stapsdt.base` section (to correct for prelinking), the address of its semaphore (0 for
 * none), then the provider, the probe name and the argument description as C strings. A site is attached as
 * a uprobe at the file offset of its address; a semaphore is a 16-bit counter in the binary that the kernel
 * increments while the uprobe exists (the uprobe's reference counter offset), so that guarded probes fire.
 *
 * Arguments: the BPF side reads them with libbpf's `bpf_usdt_arg()` (from `<bpf/usdt.bpf.h>`), which looks
 * up an argument spec by the BPF cookie in the object's `__bpf_usdt_specs` array map. When the program uses
 * that map, each site's argument description (`-4@%eax 8@-16(%rbp) 4@$5`, x86-64 only) is turned into such a
 * spec and stored there; programs that do not read arguments attach without it.
 *
 * @module
 */
import { loadKernelBtf } from '../../btf/kernel.js';
import { BpfError, ElfError, FeatureMissingError, OptionError } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfProgram } from '../program.js';
import { closeFd } from '../sys/fd.js';
import { mapGetFdById, mapInfo, progInfo } from '../sys/info.js';
import { mapUpdate } from '../sys/map.js';
import { resolveBinaryPath } from './binary-path.js';
import {
  fileOffsetOf,
  type NativeElf,
  type NativeSection,
  type NativeSegment,
  withNativeElf,
} from './native-file.js';
import { attachUprobe } from './probes.js';

const SHT_NOTE = 7;
const NT_STAPSDT = 3;

/** One USDT probe site of a binary. */
export interface UsdtProbe {
  readonly provider: string;
  readonly name: string;
  /** Virtual address of the probe site (corrected for prelinking). */
  readonly address: bigint;
  /** File offset of the probe site: where the uprobe goes. */
  readonly fileOffset: bigint;
  /** Virtual address of the semaphore, 0n when the probe has none. */
  readonly semaphore: bigint;
  /** File offset of the semaphore, 0n when the probe has none. */
  readonly semaphoreOffset: bigint;
  /** The argument description, e.g. `-4@%eax 8@-16(%rbp)`; empty without arguments. */
  readonly args: string;
}

function cString(buf: Buffer, start: number, end: number): { text: string; next: number } | undefined {
  const nul = buf.indexOf(0, start);
  if (nul < 0 || nul >= end) return undefined;
  return { text: buf.toString('utf8', start, nul), next: nul + 1 };
}

/**
 * Every USDT probe site of the ELF64 little-endian executable or library at `path`, in note order.
 *
 * @throws BpfError when the file cannot be opened; ElfError when it is not a readable ELF64 LE file or a note
 *   is malformed
 */
export function readUsdtProbes(path: string): UsdtProbe[] {
  return withNativeElf(path, 'read its USDT notes', probesOf);
}

function probesOf(elf: NativeElf): UsdtProbe[] {
  const { sections, segments, read, path } = elf;
  const notes = sections.find((s) => s.name === '.note.stapsdt' && s.type === SHT_NOTE);
  if (notes === undefined) return [];
  const base = sections.find((s) => s.name === '.stapsdt.base');
  const bytes = read(notes.offset, notes.size, '.note.stapsdt');
  const probes: UsdtProbe[] = [];
  const align4 = (n: number) => (n + 3) & ~3;
  for (let at = 0; at + 12 <= bytes.length; ) {
    const namesz = bytes.readUInt32LE(at);
    const descsz = bytes.readUInt32LE(at + 4);
    const type = bytes.readUInt32LE(at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    const where = Number(notes.offset) + at;
    if (next > bytes.length || namesz > bytes.length || descsz > bytes.length) {
      throw new ElfError(`USDT note at file offset ${where} runs past .note.stapsdt`, {
        file: path,
        offset: where,
      });
    }
    const owner = bytes.toString('latin1', nameAt, nameAt + Math.max(0, namesz - 1));
    if (owner === 'stapsdt' && type === NT_STAPSDT) {
      probes.push(parseNote(bytes, descAt, descsz, base, segments, sections, path, where));
    }
    at = next;
  }
  return probes;
}

function parseNote(
  bytes: Buffer,
  descAt: number,
  descsz: number,
  base: NativeSection | undefined,
  segments: readonly NativeSegment[],
  sections: readonly NativeSection[],
  path: string,
  where: number,
): UsdtProbe {
  const end = descAt + descsz;
  const provider = descsz >= 24 ? cString(bytes, descAt + 24, end) : undefined;
  const name = provider && cString(bytes, provider.next, end);
  const args = name && cString(bytes, name.next, end);
  if (!provider || !name || !args) {
    throw new ElfError(
      `USDT note at file offset ${where} is malformed (expected 3 addresses and 3 strings)`,
      {
        file: path,
        offset: where,
      },
    );
  }
  let address = bytes.readBigUInt64LE(descAt);
  const linkBase = bytes.readBigUInt64LE(descAt + 8);
  let semaphore = bytes.readBigUInt64LE(descAt + 16);
  // Prelinking moves sections after the notes were written: shift by how far .stapsdt.base moved.
  if (base !== undefined && linkBase !== 0n) {
    const shift = base.addr - linkBase;
    address += shift;
    if (semaphore !== 0n) semaphore += shift;
  }
  const probe = `${provider.text}:${name.text}`;
  const fileOffset = fileOffsetOf(address, segments, sections);
  if (fileOffset === undefined) {
    throw new ElfError(`USDT probe ${probe}: address 0x${address.toString(16)} is in no loadable segment`, {
      file: path,
      offset: where,
    });
  }
  let semaphoreOffset = 0n;
  if (semaphore !== 0n) {
    const off = fileOffsetOf(semaphore, segments, sections);
    if (off === undefined) {
      throw new ElfError(
        `USDT probe ${probe}: semaphore 0x${semaphore.toString(16)} is in no loadable segment`,
        {
          file: path,
          offset: where,
        },
      );
    }
    semaphoreOffset = off;
  }
  return {
    provider: provider.text,
    name: name.text,
    address,
    fileOffset,
    semaphore,
    semaphoreOffset,
    args: args.text,
  };
}

/** Where one USDT argument is, as its description says. */
export type UsdtArgLocation =
  /** `N@$imm`: a constant. */
  | { readonly kind: 'const'; readonly value: bigint }
  /** `N@%reg`: the value of a register. */
  | { readonly kind: 'reg'; readonly register: string }
  /** `N@off(%reg)`: the memory at a register plus an offset. */
  | { readonly kind: 'reg_deref'; readonly register: string; readonly offset: bigint };

/** One USDT argument: its size in bytes (1, 2, 4 or 8), signedness and location. */
export type UsdtArg = { readonly size: 1 | 2 | 4 | 8; readonly signed: boolean } & UsdtArgLocation;

/** Most arguments the BPF side's spec holds (`BPF_USDT_MAX_ARG_CNT`). */
const MAX_ARGS = 12;

/**
 * Parses an x86-64 USDT argument description (`-4@%eax 8@-16(%rbp) 4@$5`): arguments are separated by
 * spaces, each `[-]size@location` with a negative size for a signed value.
 *
 * @throws OptionError naming the argument that is not understood
 */
export function parseUsdtArgs(args: string): UsdtArg[] {
  const out: UsdtArg[] = [];
  for (const text of args.split(' ').filter((s) => s !== '')) {
    const m = /^(-?)(1|2|4|8)@(.+)$/.exec(text);
    const fail = () =>
      new OptionError(`USDT argument '${text}' is not a supported x86-64 argument description`, {
        option: 'args',
      });
    if (m === null) throw fail();
    const size = Number(m[2]) as 1 | 2 | 4 | 8;
    const signed = m[1] === '-';
    const loc = parseLocation(m[3] as string);
    if (loc === undefined) throw fail();
    out.push({ size, signed, ...loc });
  }
  if (out.length > MAX_ARGS) {
    throw new OptionError(`USDT probe has ${out.length} arguments; the BPF side holds at most ${MAX_ARGS}`, {
      option: 'args',
    });
  }
  return out;
}

function cInteger(text: string): bigint {
  return text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text);
}

/** `$imm`, `%reg`, `off(%reg)` or `(%reg)`. */
function parseLocation(loc: string): UsdtArgLocation | undefined {
  const constant = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(loc);
  if (constant !== null) return { kind: 'const', value: cInteger(constant[1] as string) };
  const reg = /^%([a-z0-9]+)$/.exec(loc);
  if (reg !== null) return { kind: 'reg', register: reg[1] as string };
  const deref = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$/.exec(loc);
  if (deref !== null)
    return { kind: 'reg_deref', register: deref[2] as string, offset: cInteger(deref[1] ?? '0') };
  return undefined;
}

/** The `struct pt_regs` member holding x86-64 register `name` (any width: `rax`, `eax`, `ax`, `al`). */
function ptRegsMember(name: string): string | undefined {
  const numbered = /^r(8|9|1[0-5])[dwb]?$/.exec(name);
  if (numbered !== null) return `r${numbered[1]}`;
  const legacy: Record<string, string> = {
    rax: 'ax',
    eax: 'ax',
    ax: 'ax',
    al: 'ax',
    rbx: 'bx',
    ebx: 'bx',
    bx: 'bx',
    bl: 'bx',
    rcx: 'cx',
    ecx: 'cx',
    cx: 'cx',
    cl: 'cx',
    rdx: 'dx',
    edx: 'dx',
    dx: 'dx',
    dl: 'dx',
    rsi: 'si',
    esi: 'si',
    si: 'si',
    sil: 'si',
    rdi: 'di',
    edi: 'di',
    di: 'di',
    dil: 'di',
    rbp: 'bp',
    ebp: 'bp',
    bp: 'bp',
    bpl: 'bp',
    rsp: 'sp',
    esp: 'sp',
    sp: 'sp',
    spl: 'sp',
    rip: 'ip',
  };
  return Object.hasOwn(legacy, name) ? legacy[name] : undefined;
}

let ptRegsOffsets: Map<string, number> | undefined;

/** Byte offset of register `name` in the kernel's `struct pt_regs`, from the kernel's BTF. */
function registerOffset(name: string): number {
  const member = ptRegsMember(name);
  if (ptRegsOffsets === undefined) {
    const btf = loadKernelBtf();
    const regs = btf.findByName('pt_regs', 'struct');
    if (regs === undefined) {
      throw new BpfError('the kernel BTF has no struct pt_regs', { code: 'ENOENT', command: 'attach usdt' });
    }
    ptRegsOffsets = new Map(btf.memberLayout(regs.id).map((m) => [m.name, m.bitOffset / 8]));
  }
  const offset = member === undefined ? undefined : ptRegsOffsets.get(member);
  if (offset === undefined) {
    throw new OptionError(`USDT argument register %${name} is not an x86-64 register in struct pt_regs`, {
      option: 'args',
    });
  }
  return offset;
}

/*
 * The spec map's value, as <bpf/usdt.bpf.h> declares it: struct __bpf_usdt_spec { struct __bpf_usdt_arg_spec
 * args[12]; __u64 usdt_cookie; short arg_cnt; } with struct __bpf_usdt_arg_spec { __u64 val_off; enum
 * __bpf_usdt_arg_type arg_type; short reg_off; bool arg_signed; char arg_bitshift; } (16 bytes).
 */
const ARG_SPEC_SIZE = 16;
const SPEC_COOKIE = ARG_SPEC_SIZE * MAX_ARGS;
const SPEC_ARG_CNT = SPEC_COOKIE + 8;
const SPEC_SIZE = SPEC_ARG_CNT + 8;
const ARG_TYPE = { const: 0, reg: 1, reg_deref: 2 } as const;
/** Kernel map names are cut to 15 characters: `__bpf_usdt_specs` becomes this. */
const SPEC_MAP_NAME = '__bpf_usdt_spec';

/** The bytes of one `struct __bpf_usdt_spec`. */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie: bigint): Uint8Array {
  const out = new Uint8Array(SPEC_SIZE);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    const o = i * ARG_SPEC_SIZE;
    const valOff = a.kind === 'const' ? a.value : a.kind === 'reg_deref' ? a.offset : 0n;
    v.setBigUint64(o, BigInt.asUintN(64, valOff), true);
    v.setUint32(o + 8, ARG_TYPE[a.kind], true);
    v.setInt16(o + 12, a.kind === 'const' ? 0 : registerOffset(a.register), true);
    v.setUint8(o + 14, a.signed ? 1 : 0);
    v.setInt8(o + 15, 64 - a.size * 8);
  });
  v.setBigUint64(SPEC_COOKIE, BigInt.asUintN(64, cookie), true);
  v.setInt16(SPEC_ARG_CNT, args.length, true);
  return out;
}

/** Spec ids handed out per spec map (by map id), keyed by spec contents: equal specs share an id. */
const specIds = new Map<number, Map<string, number>>();

/** The `__bpf_usdt_specs` map the program uses, as a fresh FD with its id and size; undefined without one. */
function specMapOf(progFd: number): { fd: number; id: number; maxEntries: number } | undefined {
  for (const id of progInfo(progFd).mapIds) {
    const fd = mapGetFdById(id);
    let keep = false;
    try {
      const info = mapInfo(fd);
      if (info.name !== SPEC_MAP_NAME) continue;
      if (info.valueSize !== SPEC_SIZE || info.keySize !== 4) {
        throw new BpfError(
          `USDT spec map has ${info.keySize}-byte keys and ${info.valueSize}-byte values; this runtime writes the <bpf/usdt.bpf.h> layout of 4 and ${SPEC_SIZE}`,
          { code: 'EINVAL', command: 'attach usdt' },
        );
      }
      keep = true;
      return { fd, id, maxEntries: info.maxEntries };
    } finally {
      if (!keep) closeFd(fd);
    }
  }
  return undefined;
}

/** Stores `spec` in the spec map and returns its id. */
function storeSpec(map: { fd: number; id: number; maxEntries: number }, spec: Uint8Array): number {
  let ids = specIds.get(map.id);
  if (ids === undefined) {
    ids = new Map();
    specIds.set(map.id, ids);
  }
  const key = Buffer.from(spec).toString('hex');
  let id = ids.get(key);
  if (id === undefined) {
    id = ids.size;
    if (id >= map.maxEntries) {
      throw new BpfError(
        `USDT spec map is full (${map.maxEntries} distinct argument specs); raise BPF_USDT_MAX_SPEC_CNT`,
        { code: 'E2BIG', command: 'attach usdt' },
      );
    }
  }
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, id, true);
  // Written on every attach: a map id may be reused by a new map after the old one is freed.
  mapUpdate(map.fd, k, spec);
  ids.set(key, id);
  return id;
}

/** Options of {@link attachUsdt}. */
export interface UsdtOptions {
  /** The executable or library: a path, or a library name such as `libc.so.6`. */
  binary: string;
  provider: string;
  name: string;
  /** Only this process (default: every process that runs the binary). */
  pid?: number;
  /** A value the program reads with `bpf_usdt_cookie()`. Default 0. */
  cookie?: bigint;
}

/**
 * Several uprobe links, one per site of a USDT probe that the compiler placed more than once, detached
 * together. Not a kernel link itself: `fd` is -1, and pinning or updating it fails.
 */
export class UsdtLink extends BpfLink {
  /** The link of each probe site. */
  readonly sites: readonly BpfLink[];
  #gone = false;

  /** @internal */
  constructor(sites: readonly BpfLink[], target: string) {
    super({ kind: 'link', type: 'perf_event', fd: -1, perfFd: -1 }, target);
    this.sites = sites;
  }

  override get detached(): boolean {
    return this.#gone;
  }

  /** Detaches every site. Idempotent. */
  override detach(): void {
    if (this.#gone) return;
    this.#gone = true;
    detachAll(this.sites);
  }
}

function detachAll(links: readonly BpfLink[]): void {
  let first: unknown;
  for (const l of links) {
    try {
      l.detach();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Attaches a `usdt` program to USDT probe `provider:name` of `binary`: a uprobe at each of the probe's sites,
 * incrementing its semaphore while attached. When the program reads arguments with `bpf_usdt_arg()` (it uses
 * `__bpf_usdt_specs`), each site's argument spec is stored there and passed as the BPF cookie.
 *
 * @throws BpfError (`ENOENT`) when the binary has no such probe; OptionError for argument descriptions this
 *   runtime cannot express; FeatureMissingError for arguments on an architecture other than x86-64
 */
export function attachUsdt(program: BpfProgram, opts: UsdtOptions): BpfLink {
  const progFd = loadedFd(program, 'attach');
  const path = resolveBinaryPath(opts.binary);
  const what = `usdt ${path}:${opts.provider}:${opts.name}`;
  const sites = readUsdtProbes(path).filter((p) => p.provider === opts.provider && p.name === opts.name);
  if (sites.length === 0) {
    throw new BpfError(`${what}: the binary has no such USDT probe`, {
      code: 'ENOENT',
      command: 'attach usdt',
    });
  }
  const specMap = specMapOf(progFd);
  const links: BpfLink[] = [];
  try {
    for (const site of sites) {
      let cookie = 0n;
      if (specMap !== undefined) {
        if (process.arch !== 'x64') {
          throw new FeatureMissingError(`${what}: USDT arguments are supported on x86-64 only`, {
            code: 'EOPNOTSUPP',
            command: 'attach usdt',
            feature: 'USDT arguments on this architecture',
          });
        }
        cookie = BigInt(storeSpec(specMap, encodeUsdtSpec(parseUsdtArgs(site.args), opts.cookie ?? 0n)));
      }
      links.push(
        attachUprobe(program, {
          binary: path,
          offset: site.fileOffset,
          pid: opts.pid,
          cookie,
          refCtrOffset: site.semaphoreOffset === 0n ? undefined : site.semaphoreOffset,
        }),
      );
    }
  } catch (err) {
    try {
      detachAll(links);
    } catch {
      // The attach error is the one to report.
    }
    throw err;
  } finally {
    if (specMap !== undefined) closeFd(specMap.fd);
  }
  return links.length === 1 ? (links[0] as BpfLink) : new UsdtLink(links, what);
}
