/**
 * The new mount API (fsopen, fsconfig, fsmount, move_mount), pidfds and directory opens: what making a
 * delegated BPF FS and creating a token from it need. Every call is checked and throws {@link BpfError} with
 * the syscall name as `command`.
 *
 * @module
 */
import { BpfError } from '../../errors.js';
import { Errno, syscallFailure } from './errno.js';
import { openDir } from './fd.js';
import { addressOf, cRead, errno, syscall5 } from './libc.js';

// The new mount API and pidfd calls came after the syscall tables were unified: the same numbers on x86-64
// and arm64.
const SYS_move_mount = 429;
const SYS_fsopen = 430;
const SYS_fsconfig = 431;
const SYS_fsmount = 432;
const SYS_pidfd_open = 434;
const SYS_pidfd_getfd = 438;

const AT_FDCWD = -100;
/** `FSOPEN_CLOEXEC` for {@link fsopen}. */
export const FSOPEN_CLOEXEC = 1;
/** `FSMOUNT_CLOEXEC` for {@link fsmount}. */
export const FSMOUNT_CLOEXEC = 1;
/** `MOVE_MOUNT_F_EMPTY_PATH`: the source of move_mount() is the FD itself. */
export const MOVE_MOUNT_F_EMPTY_PATH = 4;
/** `fsconfig()` commands used here. */
export const FsconfigCmd = { SET_STRING: 1, CMD_CREATE: 6 } as const;

/** A C string: the text and a terminating NUL. Rejects text with a NUL inside, which C would cut short. */
function cString(text: string, command: string, what: string): Buffer {
  if (text.includes('\0')) {
    throw new BpfError(`${command}: ${what} ${JSON.stringify(text)} contains a NUL byte`, {
      code: 'EINVAL',
      errno: Errno.EINVAL,
      command,
    });
  }
  return Buffer.from(`${text}\0`, 'utf8');
}

/** `ret`, or a thrown {@link BpfError} for the errno when `ret` is negative; `detail` adds to the message. */
function check(ret: number, command: string, what: string, detail?: () => string): number {
  if (ret >= 0) return ret;
  const failure = syscallFailure(command, errno(), what);
  const extra = detail?.() ?? '';
  if (extra !== '') failure.message += `: ${extra}`;
  throw failure;
}

/**
 * Opens the root of a detached mount (the `O_PATH` FD {@link fsmount} returns) as a real directory FD:
 * `openat(mountFd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC)`. `BPF_TOKEN_CREATE` needs such an FD: it rejects
 * `O_PATH` ones with `EBADF`.
 */
export function openMountRoot(mountFd: number): number {
  return openDir('.', mountFd);
}

/**
 * Reads the messages the kernel left in a filesystem context's log (`"e bpf: ..."` lines), which explain why
 * an fsconfig() call failed. Returns them joined with `'; '`, or `''` when there are none.
 */
export function fsContextLog(fsFd: number): string {
  const buf = Buffer.alloc(1024);
  const messages: string[] = [];
  // Each read() returns one message; ENODATA marks the end. The bound guards against a context that never
  // runs dry (the kernel keeps at most 8 messages).
  for (let i = 0; i < 16; i++) {
    const n = cRead(fsFd, buf, buf.length);
    if (n <= 0) break;
    messages.push(buf.toString('utf8', 0, n).trim());
  }
  return messages.join('; ');
}

/** `fsopen(fsName, flags)`: a filesystem context FD for a new superblock of type `fsName`. */
export function fsopen(fsName: string, flags = FSOPEN_CLOEXEC): number {
  const name = cString(fsName, 'fsopen', 'filesystem name');
  return check(syscall5(SYS_fsopen, addressOf(name), flags, 0, 0, 0), 'fsopen', JSON.stringify(fsName));
}

/** `fsconfig(fsFd, FSCONFIG_SET_STRING, key, value, 0)`: sets one mount option on a filesystem context. */
export function fsconfigSetString(fsFd: number, key: string, value: string): void {
  const k = cString(key, 'fsconfig', 'key');
  const v = cString(value, 'fsconfig', 'value');
  const ret = syscall5(SYS_fsconfig, fsFd, FsconfigCmd.SET_STRING, addressOf(k), addressOf(v), 0);
  check(ret, 'fsconfig', `${fsFd}, FSCONFIG_SET_STRING, ${key}=${JSON.stringify(value)}`, () =>
    fsContextLog(fsFd),
  );
}

/** `fsconfig(fsFd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)`: creates the superblock from the options set. */
export function fsconfigCreate(fsFd: number): void {
  const ret = syscall5(SYS_fsconfig, fsFd, FsconfigCmd.CMD_CREATE, 0, 0, 0);
  check(ret, 'fsconfig', `${fsFd}, FSCONFIG_CMD_CREATE`, () => fsContextLog(fsFd));
}

/** `fsmount(fsFd, flags, attrFlags)`: a detached mount of the created superblock, as an `O_PATH` FD. */
export function fsmount(fsFd: number, flags = FSMOUNT_CLOEXEC, attrFlags = 0): number {
  return check(syscall5(SYS_fsmount, fsFd, flags, attrFlags, 0, 0), 'fsmount', String(fsFd));
}

/**
 * `move_mount(mountFd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`: attaches a detached mount (from
 * {@link fsmount}) at `target` in the caller's mount namespace.
 */
export function moveMountTo(mountFd: number, target: string): void {
  const empty = Buffer.from('\0');
  const to = cString(target, 'move_mount', 'target');
  const ret = syscall5(
    SYS_move_mount,
    mountFd,
    addressOf(empty),
    AT_FDCWD,
    addressOf(to),
    MOVE_MOUNT_F_EMPTY_PATH,
  );
  check(ret, 'move_mount', `${mountFd} -> ${target}`);
}

/** `pidfd_open(pid, 0)`: a close-on-exec FD that refers to process `pid`. */
export function pidfdOpen(pid: number): number {
  return check(syscall5(SYS_pidfd_open, pid, 0, 0, 0, 0), 'pidfd_open', String(pid));
}

/**
 * `pidfd_getfd(pidfd, targetFd, 0)`: a close-on-exec duplicate, in this process, of FD `targetFd` of the
 * process `pidfd` refers to. Needs ptrace access to that process.
 */
export function pidfdGetfd(pidfd: number, targetFd: number): number {
  return check(syscall5(SYS_pidfd_getfd, pidfd, targetFd, 0, 0, 0), 'pidfd_getfd', `${pidfd}, ${targetFd}`);
}
