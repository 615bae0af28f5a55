/**
 * The token policy of an object (token design, sections 1, 2 and 5): which token to use according to the
 * options and `LIBBPF_BPF_TOKEN_PATH`, making it at load time, what a failure means in each mode, and
 * turning an `EPERM` under a token into a message that names the delegation that is missing.
 *
 * Life cycle for the loader: {@link resolveTokenOptions} at `open()` (validates, reads the environment once,
 * duplicates an explicit FD), {@link createToken} as the first step of `load()`, and at `close()` both
 * {@link closeTokenPlan} and closing the result's FD when it is `>= 0`.
 *
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { BpfError, OptionError } from '../errors.js';
import { BpfCmd, bpfCmdName } from './sys/bpf.js';
import { Errno, errnoName } from './sys/errno.js';
import { closeFd, dupCloexec, openDirRaw } from './sys/fd.js';
import {
  BPF_ATTACH_TYPE_NAMES,
  BPF_CMD_NAMES,
  BPF_MAP_TYPE_NAMES,
  BPF_PROG_TYPE_NAMES,
  describeFd,
  enumName,
  formatMask,
  isBpfToken,
  maskAllows,
  type TokenInfo,
  tokenCreateRaw,
  tokenInfo,
} from './sys/token.js';

/** Where implicit mode looks for a delegated BPF FS. */
export const IMPLICIT_TOKEN_PATH = '/sys/fs/bpf';

/** The environment variable that gives a token path when no option does (libbpf's name). */
export const TOKEN_PATH_ENV = 'LIBBPF_BPF_TOKEN_PATH';

/** Paths this long (bytes of UTF-8) or longer do not fit `PATH_MAX`. */
const PATH_MAX = 4096;

/** The token options of `open()`. */
export interface TokenOptions {
  /** `''` disables tokens; a non-empty path makes a token from the BPF FS there mandatory. */
  bpfTokenPath?: string;
  /** `>= 0`: use this token FD (it is duplicated at once); `< 0`: disable tokens. */
  bpfTokenFd?: number;
}

/** Receives one line of the token debug log. */
export type TokenLog = (message: string) => void;

/** What {@link resolveTokenOptions} decided. */
export type TokenPlan =
  | { readonly mode: 'disabled'; readonly reason: string }
  | { readonly mode: 'implicit'; readonly path: typeof IMPLICIT_TOKEN_PATH }
  | { readonly mode: 'path'; readonly path: string; readonly source: 'option' | 'env' }
  /** `fd` is our own close-on-exec duplicate (>= 3), owned by the plan: see {@link closeTokenPlan}. */
  | { readonly mode: 'fd'; readonly fd: number };

/** The token modes. */
export type TokenMode = TokenPlan['mode'];

/** What {@link createToken} produced. */
export type TokenResult =
  | {
      readonly kind: 'none';
      readonly fd: -1;
      readonly mode: 'disabled' | 'implicit';
      /** Why there is no token: the disabling option, or in implicit mode what creation failed with. */
      readonly reason: string;
      /** Implicit mode: the failure that was tolerated. */
      readonly error?: BpfError;
    }
  | {
      readonly kind: 'token';
      /** A token FD (>= 3, close-on-exec) owned by whoever holds the result. */
      readonly fd: number;
      readonly mode: 'implicit' | 'path' | 'fd';
      /** The BPF FS it was made from (not for `'fd'`). */
      readonly path?: string;
    };

/**
 * The debug log asked for by the environment: lines on stderr when `BPF_SKEL_DEBUG` is `1`, else
 * `undefined`.
 */
export function tokenDebugLog(env: NodeJS.ProcessEnv = process.env): TokenLog | undefined {
  const value = env.BPF_SKEL_DEBUG;
  if (value !== '1' && value !== 'true') return undefined;
  return (message) => {
    process.stderr.write(`bpf-skel: token: ${message}\n`);
  };
}

function checkPath(path: string, option: string): void {
  if (path.includes('\0')) {
    throw new OptionError(`${option} must not contain a NUL byte`, { option, errno: Errno.EINVAL });
  }
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes >= PATH_MAX) {
    throw new OptionError(`${option} is ${bytes} bytes long; a path must be shorter than ${PATH_MAX} bytes`, {
      option,
      code: 'ENAMETOOLONG',
      errno: Errno.ENAMETOOLONG,
    });
  }
}

function conflict(message: string): OptionError {
  return new OptionError(`conflicting token options: ${message}`, {
    option: 'bpfTokenFd',
    errno: Errno.EINVAL,
  });
}

/** Duplicates an explicit token FD and checks that it is one; the duplicate is the plan's. */
function adoptTokenFd(fd: number, log: TokenLog | undefined): TokenPlan {
  const notOpen = (cause?: unknown): OptionError =>
    new OptionError(`bpfTokenFd ${fd} is not an open file descriptor`, {
      option: 'bpfTokenFd',
      code: 'EBADF',
      errno: Errno.EBADF,
      cause,
    });
  // Beyond the int range it cannot be an FD.
  if (fd > 0x7fffffff) throw notOpen();
  let dup: number;
  try {
    dup = dupCloexec(fd, 3);
  } catch (e) {
    if (e instanceof BpfError && e.code === 'EBADF') throw notOpen(e);
    throw e;
  }
  const token = isBpfToken(dup);
  if (token === false) {
    const what = describeFd(dup);
    closeFd(dup);
    throw new OptionError(
      `bpfTokenFd ${fd} is open but is not a BPF token${what === undefined ? '' : ` (it is ${what})`}; ` +
        'pass an FD made by BPF_TOKEN_CREATE, or use bpfTokenPath',
      { option: 'bpfTokenFd', errno: Errno.EINVAL },
    );
  }
  if (token === undefined)
    log?.(`cannot check that fd ${fd} is a token (/proc is not mounted); using it as one`);
  log?.(`explicit token fd ${fd}, duplicated as fd ${dup}`);
  return { mode: 'fd', fd: dup };
}

/**
 * Decides the token mode from the options and, when neither option is given, `LIBBPF_BPF_TOKEN_PATH` in
 * `env` (read here, once). Validates everything `open()` must reject: conflicting options (`EINVAL`), paths
 * of 4096 bytes or more (`ENAMETOOLONG`), an explicit FD that is not open (`EBADF`) or not a token
 * (`EINVAL`); all as {@link OptionError} naming the option. An explicit FD is duplicated at once, so the
 * caller may close its own copy as soon as this returns.
 */
export function resolveTokenOptions(
  opts: TokenOptions,
  env: NodeJS.ProcessEnv = process.env,
  log: TokenLog | undefined = tokenDebugLog(env),
): TokenPlan {
  const { bpfTokenPath: path, bpfTokenFd: fd } = opts;
  if (path !== undefined && typeof path !== 'string') {
    throw new OptionError(`bpfTokenPath must be a string, got ${typeof path}`, { option: 'bpfTokenPath' });
  }
  if (fd !== undefined && !Number.isSafeInteger(fd)) {
    throw new OptionError(`bpfTokenFd must be an integer, got ${String(fd)}`, { option: 'bpfTokenFd' });
  }
  if (fd !== undefined && fd >= 0 && path !== undefined) {
    throw conflict(`bpfTokenFd ${fd} and bpfTokenPath ${JSON.stringify(path)} cannot be used together`);
  }
  if (fd !== undefined && fd < 0 && path !== undefined && path !== '') {
    throw conflict(`bpfTokenFd ${fd} disables tokens but bpfTokenPath ${JSON.stringify(path)} asks for one`);
  }
  let plan: TokenPlan;
  if (fd !== undefined) {
    plan = fd >= 0 ? adoptTokenFd(fd, log) : { mode: 'disabled', reason: `bpfTokenFd is ${fd}` };
  } else if (path !== undefined) {
    checkPath(path, 'bpfTokenPath');
    plan =
      path === ''
        ? { mode: 'disabled', reason: 'bpfTokenPath is ""' }
        : { mode: 'path', path, source: 'option' };
  } else {
    const fromEnv = env[TOKEN_PATH_ENV];
    if (fromEnv === undefined) plan = { mode: 'implicit', path: IMPLICIT_TOKEN_PATH };
    else if (fromEnv === '') plan = { mode: 'disabled', reason: `${TOKEN_PATH_ENV} is ""` };
    else {
      checkPath(fromEnv, TOKEN_PATH_ENV);
      plan = { mode: 'path', path: fromEnv, source: 'env' };
    }
  }
  log?.(`plan: ${describePlan(plan)}`);
  return plan;
}

/** One line saying what a plan will do, for logs. */
export function describePlan(plan: TokenPlan): string {
  switch (plan.mode) {
    case 'disabled':
      return `no token (${plan.reason})`;
    case 'implicit':
      return `implicit: a token from ${plan.path} if it has delegation, else none`;
    case 'path':
      return `mandatory token from ${plan.path} (${plan.source === 'env' ? TOKEN_PATH_ENV : 'bpfTokenPath'})`;
    case 'fd':
      return `explicit token fd ${plan.fd}`;
  }
}

/** Closes the FD an `'fd'` plan owns; other plans own nothing. Call once, when the object is closed. */
export function closeTokenPlan(plan: TokenPlan): void {
  if (plan.mode === 'fd') closeFd(plan.fd);
}

interface MountEntry {
  /** The resolved path that was looked up. */
  readonly path: string;
  readonly mountPoint: string;
  readonly fsType: string;
}

/** The mount `path` is on, from `/proc/self/mountinfo`; `undefined` when that cannot be read. */
function mountOf(path: string): MountEntry | undefined {
  let real: string;
  let text: string;
  try {
    real = realpathSync(path);
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const decodeOctal = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  let best: MountEntry | undefined;
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (right === undefined) continue;
    const mountPoint = decodeOctal(left.split(' ')[4] ?? '');
    const fsType = right.split(' ')[0] ?? '';
    const covers = real === mountPoint || mountPoint === '/' || real.startsWith(`${mountPoint}/`);
    // Later lines are mounted later: on the same or a deeper mount point they win.
    if (covers && (best === undefined || mountPoint.length >= best.mountPoint.length))
      best = { path: real, mountPoint, fsType };
  }
  return best;
}

function explainInvalid(path: string): string {
  const mount = mountOf(path);
  if (mount === undefined) {
    return 'the kernel is older than 6.9 (no tokens), the path is not a BPF FS, or it is not the root of its mount';
  }
  if (mount.fsType !== 'bpf') {
    return `${path} is not a BPF FS (it is on ${mount.fsType}, mounted at ${mount.mountPoint}); mount a BPF FS with delegate_* options there`;
  }
  if (mount.path !== mount.mountPoint) {
    return `${path} is inside the BPF FS mounted at ${mount.mountPoint} but not its root; use ${mount.mountPoint}`;
  }
  return 'this is the root of a BPF FS, so the kernel is probably older than 6.9 and has no BPF tokens';
}

/** What an errno of BPF_TOKEN_CREATE from `path` means and what to do (token design, section 5). */
function explainCreateErrno(path: string, code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'the BPF FS mounted there has no delegate_* mount options (delegate_cmds, delegate_maps, delegate_progs, delegate_attachs); root in the initial user namespace must set them when the BPF FS is made for this user namespace (e.g. with `bpf-skel sandbox`)';
    case 'EOPNOTSUPP':
      return 'this process runs in the initial user namespace, where tokens do not exist (they work only inside a user namespace); as root here no token is needed: pass bpfTokenPath: "" or leave LIBBPF_BPF_TOKEN_PATH unset';
    case 'EPERM':
      return 'the BPF FS belongs to another user namespace than this process, or this process lacks CAP_BPF in it; create the token from a BPF FS made for this user namespace';
    case 'EINVAL':
      return explainInvalid(path);
    case 'EBADF':
      return 'the directory FD was not open (an O_PATH FD, such as fsmount() returns, does not count: reopen it with openat(fd, ".", O_RDONLY|O_DIRECTORY))';
    default:
      return 'unexpected error from BPF_TOKEN_CREATE';
  }
}

function explainOpenErrno(code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'there is no such directory';
    case 'ENOTDIR':
      return 'it is not a directory';
    case 'EACCES':
      return 'permission denied';
    default:
      return 'cannot open it as a directory';
  }
}

/** Makes a token from the BPF FS at `path`, or returns the failure explained; never leaks the directory FD. */
/** How making a token from a path failed: at opening it, or at BPF_TOKEN_CREATE, with which errno. */
interface TokenFailure {
  readonly step: 'open' | 'create';
  readonly path: string;
  readonly errno: number;
}

/** Makes a token from `path`, or says cheaply how it failed (see {@link explainFailure} for the words). */
function tryTokenFromPath(path: string): number | TokenFailure {
  const dir = openDirRaw(path);
  if (dir < 0) return { step: 'open', path, errno: -dir };
  try {
    const token = tokenCreateRaw(dir);
    return token < 0 ? { step: 'create', path, errno: -token } : token;
  } finally {
    closeFd(dir);
  }
}

/** The error that explains a failure in plain words (reads the mount table for EINVAL, so not for free). */
function explainFailure(f: TokenFailure): BpfError {
  const { path, errno } = f;
  const code = errnoName(errno);
  const message =
    f.step === 'open'
      ? `cannot make a BPF token from ${path}: opening it failed with ${code}: ${explainOpenErrno(code)}`
      : `BPF_TOKEN_CREATE from ${path} failed with ${code}: ${explainCreateErrno(path, code)}`;
  return new BpfError(message, { code, errno, command: 'BPF_TOKEN_CREATE' });
}

function describeAllowed(info: TokenInfo): string {
  return [
    `delegate_cmds=${formatMask(info.allowedCmds, BPF_CMD_NAMES)}`,
    `delegate_maps=${formatMask(info.allowedMaps, BPF_MAP_TYPE_NAMES)}`,
    `delegate_progs=${formatMask(info.allowedProgs, BPF_PROG_TYPE_NAMES)}`,
    `delegate_attachs=${formatMask(info.allowedAttachs, BPF_ATTACH_TYPE_NAMES)}`,
  ].join(', ');
}

function logCreated(log: TokenLog | undefined, fd: number, from: string): void {
  if (log === undefined) return;
  let allowed: string;
  try {
    allowed = describeAllowed(tokenInfo(fd));
  } catch (e) {
    allowed = `unknown (${e instanceof Error ? e.message : String(e)})`;
  }
  log(`token fd ${fd} from ${from}; it allows ${allowed}`);
}

/**
 * Carries out a plan: the first step of `load()`. Implicit mode tolerates failure (no token, the reason
 * kept in the result); a path plan throws a {@link BpfError} (`command: 'BPF_TOKEN_CREATE'`, `code` the
 * errno name) whose message says what the errno means there and what to do. An `'fd'` plan yields a new
 * duplicate of the plan's FD, so the result and the plan are closed independently.
 */
export function createToken(plan: TokenPlan, log: TokenLog | undefined = tokenDebugLog()): TokenResult {
  switch (plan.mode) {
    case 'disabled':
      log?.(`no token: ${plan.reason}`);
      return { kind: 'none', fd: -1, mode: 'disabled', reason: plan.reason };
    case 'fd': {
      const fd = dupCloexec(plan.fd, 3);
      logCreated(log, fd, `explicit fd ${plan.fd}`);
      return { kind: 'token', fd, mode: 'fd' };
    }
    case 'implicit': {
      const made = tryTokenFromPath(plan.path);
      if (typeof made !== 'number') {
        // Most loads run where no token can be made; the explanation is worked out only if someone asks.
        let explained: BpfError | undefined;
        const explain = () => {
          explained ??= explainFailure(made);
          return explained;
        };
        log?.(`implicit mode: ${explain().message}; loading without a token`);
        return {
          kind: 'none',
          fd: -1,
          mode: 'implicit',
          get reason() {
            return explain().message;
          },
          get error() {
            return explain();
          },
        };
      }
      logCreated(log, made, plan.path);
      return { kind: 'token', fd: made, mode: 'implicit', path: plan.path };
    }
    case 'path': {
      const tried = tryTokenFromPath(plan.path);
      if (typeof tried !== 'number') {
        const made = explainFailure(tried);
        log?.(`${made.message} (mandatory)`);
        const origin =
          plan.source === 'env'
            ? `${TOKEN_PATH_ENV}=${plan.path}`
            : `bpfTokenPath ${JSON.stringify(plan.path)}`;
        made.message += `. The token is mandatory because of ${origin}; set it to "" to load without a token`;
        throw made;
      }
      logCreated(log, tried, plan.path);
      return { kind: 'token', fd: tried, mode: 'path', path: plan.path };
    }
  }
}

/** The bpf() command that failed with `EPERM` while a token was in use, and what it asked for. */
export interface FailedCommand {
  /** The bpf() command number (`BpfCmd.PROG_LOAD`, ...). */
  cmd: number;
  /** `BPF_MAP_CREATE`: the map type. */
  mapType?: number;
  /** `BPF_PROG_LOAD`: the program type. */
  progType?: number;
  /** `BPF_PROG_LOAD`: the expected attach type (0 when the program has none). */
  attachType?: number;
}

/**
 * Why a command that failed with `EPERM` under the token `tokenFd` was not covered by it: a message naming
 * each missing delegation and what the token does allow, or `undefined` when the token allows everything
 * the command needs (the `EPERM` has another cause) or what it allows cannot be read.
 */
export function explainMissingDelegation(tokenFd: number, failed: FailedCommand): string | undefined {
  let info: TokenInfo;
  try {
    info = tokenInfo(tokenFd);
  } catch {
    return undefined;
  }
  const missing: string[] = [];
  if (!maskAllows(info.allowedCmds, failed.cmd)) {
    missing.push(`command '${enumName(BPF_CMD_NAMES, failed.cmd)}' (delegate_cmds)`);
  }
  if (failed.mapType !== undefined && !maskAllows(info.allowedMaps, failed.mapType)) {
    missing.push(`map type '${enumName(BPF_MAP_TYPE_NAMES, failed.mapType)}' (delegate_maps)`);
  }
  if (failed.progType !== undefined && !maskAllows(info.allowedProgs, failed.progType)) {
    missing.push(`program type '${enumName(BPF_PROG_TYPE_NAMES, failed.progType)}' (delegate_progs)`);
  }
  // The kernel checks the expected attach type of every program load against delegate_attachs, including
  // attach type 0 for program types that have none.
  const attach = failed.attachType ?? (failed.cmd === BpfCmd.PROG_LOAD ? 0 : undefined);
  if (attach !== undefined && !maskAllows(info.allowedAttachs, attach)) {
    const note =
      attach === 0
        ? ', needed even by program types without an attach type (tracepoint, kprobe, socket_filter, ...)'
        : '';
    missing.push(
      `expected attach type ${attach} '${enumName(BPF_ATTACH_TYPE_NAMES, attach)}' (delegate_attachs)${note}`,
    );
  }
  if (missing.length === 0) return undefined;
  return (
    `the BPF token does not allow ${missing.join('; ')}, so the kernel ran ${bpfCmdName(failed.cmd)} ` +
    `without it and refused. Add them to the delegate_* options of the BPF FS the token comes from. ` +
    `The token allows: ${describeAllowed(info)}`
  );
}
