/**
 * {@link BpfProgram}: one entry program of an object.
 *
 * @module
 */
import { BpfError, OptionError } from '../errors.js';
import { autoAttach } from './attach/auto.js';
import { type BpfLink, OwnedLinks } from './link.js';
import type { SectionSpec } from './sections.js';
import type { ProgramSpec } from './spec.js';
import type { AttachType, ProgramType } from './sys/kinds.js';

/** A loaded BPF program that another program is loaded against (see {@link BpfProgram.setAttachTarget}). */
export interface AttachTarget {
  readonly programFd: number;
  /** The function of that program, by name. */
  readonly func: string;
}

/** The function a `freplace/<func>` or `fentry/<func>` section names, if any. */
function sectionFunc(section: SectionSpec): string | undefined {
  if (section.attachKind === 'freplace') return section.target?.func;
  if (section.attachKind === 'tracing') return section.target?.name;
  return undefined;
}

/** An entry program of a {@link BpfObject}, by C function name. */
export class BpfProgram {
  /** The C function name. */
  readonly name: string;
  /** The ELF section it came from, `?` included. */
  readonly sectionName: string;
  readonly type: ProgramType;
  /** The expected attach type it is loaded with, or undefined for none (0). */
  readonly expectedAttachType: AttachType | undefined;
  /** @internal */
  readonly spec: ProgramSpec;
  #autoload: boolean;
  #autoattach: boolean;
  #fd = -1;
  #tag = '';
  #log = '';
  #frozen = false;
  #target: AttachTarget | undefined;
  /** @internal Links made from this program and not detached yet: the object's close() detaches them. */
  readonly ownedLinks = new OwnedLinks();

  /** @internal Made by `BpfObject.open()`. */
  constructor(spec: ProgramSpec) {
    this.spec = spec;
    this.name = spec.name;
    this.sectionName = spec.sectionName;
    this.type = spec.sectionSpec.progType;
    this.expectedAttachType = spec.sectionSpec.expectedAttachType;
    this.#autoload = spec.sectionSpec.autoload;
    this.#autoattach = spec.sectionSpec.autoAttach;
  }

  /** The section spec this program was classified with. */
  get section(): SectionSpec {
    return this.spec.sectionSpec;
  }

  /** Whether `load()` loads this program (false for `?` sections). Settable until load. */
  get autoload(): boolean {
    return this.#autoload;
  }
  set autoload(value: boolean) {
    this.#assertNotLoaded('autoload');
    this.#autoload = value;
  }

  /** Whether `attach()` of the object attaches this program. */
  get autoattach(): boolean {
    return this.#autoattach;
  }
  set autoattach(value: boolean) {
    this.#autoattach = value;
  }

  /** The BPF program this one extends or traces (freplace, fentry/fexit on BPF), if set. */
  get attachTarget(): AttachTarget | undefined {
    return this.#target;
  }

  /**
   * Loads this program against a loaded BPF program instead of the kernel: `freplace` replaces the global
   * function `func` of `programFd`; `fentry`/`fexit` trace it. `func` defaults to the name in the section
   * (`freplace/<func>`). Only before load. The FD is used during `load()`; keep it open until then.
   */
  setAttachTarget(programFd: number, func?: string): void {
    this.#assertNotLoaded('setAttachTarget');
    const name = func ?? sectionFunc(this.spec.sectionSpec);
    if (!Number.isInteger(programFd) || programFd < 0 || name === undefined || name === '') {
      throw new OptionError(
        `program '${this.name}': setAttachTarget needs a program FD and a function name (none in section '${this.sectionName}')`,
        { option: 'func' },
      );
    }
    this.#target = { programFd, func: name };
  }

  /** The program's FD after load; -1 before, when not loaded, and after close. */
  get fd(): number {
    return this.#fd;
  }

  /** The kernel's program tag (16 hex digits) after load, else `''`. */
  get tag(): string {
    return this.#tag;
  }

  /** The verifier log of the last load when `kernelLogLevel` asked for one, else `''`. */
  get verifierLog(): string {
    return this.#log;
  }

  /**
   * Attaches the program where its section says (`tp/<category>/<name>`, `raw_tp/<name>`, `uprobe/<binary>:<func>`,
   * `iter/<name>`, ...). Programs whose hook needs a target (XDP, tc, cgroup, socket filters...) attach with
   * the functions of `bpf-skel/runtime` (`attachXdp`, `attachTcx`, `attachCgroup`, `attachSocketFilter`...).
   *
   * @throws BpfError when the program is not loaded or its section names no target
   */
  attach(): BpfLink {
    const link = autoAttach(this);
    if (link === undefined) {
      throw new BpfError(
        `program '${this.name}' (section '${this.sectionName}') names no target to attach to; attach it with attachXdp(), attachTcx(), attachCgroup(), attachSocketFilter(), attachPerfEvent() or attachUprobe() from bpf-skel/runtime`,
        { code: 'EINVAL', command: 'attach' },
      );
    }
    return link;
  }

  /** @internal */
  setLoaded(fd: number, tag: string, log: string): void {
    this.#fd = fd;
    this.#tag = tag;
    this.#log = log;
    this.#frozen = true;
  }

  /** @internal */
  setClosed(): void {
    this.ownedLinks.detachAll();
    this.#fd = -1;
    this.#tag = '';
  }

  /** @internal Marks that load() ran, so autoload is fixed even for programs that were not loaded. */
  freeze(): void {
    this.#frozen = true;
  }

  #assertNotLoaded(what: string): void {
    if (this.#frozen) {
      throw new BpfError(`program '${this.name}': ${what} can only change before load()`, {
        code: 'EBUSY',
        command: what,
      });
    }
  }
}
