/**
 * Pinning BPF objects on a BPF FS, and opening pins, with errors that say what to do: the kernel's answers
 * (`EPERM` for a path off a BPF FS, `EACCES` for a pin path that is an ordinary file, `ENOENT`, `EEXIST`)
 * become {@link OptionError}s naming the path and the fix.
 *
 * @module
 */
import { statfsSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { BpfError, OptionError } from '../errors.js';
import { objGet, objPin } from './sys/map.js';

/** `f_type` of a BPF FS in `statfs()` (`BPF_FS_MAGIC`). */
const BPF_FS_MAGIC = 0xcafe4a11;

const MOUNT_HINT = "mount one first, e.g. 'mount -t bpf bpf /sys/fs/bpf'";

/** Whether `path` lies on a BPF FS; undefined when it cannot be told (the path does not exist). */
function onBpfFs(path: string): boolean | undefined {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return undefined;
  }
}

function codeOf(err: unknown): string | undefined {
  return err instanceof BpfError ? err.code : undefined;
}

/** A clearer error for a failed `BPF_OBJ_PIN` of `what` at `path`, or `err` itself. */
function explainPin(err: unknown, path: string, what: string): unknown {
  const dir = dirname(path);
  const base = { option: 'path', errno: err instanceof BpfError ? err.errno : 0, command: 'BPF_OBJ_PIN' };
  switch (codeOf(err)) {
    case 'EPERM':
      if (onBpfFs(dir) === false) {
        return new OptionError(`cannot pin ${what} at ${path}: ${dir} is not on a BPF FS; ${MOUNT_HINT}`, {
          ...base,
          code: 'EPERM',
          cause: err,
        });
      }
      return err;
    case 'ENOENT':
      return new OptionError(
        `cannot pin ${what} at ${path}: directory ${dir} does not exist; create it on a BPF FS first`,
        { ...base, code: 'ENOENT', cause: err },
      );
    case 'EEXIST':
      return new OptionError(
        `cannot pin ${what} at ${path}: something is pinned there already; unpin it or choose another path`,
        { ...base, code: 'EEXIST', cause: err },
      );
    default:
      return err;
  }
}

/** A clearer error for a failed `BPF_OBJ_GET` of `path`, or `err` itself. */
function explainGet(err: unknown, path: string): unknown {
  const base = { option: 'path', errno: err instanceof BpfError ? err.errno : 0, command: 'BPF_OBJ_GET' };
  switch (codeOf(err)) {
    case 'ENOENT':
      return new OptionError(`nothing is pinned at ${path}`, { ...base, code: 'ENOENT', cause: err });
    case 'EACCES':
      if (onBpfFs(path) === false) {
        return new OptionError(`${path} is not on a BPF FS, so it is no pin; ${MOUNT_HINT} and pin there`, {
          ...base,
          code: 'EACCES',
          cause: err,
        });
      }
      return err;
    default:
      return err;
  }
}

/** Pins `fd` (a map, program or link; `what` names it for messages) at `path` on a BPF FS. */
export function pinFd(fd: number, path: string, what: string): void {
  try {
    objPin(fd, path);
  } catch (err) {
    throw explainPin(err, path, what);
  }
}

/** Opens the object pinned at `path` (`fileFlags`: `BPF_F_RDONLY`/`BPF_F_WRONLY`) and returns a new FD. */
export function openPinned(path: string, fileFlags: number): number {
  try {
    return objGet(path, fileFlags);
  } catch (err) {
    throw explainGet(err, path);
  }
}

/** Removes the pin at `path`; a pin that is gone already is fine. */
export function removePin(path: string, what: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') return;
    throw new BpfError(`cannot unpin ${what} at ${path}: ${code}`, { code, command: 'unpin', cause: err });
  }
}
