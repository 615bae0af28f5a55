/**
 * BPF iterators: an `iter/...` program attached as an iterator link, read as text. Each read pass creates
 * a new iterator instance (`BPF_ITER_CREATE`) and runs the program over the kernel objects as the
 * instance's FD is read to its end.
 *
 * @module
 */
import { Readable } from 'node:stream';
import { BpfError, OptionError, withContext } from '../../errors.js';
import { BpfLink, loadedFd } from '../link.js';
import type { BpfMap } from '../map.js';
import type { BpfProgram } from '../program.js';
import { closeFd, O_DIRECTORY, O_RDONLY, openAt, readFd } from '../sys/fd.js';
import { AttachTypes } from '../sys/kinds.js';
import { iterCreate, linkCreate } from '../sys/link.js';

/** Order of a cgroup iterator (`enum bpf_cgroup_iter_order`). */
export type CgroupIterOrder = 'self_only' | 'descendants_pre' | 'descendants_post' | 'ancestors_up';

const CGROUP_ORDER: Record<CgroupIterOrder, number> = {
  self_only: 1,
  descendants_pre: 2,
  descendants_post: 3,
  ancestors_up: 4,
};

/** What an iterator walks, for targets that take a parameter (`union bpf_iter_link_info`). */
export interface IterOptions {
  /** `bpf_map_elem`, `bpf_sk_storage_map`, `sockmap` iterators: the map to walk. */
  map?: BpfMap | number;
  /** `cgroup` iterators: the cgroup (a cgroup v2 directory or its FD) and the walk order. */
  cgroup?: { path?: string; fd?: number; id?: bigint; order?: CgroupIterOrder };
  /** `task`, `task_file`, `task_vma` iterators: only one thread (`tid`), or one process (`pid`/`pidFd`). */
  task?: { tid?: number; pid?: number; pidFd?: number };
}

/** Size of `union bpf_iter_link_info` (its largest member, the cgroup one). */
const ITER_INFO_SIZE = 16;

function iterInfo(opts: IterOptions): { bytes: Uint8Array | undefined; ownedFd: number } {
  const given = [opts.map, opts.cgroup, opts.task].filter((x) => x !== undefined).length;
  if (given > 1)
    throw new OptionError('an iterator takes at most one of map, cgroup, task', { option: 'map' });
  const bytes = Buffer.alloc(ITER_INFO_SIZE);
  if (opts.map !== undefined) {
    const fd = typeof opts.map === 'number' ? opts.map : opts.map.fd;
    if (fd < 0) throw new OptionError('iterator map is not loaded', { option: 'map' });
    bytes.writeUInt32LE(fd, 0);
    return { bytes, ownedFd: -1 };
  }
  if (opts.cgroup !== undefined) {
    const c = opts.cgroup;
    let ownedFd = -1;
    let fd = c.fd ?? 0;
    if (c.path !== undefined) fd = ownedFd = openAt(c.path, O_RDONLY | O_DIRECTORY);
    bytes.writeUInt32LE(CGROUP_ORDER[c.order ?? 'self_only'], 0);
    bytes.writeUInt32LE(fd, 4);
    bytes.writeBigUInt64LE(c.id ?? 0n, 8);
    return { bytes, ownedFd };
  }
  if (opts.task !== undefined) {
    bytes.writeUInt32LE(opts.task.tid ?? 0, 0);
    bytes.writeUInt32LE(opts.task.pid ?? 0, 4);
    bytes.writeUInt32LE(opts.task.pidFd ?? 0, 8);
    return { bytes, ownedFd: -1 };
  }
  return { bytes: undefined, ownedFd: -1 };
}

/**
 * An iterator link: read its output with {@link readText}, {@link readBytes}, {@link chunks} or {@link stream}.
 */
export class BpfIterLink extends BpfLink {
  /** Runs the iterator once and returns everything it wrote. */
  readBytes(): Uint8Array {
    const fd = this.#instance();
    try {
      const parts: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = new Uint8Array(CHUNK);
        const n = readFd(fd, chunk);
        if (n === 0) break;
        parts.push(chunk.subarray(0, n));
        total += n;
      }
      return Buffer.concat(parts, total);
    } finally {
      closeFd(fd);
    }
  }

  /** Runs the iterator once and returns its output as UTF-8 text. */
  readText(): string {
    return Buffer.from(this.readBytes()).toString('utf8');
  }

  /**
   * Runs the iterator once, yielding its output chunk by chunk (each chunk is what one `read()` returned,
   * at most `chunkSize` bytes). The instance is closed when the loop ends, also on `break`.
   */
  async *chunks(chunkSize = CHUNK): AsyncGenerator<Uint8Array, void, undefined> {
    const fd = this.#instance();
    try {
      for (;;) {
        const chunk = new Uint8Array(chunkSize);
        const n = readFd(fd, chunk);
        if (n === 0) return;
        yield chunk.subarray(0, n);
      }
    } finally {
      closeFd(fd);
    }
  }

  /**
   * Runs the iterator once as a Node.js byte stream (pipe it to a file, a socket or a line reader). The
   * instance is closed when the stream ends or is destroyed.
   */
  stream(chunkSize = CHUNK): Readable {
    return Readable.from(this.chunks(chunkSize), { objectMode: false });
  }

  #instance(): number {
    if (this.detached) {
      throw new BpfError(`iterator ${this.target} is detached`, {
        code: 'EBADF',
        command: 'BPF_ITER_CREATE',
      });
    }
    return iterCreate(this.fd);
  }
}

const CHUNK = 64 * 1024;

/** Attaches an `iter/...` program and returns the link to read it through. */
export function attachIter(program: BpfProgram, opts: IterOptions = {}): BpfIterLink {
  const progFd = loadedFd(program, 'attach');
  const target = `iterator ${program.section.extras ?? program.name}`;
  const { bytes, ownedFd } = iterInfo(opts);
  try {
    const fd = linkCreate(progFd, 0, AttachTypes.trace_iter, 0, { kind: 'iter', iterInfo: bytes });
    return new BpfIterLink({ kind: 'link', type: 'iter', fd, perfFd: -1 }, target, program);
  } catch (err) {
    throw withContext(err, target);
  } finally {
    if (ownedFd >= 0) closeFd(ownedFd);
  }
}
