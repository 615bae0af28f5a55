/**
 * Registering struct_ops maps with their kernel subsystem. The value (program FDs in the function pointer
 * slots) is written to the map's one element first. A `.struct_ops` map is registered by that update and
 * unregistered by deleting the element; the kernel allows that once per map. A `.struct_ops.link` map
 * (created with `BPF_F_LINK`) takes its value once and is registered through a kernel link
 * (`BPF_LINK_CREATE` with attach type `BPF_STRUCT_OPS` and the map FD where a program FD would go); closing
 * the link unregisters it, and `BPF_LINK_UPDATE` swaps in another map of the same type.
 *
 * @module
 */
import { BpfError, OptionError } from '../../errors.js';
import { BpfLink, type LinkUpdateOptions } from '../link.js';
import { loadedStructOpsValue, registerError } from '../load/struct-ops.js';
import type { BpfMap } from '../map.js';
import type { BpfProgram } from '../program.js';
import type { StructOpsSpec } from '../spec.js';
import { closeFd, dupCloexec } from '../sys/fd.js';
import type { LinkInfo } from '../sys/info.js';
import { AttachTypes } from '../sys/kinds.js';
import { linkCreate, linkUpdate } from '../sys/link.js';
import { mapDelete, mapUpdate } from '../sys/map.js';

const KEY0 = new Uint8Array(4);
/** `BPF_F_REPLACE` of `BPF_LINK_UPDATE`: replace only if the link holds the expected map. */
const F_REPLACE = 4;

/**
 * A registered struct_ops map. `detach()` unregisters it: it closes the kernel link of a `.struct_ops.link`
 * map, or deletes the element of a `.struct_ops` map (which cannot be registered again afterwards).
 */
export class StructOpsLink extends BpfLink {
  /** The name of the map registered now. */
  get map(): string {
    return this.#map;
  }
  /** Whether the registration is a kernel link (`.struct_ops.link`), which can be pinned and updated. */
  readonly isKernelLink: boolean;
  #map: string;
  readonly #kernelType: string;
  /** For a `.struct_ops` map: a duplicate of its FD, to delete the element with. */
  #mapFd: number;
  #gone = false;

  /** @internal Made by {@link attachStructOps}, which hands over `fd` (a link FD, or a map FD duplicate). */
  constructor(map: BpfMap, ops: StructOpsSpec, fd: number) {
    super(
      { kind: 'link', type: 'struct_ops', fd: ops.link ? fd : -1, perfFd: -1 },
      `struct_ops map '${map.name}' (struct ${ops.kernelType})`,
      map,
    );
    this.isKernelLink = ops.link;
    this.#map = map.name;
    this.#kernelType = ops.kernelType;
    this.#mapFd = ops.link ? -1 : fd;
  }

  override get detached(): boolean {
    return this.isKernelLink ? super.detached : this.#gone;
  }

  /** Unregisters the map. Idempotent. */
  override detach(): void {
    if (this.isKernelLink) {
      super.detach();
      return;
    }
    if (this.#gone) return;
    this.#gone = true;
    try {
      mapDelete(this.#mapFd, KEY0);
    } catch (err) {
      // Unregistered already, or being unregistered (the object was closed, which unregisters its maps).
      if (!(err instanceof BpfError) || (err.code !== 'ENOENT' && err.code !== 'EINPROGRESS')) throw err;
    } finally {
      closeFd(this.#mapFd);
      this.#mapFd = -1;
    }
  }

  /**
   * Registers `map` in place of the current one, atomically (`BPF_LINK_UPDATE`): both must be loaded
   * `.struct_ops.link` maps of the same struct type (subsystems may add conditions: a TCP congestion
   * control must keep its name). With `expected`, only if that map is the one registered now.
   */
  replaceMap(map: BpfMap, opts: { expected?: BpfMap } = {}): void {
    const fd = this.#kernelLinkFd('replaceMap');
    const ops = structOpsOf(map);
    if (!ops.link) throw notLinkMap(map);
    const newFd = loadedFd(map);
    const value = loadedStructOpsValue(map);
    if (value === undefined) throw notLoaded(map);
    const flags = opts.expected === undefined ? {} : { flags: F_REPLACE, oldProgFd: loadedFd(opts.expected) };
    try {
      writeLinkValue(newFd, value);
      linkUpdate(fd, newFd, flags);
    } catch (err) {
      if (err instanceof BpfError) throw registerError(err, 'switch to', map.name, this.#kernelType, true);
      throw err;
    }
    this.#map = map.name;
  }

  /** Not for struct_ops: their links swap maps, not programs; see {@link replaceMap}. */
  override update(_program: BpfProgram, _opts?: LinkUpdateOptions): void {
    throw new OptionError(`${this.target}: a struct_ops link swaps maps, not programs; use replaceMap(map)`, {
      option: 'program',
      code: 'EOPNOTSUPP',
    });
  }

  override pin(path: string): void {
    this.#kernelLinkFd('pin');
    super.pin(path);
  }

  override info(): LinkInfo {
    this.#kernelLinkFd('info');
    return super.info();
  }

  #kernelLinkFd(what: string): number {
    if (!this.isKernelLink) {
      throw new OptionError(
        `${what}: ${this.target} is registered by its map update, not through a kernel link; declare the map in SEC(".struct_ops.link") for a link that can be pinned and updated`,
        { option: 'link', code: 'EOPNOTSUPP' },
      );
    }
    if (this.detached) throw new BpfError(`${this.target} is detached`, { code: 'EBADF', command: what });
    return this.fd;
  }
}

/**
 * Registers a loaded struct_ops map with its subsystem (what `BpfObject.attach()` does for every
 * struct_ops map): `BPF_LINK_CREATE` for a `.struct_ops.link` map, the element update for a `.struct_ops`
 * map.
 *
 * @throws OptionError when `map` is not a struct_ops map; BpfError when it is not loaded or the kernel
 *   refuses (`EOPNOTSUPP` for types without registration, `EEXIST` for a name taken, `EBUSY` for a
 *   `.struct_ops` map registered before); FeatureMissingError when the kernel cannot build BPF trampolines
 */
export function attachStructOps(map: BpfMap): StructOpsLink {
  const ops = structOpsOf(map);
  const mapFd = loadedFd(map);
  const value = loadedStructOpsValue(map);
  if (value === undefined) throw notLoaded(map);
  try {
    if (ops.link) {
      writeLinkValue(mapFd, value);
      const fd = linkCreate(mapFd, 0, AttachTypes.struct_ops);
      return new StructOpsLink(map, ops, fd);
    }
    const dup = dupCloexec(mapFd);
    try {
      mapUpdate(mapFd, KEY0, value);
    } catch (err) {
      closeFd(dup);
      throw err;
    }
    return new StructOpsLink(map, ops, dup);
  } catch (err) {
    if (err instanceof BpfError) throw registerError(err, 'register', map.name, ops.kernelType, ops.link);
    throw err;
  }
}

/** Writes the value of a `.struct_ops.link` map, which makes it ready for a link. */
function writeLinkValue(mapFd: number, value: Uint8Array): void {
  try {
    mapUpdate(mapFd, KEY0, value);
  } catch (err) {
    // The kernel takes a link map's value once; EBUSY: it has it from an earlier attach.
    if (!(err instanceof BpfError) || err.code !== 'EBUSY') throw err;
  }
}

function structOpsOf(map: BpfMap): StructOpsSpec {
  const ops = map.spec.structOps;
  if (ops === undefined) {
    throw new OptionError(
      `map '${map.name}' is a ${map.type} map, not a struct_ops map (a variable of SEC(".struct_ops") or SEC(".struct_ops.link"))`,
      { option: 'map' },
    );
  }
  return ops;
}

function loadedFd(map: BpfMap): number {
  if (map.fd < 0) throw notLoaded(map);
  return map.fd;
}

function notLoaded(map: BpfMap): BpfError {
  return new BpfError(`struct_ops map '${map.name}' is not loaded; call load() first`, {
    code: 'EBADF',
    command: 'attach',
  });
}

function notLinkMap(map: BpfMap): OptionError {
  return new OptionError(
    `struct_ops map '${map.name}' is not a .struct_ops.link map; only those can be swapped into a link`,
    { option: 'map' },
  );
}
