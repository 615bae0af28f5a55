/**
 * {@link BpfObject}: an eBPF object file opened for loading. `open()` parses; `load()` creates the token,
 * uploads BTF, creates maps, links and loads programs and fills static initialisers, all or nothing;
 * `close()` releases every kernel object.
 *
 * @module
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { loadKernelBtf } from '../btf/kernel.js';
import { parseBtf } from '../btf/parse.js';
import type { Btf } from '../btf/types.js';
import { writeBtf } from '../btf/write.js';
import { BpfError, FeatureMissingError, OptionError, VerifierError } from '../errors.js';
import { attachStructOps } from './attach/struct-ops.js';
import { collectObject } from './collect/object.js';
import { describePoison } from './core/index.js';
import { describeKfuncPoison } from './externs/patch.js';
import { type ResolvedExterns, resolveExterns } from './externs/resolve.js';
import type { BpfLink } from './link.js';
import { prepareBtf } from './load/btf.js';
import { relocateCore } from './load/core.js';
import { type ExtInfoSource, linkProgram } from './load/link.js';
import { type CreatedMap, createMap } from './load/maps.js';
import { loadWithLog } from './load/programs.js';
import {
  createStructOpsMap,
  findKernelStructOps,
  planStructOps,
  type StructOpsPlan,
  type StructOpsSlot,
  setLoadedStructOpsValue,
  structOpsValue,
} from './load/struct-ops.js';
import { BpfMap } from './map.js';
import { openModuleBtf } from './module-btf.js';
import type { OpenOptions } from './options.js';
import { type FeatureCache, newFeatureCache, sharedFeatureCache } from './probes.js';
import { BpfProgram } from './program.js';
import type { ObjectSpec } from './spec.js';
import { BpfCmd } from './sys/bpf.js';
import { btfGetFdById, btfLoad } from './sys/btf.js';
import { closeFd } from './sys/fd.js';
import { btfData, progInfo } from './sys/info.js';
import { AttachTypes, MapTypes, ProgramTypes } from './sys/kinds.js';
import { mapDelete, mapUpdate } from './sys/map.js';
import { progBindMap } from './sys/prog.js';
import {
  closeTokenPlan,
  createToken,
  explainMissingDelegation,
  resolveTokenOptions,
  type TokenMode,
  type TokenPlan,
  type TokenResult,
} from './token.js';

/** An object's token: the mode its options chose, and after `load()` the FD or why there is none. */
export interface TokenState {
  /** The mode the options chose. */
  readonly mode: TokenMode;
  /** The token FD, -1 when none. */
  readonly fd: number;
  /** Why there is no token (disabled, or the implicit attempt failed), else undefined. */
  readonly reason: string | undefined;
}

/** An eBPF object: its programs and maps, before and after load. */
export class BpfObject implements Disposable {
  /** Object name (prefix of internal map names). */
  readonly name: string;
  /** Entry programs by C function name. */
  readonly programs: ReadonlyMap<string, BpfProgram>;
  /** Maps by name; global data maps by section name (`'.rodata'`, `'.bss'`, `'.data.foo'`). */
  readonly maps: ReadonlyMap<string, BpfMap>;
  /** The license string of the object. */
  readonly license: string;
  /** @internal */
  readonly spec: ObjectSpec;
  readonly #opts: OpenOptions;
  readonly #plan: TokenPlan;
  #token: TokenResult | undefined;
  #features: FeatureCache | undefined;
  #fds: number[] = [];
  #loaded = false;
  #closed = false;
  #btfFd = -1;
  #externs: ResolvedExterns | undefined;
  #links = new Map<string, BpfLink>();
  /** struct_ops maps being loaded, by map name, and the member each struct_ops program is loaded for. */
  #structOps = new Map<string, StructOpsPlan>();
  #structOpsPrograms = new Map<string, { plan: StructOpsPlan; slot: StructOpsSlot }>();
  /** Pins made by the load in progress (undone if it fails). */
  #pinsMade: string[] = [];

  private constructor(spec: ObjectSpec, opts: OpenOptions, plan: TokenPlan) {
    this.spec = spec;
    this.name = spec.name;
    this.license = spec.license;
    this.#opts = opts;
    this.#plan = plan;
    this.programs = new Map(spec.programs.map((p) => [p.name, new BpfProgram(p)]));
    this.maps = new Map(spec.maps.map((m) => [m.name, new BpfMap(m)]));
  }

  /**
   * Parses an object file (a path or its bytes) and validates the options. Makes no BPF syscall; the token
   * options are resolved here (an explicit `bpfTokenFd` is duplicated at once).
   *
   * @throws ElfError / BtfError for malformed input, OptionError for wrong or conflicting options
   */
  static open(source: string | Uint8Array, opts: OpenOptions = {}): BpfObject {
    const file = typeof source === 'string' ? source : undefined;
    let bytes: Uint8Array;
    if (typeof source === 'string') {
      try {
        bytes = readFileSync(source);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        throw new BpfError(`cannot read object file ${source}: ${code}`, {
          code,
          command: 'open',
          cause: err,
        });
      }
    } else {
      bytes = source;
    }
    checkOptions(opts);
    const name = opts.objectName ?? (file === undefined ? 'bpf' : basename(file).split('.')[0] || 'bpf');
    const spec = collectObject(bytes, file, name);
    const plan = resolveTokenOptions(opts);
    return new BpfObject(spec, opts, plan);
  }

  /** The token FD after `load()`, -1 when the object has none. */
  get tokenFd(): number {
    return this.#token?.fd ?? -1;
  }

  /** How the object's token was (or will be) obtained, and why there is none when there is none. */
  get token(): TokenState {
    const t = this.#token;
    if (t === undefined) return { mode: this.#plan.mode, fd: -1, reason: undefined };
    return { mode: t.mode, fd: t.fd, reason: t.kind === 'none' ? t.reason : undefined };
  }

  /** Whether `load()` succeeded (and `close()` has not run since). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** The feature cache this object's probes use (its own when it has a token). Available after load starts. */
  get features(): FeatureCache {
    if (this.#features === undefined) {
      throw new BpfError('features are known only once load() has started', {
        code: 'EINVAL',
        command: 'features',
      });
    }
    return this.#features;
  }

  /**
   * Creates everything in the kernel: token, BTF, maps, programs, static initialisers. All or nothing: on
   * failure every FD made so far is closed and the error is thrown.
   *
   * @throws BpfError (with `command` and `code`), VerifierError when a program is rejected
   */
  load(): void {
    if (this.#closed)
      throw new BpfError(`object '${this.name}' is closed`, { code: 'EBADF', command: 'load' });
    if (this.#loaded)
      throw new BpfError(`object '${this.name}' is already loaded`, { code: 'EALREADY', command: 'load' });
    for (const p of this.programs.values()) p.freeze();
    try {
      this.#token = createToken(this.#plan);
      if (this.#token.kind === 'token') this.#fds.push(this.#token.fd);
      this.#features = this.#token.fd >= 0 ? newFeatureCache(this.#token.fd) : sharedFeatureCache();
      this.#resolveExterns();
      this.#loadBtf();
      this.#planStructOps();
      this.#createMaps();
      this.#loadPrograms();
      this.#fillSlots();
      this.#fillStructOps();
      this.#loaded = true;
    } catch (err) {
      this.#unpinMade();
      this.#release();
      throw err;
    }
    this.#pinsMade = [];
  }

  /** Removes the pins this (failed) load made, so nothing it created outlives it in the kernel. */
  #unpinMade(): void {
    for (const path of this.#pinsMade.splice(0)) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone (or never fully made): nothing to undo.
      }
    }
  }

  /** Links made by {@link attach}: by program name, and for struct_ops maps by map name. */
  get links(): ReadonlyMap<string, BpfLink> {
    return this.#links;
  }

  /**
   * Attaches every loaded program whose section names its target and whose `autoattach` is set (see
   * {@link BpfProgram.attach}), then registers every struct_ops map whose `autoattach` is set (see
   * `attachStructOps`). All or nothing: when one fails, those attached by this call are detached.
   */
  attach(): void {
    if (!this.#loaded)
      throw new BpfError(`object '${this.name}' is not loaded; call load() first`, {
        code: 'EBADF',
        command: 'attach',
      });
    const made: string[] = [];
    try {
      for (const p of this.programs.values()) {
        if (p.fd < 0 || !p.autoattach || !p.section.autoAttach || this.#links.has(p.name)) continue;
        this.#links.set(p.name, p.attach());
        made.push(p.name);
      }
      for (const m of this.maps.values()) {
        if (m.spec.structOps === undefined || !m.autoattach || m.fd < 0 || this.#links.has(m.name)) continue;
        this.#links.set(m.name, attachStructOps(m));
        made.push(m.name);
      }
    } catch (err) {
      for (const name of made) {
        this.#links.get(name)?.detach();
        this.#links.delete(name);
      }
      throw err;
    }
  }

  /** Detaches every link made by {@link attach}. */
  detach(): void {
    for (const link of this.#links.values()) link.detach();
    this.#links.clear();
  }

  /**
   * Detaches, then closes every FD of the object (maps, programs, BTF, token). Idempotent. A `.struct_ops`
   * map registered with `attachStructOps()` is unregistered here too (the kernel would otherwise keep it
   * registered after its last FD is closed).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.detach();
    this.#release();
    closeTokenPlan(this.#plan);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #release(): void {
    this.#unregisterStructOps();
    for (const m of this.maps.values()) m.detachKernelObject();
    for (const p of this.programs.values()) p.setClosed();
    for (const fd of this.#fds.splice(0).reverse()) closeFd(fd);
    // The token FD was just closed with the others; keep why there was none, forget a number now stale.
    if (this.#token?.kind === 'token') this.#token = undefined;
    this.#createdMaps = new Map();
    this.#structOps = new Map();
    this.#structOpsPrograms = new Map();
    this.#btfFd = -1;
    this.#externs = undefined;
    this.#loaded = false;
  }

  /** Deletes the element of every loaded `.struct_ops` map: unregisters it if it is registered. */
  #unregisterStructOps(): void {
    for (const m of this.maps.values()) {
      const ops = m.spec.structOps;
      if (ops === undefined) continue;
      setLoadedStructOpsValue(m, undefined);
      if (ops.link || m.fd < 0) continue;
      try {
        mapDelete(m.fd, new Uint8Array(4));
      } catch {
        // Not registered (ENOENT), or being unregistered already: nothing to undo.
      }
    }
  }

  #own(fd: number): number {
    this.#fds.push(fd);
    return fd;
  }

  /** Resolves `__kconfig` and `__ksym` externs; module BTF FDs opened for kfuncs belong to the object. */
  #resolveExterns(): void {
    const features = this.features;
    const externs = resolveExterns(this.spec.elf, this.spec.btf, {
      kconfig: this.#opts.kconfig,
      hasBpfCookie: () => features.has('bpf_cookie'),
      tokenFd: this.tokenFd,
    });
    for (const fd of externs.fds) this.#own(fd);
    this.#externs = externs;
  }

  #loadBtf(): void {
    const btf = this.spec.btf;
    if (btf === undefined) return;
    const features = this.features;
    if (!features.has('btf_func') && this.#needsFuncInfo()) {
      throw new FeatureMissingError(
        `object '${this.name}' passes callbacks (bpf_loop and the like), which the verifier checks through BTF func info; this kernel does not take BTF functions (Linux 5.0+ with CONFIG_DEBUG_INFO_BTF)`,
        { code: 'ENOTSUP', command: 'BPF_BTF_LOAD', feature: 'BTF func info' },
      );
    }
    const bytes = writeBtf(prepareBtf(btf, this.spec.elf, (f) => features.has(f)));
    try {
      this.#btfFd = this.#own(btfLoad(bytes, { tokenFd: this.tokenFd }));
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      if (this.#needsBtf()) {
        const why = this.#explainTokenEperm(err, { cmd: BpfCmd.BTF_LOAD });
        err.message = `cannot load the object's BTF, which its programs need: ${err.message}${why}`;
        throw err;
      }
      // BTF is optional for this object: go on without it, as libbpf does.
      this.#btfFd = -1;
    }
  }

  /** Whether some program cannot load without the object's BTF. */
  #needsBtf(): boolean {
    const spec = this.spec;
    return (
      spec.programs.some((p) => p.sectionSpec.requiresBtfTarget || p.sectionSpec.progType === 'struct_ops') ||
      spec.maps.some((m) => BTF_MAP_TYPES.has(m.type)) ||
      this.#needsFuncInfo()
    );
  }

  /** Callbacks (bpf_loop and friends) are verified through their func_info ("missing btf func_info"). */
  #needsFuncInfo(): boolean {
    return [...this.spec.relocations.values()].some((r) => [...r.values()].some((x) => x.kind === 'func'));
  }

  /**
   * Finds the kernel struct of every struct_ops map and checks the members set against it; binds each
   * struct_ops program to the member that references it. Before anything is created, so a mismatch costs
   * nothing.
   */
  #planStructOps(): void {
    const plans = new Map<string, StructOpsPlan>();
    const bound = new Map<string, { plan: StructOpsPlan; slot: StructOpsSlot }>();
    const moduleFds = new Map<string, number>();
    const fail = (why: string): never => {
      throw new BpfError(why, { code: 'EINVAL', command: 'struct_ops' });
    };
    for (const m of this.maps.values()) {
      const ops = m.spec.structOps;
      if (ops === undefined) continue;
      const kernel = findKernelStructOps(ops.kernelType, m.name);
      let btfObjFd = -1;
      if (kernel.btfName !== 'vmlinux') {
        btfObjFd = moduleFds.get(kernel.btfName) ?? this.#own(openModuleBtf(kernel.btfName, this.tokenFd));
        moduleFds.set(kernel.btfName, btfObjFd);
      }
      const plan = planStructOps(m.name, ops, kernel, btfObjFd);
      for (const slot of plan.slots) {
        if (this.programs.get(slot.program)?.autoload !== true) {
          fail(
            `struct_ops map '${m.name}': member '${slot.member}' is program '${slot.program}', whose autoload is off`,
          );
        }
        const prev = bound.get(slot.program);
        if (
          prev !== undefined &&
          (prev.plan.kernel.typeId !== kernel.typeId || prev.slot.memberIndex !== slot.memberIndex)
        ) {
          fail(
            `program '${slot.program}' is member '${prev.slot.member}' of struct_ops map '${prev.plan.map}' and member '${slot.member}' of '${m.name}': a struct_ops program is loaded for one member of one struct type`,
          );
        }
        bound.set(slot.program, { plan, slot });
      }
      plans.set(m.name, plan);
    }
    for (const p of this.programs.values()) {
      if (p.autoload && p.type === 'struct_ops' && !bound.has(p.name)) {
        fail(
          `program '${p.name}' (section '${p.sectionName}') is a struct_ops program that no struct_ops map references, so there is no member to load it for; point a member of a SEC(".struct_ops") variable at it, or leave its autoload off`,
        );
      }
    }
    this.#structOps = plans;
    this.#structOpsPrograms = bound;
  }

  #createMaps(): void {
    const created = new Map<string, CreatedMap>();
    const features = this.features;
    for (const m of this.maps.values()) {
      const plan = this.#structOps.get(m.name);
      if (plan !== undefined) {
        const fd = this.#own(
          createStructOpsMap(m.spec, plan, {
            btfFd: this.#btfFd,
            tokenFd: this.tokenFd,
            names: features.has('map_name'),
            explain: (err) => this.#explainTokenEperm(err, { cmd: BpfCmd.MAP_CREATE, mapType: m.spec.type }),
          }),
        );
        m.attachKernelObject(fd, undefined);
        created.set(m.name, { fd, memory: undefined, reused: false });
        continue;
      }
      const c = createMap(
        m.spec,
        {
          btfFd: this.#btfFd,
          tokenFd: this.tokenFd,
          pinRoot: this.#opts.pinRootPath ?? '/sys/fs/bpf',
          names: features.has('map_name'),
          mmapable: features.has('mmapable_array'),
          explain: (err, mapType) => this.#explainTokenEperm(err, { cmd: BpfCmd.MAP_CREATE, mapType }),
        },
        m.spec.data?.kind === 'kconfig' ? this.#externs?.kconfig : m.internal ? m.initialBytes() : undefined,
      );
      this.#own(c.fd);
      if (c.pinnedAt !== undefined) this.#pinsMade.push(c.pinnedAt);
      // The map owns its mapped memory from here on, so a failure later in load() releases it too.
      m.attachKernelObject(c.fd, c.memory);
      created.set(m.name, c);
    }
    this.#createdMaps = created;
  }

  #createdMaps = new Map<string, CreatedMap>();

  #mapFd = (name: string): number => {
    const c = this.#createdMaps.get(name);
    if (c === undefined) {
      throw new BpfError(`a program references map '${name}', which was not created`, {
        code: 'ENOENT',
        command: 'link',
      });
    }
    return c.fd;
  };

  #loadPrograms(): void {
    // func_info needs BTF FUNC records, which sanitizing turned into typedefs when the kernel lacks them.
    const ext = extSource(this.spec, this.#btfFd >= 0 && this.features.has('btf_func'));
    const externs = this.#externs;
    const core = relocateCore(this.spec, this.#opts.btfCustomPath);
    const insnsOf = (section: number) => core.sections.get(section) ?? this.spec.elf.sections[section].data;
    const logLevel = this.#opts.kernelLogLevel ?? 0;
    const names = this.features.has('prog_name');
    const rodata = this.#createdMaps.get('.rodata');
    let kernelBtf: ReturnType<typeof loadKernelBtf> | undefined;
    for (const program of this.programs.values()) {
      if (!program.autoload) continue;
      const spec = program.spec;
      const section = spec.sectionSpec;
      if (section.invalidTarget !== undefined) {
        throw new BpfError(
          `program '${program.name}' in section '${spec.sectionName}': ${section.invalidTarget}`,
          {
            code: 'EINVAL',
            command: 'BPF_PROG_LOAD',
          },
        );
      }
      const linked = linkProgram(this.spec, spec, this.#mapFd, ext, insnsOf, externs?.values);
      // A struct_ops program is loaded for its member: the struct's type id and the member's index.
      const ops = this.#structOpsPrograms.get(program.name);
      const attach =
        ops === undefined
          ? this.#attachBtf(program, () => {
              kernelBtf ??= loadKernelBtf();
              return kernelBtf;
            })
          : {
              btfId: ops.plan.kernel.typeId,
              btfObjFd: ops.plan.btfObjFd >= 0 ? ops.plan.btfObjFd : undefined,
            };
      const progType = ProgramTypes[section.progType];
      const attachType =
        ops !== undefined
          ? ops.slot.memberIndex
          : section.expectedAttachType === undefined
            ? 0
            : AttachTypes[section.expectedAttachType];
      try {
        const { fd, log } = loadWithLog(
          {
            type: progType,
            expectedAttachType: attachType,
            insns: linked.insns,
            license: this.spec.license,
            name: names ? kernelProgName(program.name) : '',
            kernVersion: this.spec.kernelVersion,
            flags: section.progFlags,
            btfFd: this.#btfFd,
            funcInfo: records(linked.funcInfo, 8, (v, r, o) => {
              v.setUint32(o, r.insn, true);
              v.setUint32(o + 4, r.typeId, true);
            }),
            lineInfo: records(linked.lineInfo, 16, (v, r, o) => {
              v.setUint32(o, r.insn, true);
              v.setUint32(o + 4, r.fileNameOff, true);
              v.setUint32(o + 8, r.lineOff, true);
              v.setUint32(o + 12, r.lineCol, true);
            }),
            attachBtfId: attach.btfId,
            attachProgFd: attach.progFd,
            attachBtfObjFd: attach.btfObjFd,
            fdArray: externs?.fdArray,
            tokenFd: this.tokenFd,
          },
          program.name,
          logLevel,
        );
        this.#own(fd);
        if (rodata !== undefined && !linked.maps.has('.rodata')) {
          // As libbpf does: keep .rodata (metadata) bound to every program so tools can find it.
          try {
            progBindMap(fd, rodata.fd);
          } catch {
            // Binding is informational only; older kernels lack PROG_BIND_MAP.
          }
        }
        program.setLoaded(fd, progInfo(fd).tag, log);
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        const where = `program '${program.name}' (section '${spec.sectionName}')`;
        if (err instanceof VerifierError) {
          const poison =
            describePoison(err.log, core.outcomes, linked.origin) ??
            (externs === undefined ? undefined : describeKfuncPoison(err.log, externs.values));
          if (poison !== undefined) err.message = `${err.message}\n${poison}`;
        }
        if (err.errno === 1 && this.tokenFd < 0 && TRAMPOLINE_TYPES.has(section.progType) && privileged()) {
          throw new FeatureMissingError(
            `${where}: the kernel refused a ${section.progType} program even to a fully privileged process: it cannot attach BPF trampolines (fentry/fexit/fmod_ret/freplace/lsm need the BPF JIT with CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, CONFIG_FUNCTION_TRACER, and for lsm CONFIG_BPF_LSM with "bpf" in lsm=). Load it on a kernel that has them, or turn its autoload off`,
            { code: 'EPERM', errno: 1, command: 'BPF_PROG_LOAD', feature: 'BPF trampolines', cause: err },
          );
        }
        err.message = `${where}: ${err.message}${this.#explainTokenEperm(err, { cmd: BpfCmd.PROG_LOAD, progType, attachType })}`;
        throw err;
      }
    }
  }

  /**
   * `attach_btf_id` (and `attach_prog_fd`) of a program that needs them: from the kernel's BTF, or from the
   * BTF of the program set with `setAttachTarget()` (opened by id, with the object's token).
   */
  #attachBtf(program: BpfProgram, kernel: () => Btf): { btfId?: number; progFd?: number; btfObjFd?: number } {
    const section = program.section;
    const target = program.attachTarget;
    const fail = (why: string, code: string): never => {
      throw new BpfError(`program '${program.name}' (section '${program.sectionName}'): ${why}`, {
        code,
        command: 'BPF_PROG_LOAD',
      });
    };
    if (target !== undefined) {
      const btfId = progInfo(target.programFd).btfId;
      if (btfId === 0)
        fail(`the target program (fd ${target.programFd}) has no BTF to find '${target.func}' in`, 'EINVAL');
      const btfFd = btfGetFdById(btfId, this.tokenFd);
      try {
        const func = parseBtf(btfData(btfFd)).findByName(target.func, 'func');
        if (func === undefined) fail(`the target program has no function '${target.func}'`, 'ESRCH');
        return { btfId: func?.id, progFd: target.programFd };
      } finally {
        closeFd(btfFd);
      }
    }
    if (section.attachKind === 'freplace') {
      fail(
        'an extension program needs the program it extends: call setAttachTarget(fd) before load()',
        'EINVAL',
      );
    }
    const t = section.btfTarget;
    if (t === undefined) return {};
    const found = kernel().findByName(t.name, t.kind);
    if (found === undefined) fail(`the kernel has no ${t.kind} '${t.name}' to attach to`, 'ESRCH');
    return { btfId: found?.id };
  }

  #fillSlots(): void {
    const key = new Uint8Array(4);
    const value = new Uint8Array(4);
    const kv = new DataView(key.buffer);
    const vv = new DataView(value.buffer);
    for (const m of this.maps.values()) {
      for (const [slot, init] of m.spec.slots) {
        let fd: number;
        if (init.kind === 'program') {
          const p = this.programs.get(init.name);
          if (p === undefined || p.fd < 0) {
            throw new BpfError(
              `map '${m.name}' slot ${slot} names program '${init.name}', which is not loaded`,
              {
                code: 'ENOENT',
                command: 'BPF_MAP_UPDATE_ELEM',
              },
            );
          }
          fd = p.fd;
        } else {
          fd = this.#mapFd(init.name);
        }
        kv.setUint32(0, slot, true);
        vv.setUint32(0, fd, true);
        try {
          mapUpdate(this.#mapFd(m.name), key, value);
        } catch (err) {
          if (err instanceof BpfError) {
            err.message = `cannot fill slot ${slot} of map '${m.name}' with ${init.kind} '${init.name}': ${err.message}`;
          }
          throw err;
        }
      }
    }
  }

  /**
   * Puts the program FDs into every struct_ops value, which attaching writes: for a `.struct_ops` map that
   * update registers it; a `.struct_ops.link` map is registered by the link made after it.
   */
  #fillStructOps(): void {
    for (const [name, plan] of this.#structOps) {
      const map = this.maps.get(name);
      if (map === undefined) continue;
      setLoadedStructOpsValue(
        map,
        structOpsValue(plan, (program) => this.programs.get(program)?.fd ?? -1),
      );
    }
  }

  /** For an EPERM: a sentence naming what the token does not allow, or why the object has no token. */
  #explainTokenEperm(err: BpfError, failed: Parameters<typeof explainMissingDelegation>[1]): string {
    if (err.errno !== 1) return '';
    if (this.tokenFd >= 0) {
      const why = explainMissingDelegation(this.tokenFd, failed);
      return why === undefined ? '' : `. ${why}`;
    }
    const none = this.#token?.kind === 'none' ? ` (no BPF token: ${this.#token.reason})` : '';
    return `. This needs CAP_BPF in the initial user namespace (run as root), or a BPF token from a delegated BPF FS (bpfTokenPath or LIBBPF_BPF_TOKEN_PATH)${none}`;
  }
}

/** Map types the kernel creates only with BTF key/value types (local storage, struct_ops). */
const BTF_MAP_TYPES: ReadonlySet<number> = new Set([
  MapTypes.sk_storage,
  MapTypes.struct_ops,
  MapTypes.inode_storage,
  MapTypes.task_storage,
  MapTypes.cgrp_storage,
]);

/** Program types that run through BPF trampolines. */
const TRAMPOLINE_TYPES: ReadonlySet<string> = new Set(['tracing', 'ext', 'lsm']);

/** Whether this process is root in the initial user namespace (so an EPERM is the kernel's, not a right missing). */
function privileged(): boolean {
  try {
    // The initial user namespace maps every id to itself: "0 0 4294967295".
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return process.geteuid?.() === 0 && map.join(' ') === '0 0 4294967295';
  } catch {
    return false;
  }
}

/** Kernel-visible program name: at most 15 characters of `[A-Za-z0-9_.]`. */
function kernelProgName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

function records<R>(
  list: readonly R[],
  recSize: number,
  put: (v: DataView, r: R, offset: number) => void,
): { bytes: Uint8Array; recSize: number; count: number } | undefined {
  if (list.length === 0) return undefined;
  const bytes = new Uint8Array(list.length * recSize);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < list.length; i++) put(v, list[i], i * recSize);
  return { bytes, recSize, count: list.length };
}

function extSource(spec: ObjectSpec, btfLoaded: boolean): ExtInfoSource | undefined {
  const ext = spec.btfExt;
  if (ext === undefined || !btfLoaded) return undefined;
  const funcs = new Map(ext.funcInfo.map((s) => [s.section, s.records]));
  const lines = new Map(
    ext.lineInfo.map((s) => [
      s.section,
      s.records.map((r) => ({
        insnOff: r.insnOff,
        fileNameOff: r.fileNameOff,
        lineOff: r.lineOff,
        lineCol: (r.lineNum << 10) | r.column,
      })),
    ]),
  );
  return { funcInfo: (s) => funcs.get(s) ?? [], lineInfo: (s) => lines.get(s) ?? [] };
}

function checkOptions(opts: OpenOptions): void {
  const level = opts.kernelLogLevel;
  if (level !== undefined && (!Number.isInteger(level) || level < 0 || level > 0xff)) {
    throw new OptionError(
      `kernelLogLevel must be an integer log level (0, 1, 2, or with 4 for stats), got ${level}`,
      {
        option: 'kernelLogLevel',
      },
    );
  }
  for (const key of ['objectName', 'pinRootPath', 'btfCustomPath', 'kconfig'] as const) {
    const v = opts[key];
    if (v !== undefined && typeof v !== 'string') {
      throw new OptionError(`${key} must be a string`, { option: key });
    }
  }
}
