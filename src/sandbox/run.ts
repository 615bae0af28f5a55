/**
 * The delegated-BPF-FS sandbox: runs a command inside new user and mount namespaces where a BPF FS with the
 * requested `delegate_*` options is mounted, so that BPF tokens can be made there. Follows the recipe of
 * the token design (section 6): the child opens the filesystem context in its own user namespace, this
 * process (root in the initial user namespace) takes a copy of that FD with `pidfd_getfd`, sets the
 * delegation and creates the superblock, and the child mounts it.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BpfError, OptionError } from '../errors.js';
import { closeFd } from '../runtime/sys/fd.js';
import { fsconfigCreate, fsconfigSetString, pidfdGetfd, pidfdOpen } from '../runtime/sys/mount.js';
import {
  type ChildMessage,
  childArgs,
  decodeChildMessage,
  encodeMessage,
  type ParentMessage,
} from './protocol.js';

/** Where the BPF FS goes unless `at` says otherwise. */
export const DEFAULT_BPFFS_DIR = '/sys/fs/bpf';

/** How to run a command in the sandbox. */
export interface SandboxOptions {
  /**
   * Values of the BPF FS `delegate_cmds`, `delegate_maps`, `delegate_progs`, `delegate_attachs` options:
   * `'any'`, names joined with `':'` (`'map_create:prog_load'`), or one number that is the mask itself
   * (`'6'`: values 1 and 2). An option left out is not
   * set; with none set, the BPF FS has no delegation and token creation from it fails with `ENOENT`.
   */
  delegateCmds?: string;
  delegateMaps?: string;
  delegateProgs?: string;
  delegateAttachs?: string;
  /** Directory to mount the BPF FS on (made if missing; relative to `cwd`). Default `/sys/fs/bpf`. */
  at?: string;
  /** `false`: no BPF FS at all, just the namespaces. Default `true`. */
  mount?: boolean;
  /**
   * `false`: a new mount namespace only, so the command stays in the initial user namespace (where BPF token
   * creation fails with `EOPNOTSUPP`). Default `true`: new user and mount namespaces.
   */
  userNamespace?: boolean;
  /** The command and its arguments. */
  command: readonly string[];
  /** Environment of the command. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Working directory of the command. */
  cwd?: string;
  /** `'inherit'` (default): the command uses this process's stdio. `'pipe'`: stdin is empty, output is returned. */
  stdio?: 'inherit' | 'pipe';
  /** Ends the command after this many milliseconds: SIGTERM, then SIGKILL 2 s later. */
  timeoutMs?: number;
}

/** How the command ended. */
export interface SandboxResult {
  /** Exit status, or `null` when a signal ended it. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** With `stdio: 'pipe'`: what the command wrote. */
  stdout?: string;
  stderr?: string;
}

const DELEGATE_KEYS = [
  ['delegateCmds', 'delegate_cmds'],
  ['delegateMaps', 'delegate_maps'],
  ['delegateProgs', 'delegate_progs'],
  ['delegateAttachs', 'delegate_attachs'],
] as const;

type Delegation = Array<readonly [key: string, value: string]>;

function delegationOf(opts: SandboxOptions): Delegation {
  const out: Delegation = [];
  for (const [option, key] of DELEGATE_KEYS) {
    const value = opts[option];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '' || value.includes('\0')) {
      throw new OptionError(
        `sandbox: ${option} must be 'any', names joined with ':' or a number; got ${JSON.stringify(value)}`,
        {
          option,
        },
      );
    }
    out.push([key, value]);
  }
  return out;
}

/** The child program and the node arguments that run it: the built `.js`, or the source through tsx. */
function childCommand(): string[] {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const tsx = createRequire(self).resolve('tsx');
    return ['--import', pathToFileURL(tsx).href, fileURLToPath(new URL('./child.ts', self))];
  }
  return [fileURLToPath(new URL('./child.js', self))];
}

/**
 * Sets the delegation on the child's filesystem context and creates the superblock. Needs root in the
 * initial user namespace: only such a process may set `delegate_*` options.
 */
function configure(pid: number, remoteFd: number, delegation: Delegation): void {
  const pidfd = pidfdOpen(pid);
  let fsFd: number;
  try {
    fsFd = pidfdGetfd(pidfd, remoteFd);
  } finally {
    closeFd(pidfd);
  }
  try {
    for (const [key, value] of delegation) {
      try {
        fsconfigSetString(fsFd, key, value);
      } catch (e) {
        if (!(e instanceof BpfError) || e.code !== 'EPERM') throw e;
        throw new BpfError(
          `${e.message}: setting ${key} needs CAP_SYS_ADMIN in the initial user namespace; run the sandbox as root on the host`,
          { code: e.code, errno: e.errno, command: e.command, cause: e },
        );
      }
    }
    fsconfigCreate(fsFd);
  } finally {
    closeFd(fsFd);
  }
}

function collect(stream: Readable | null): () => string {
  const chunks: Buffer[] = [];
  stream?.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

/**
 * Follows the child through setup. Resolves with the setup failure, `undefined` once the command runs, or
 * `null` when the child ended without saying either.
 */
function superviseSetup(child: ChildProcess, delegation: Delegation): Promise<BpfError | undefined | null> {
  const channel = child.stdio[3] as Readable & Writable;
  const send = (m: ParentMessage): void => {
    channel.write(encodeMessage(m));
  };
  return new Promise((done) => {
    let settled = false;
    let outcome: BpfError | undefined;
    const settle = (value: BpfError | undefined): void => {
      if (settled) return;
      settled = true;
      outcome = value;
    };
    const fail = (e: unknown): void => {
      settle(e instanceof BpfError ? e : new BpfError(String(e), { code: 'ESANDBOX', command: 'sandbox' }));
      // The child may be waiting for a reply: tell it to give up.
      send({ type: 'abort', message: e instanceof Error ? e.message : String(e) });
    };
    const onMessage = (m: ChildMessage): void => {
      switch (m.type) {
        case 'fsfd':
          configure(child.pid!, m.fd, delegation);
          send({ type: 'configured' });
          break;
        case 'mounted':
        case 'ready':
          settle(undefined);
          break;
        case 'error':
          settle(new BpfError(`sandbox: ${m.message}`, { code: m.code, errno: m.errno, command: m.command }));
          break;
      }
    };
    createInterface({ input: channel }).on('line', (line) => {
      try {
        onMessage(decodeChildMessage(line));
      } catch (e) {
        fail(e);
      }
    });
    // Writing after the child closed its end fails; its exit, not the write, tells how setup went.
    channel.on('error', () => {});
    channel.on('close', () => {
      done(settled ? outcome : null);
    });
  });
}

/**
 * Runs `opts.command` in new user and mount namespaces (the command is root there, mapped to the caller)
 * with a BPF FS mounted at `opts.at` carrying the given delegation. Must be called as root in the initial
 * user namespace when any delegation is asked for. Resolves with how the command ended; rejects with a
 * {@link BpfError} when the sandbox could not be set up (the command then never ran).
 */
export async function runSandbox(opts: SandboxOptions): Promise<SandboxResult> {
  if (!Array.isArray(opts.command) || opts.command.length === 0 || typeof opts.command[0] !== 'string') {
    throw new OptionError('sandbox: no command to run', { option: 'command' });
  }
  const delegation = delegationOf(opts);
  if (opts.mount === false && delegation.length > 0) {
    throw new OptionError('sandbox: delegate options need a BPF FS, but mount is false', { option: 'mount' });
  }
  const base = opts.cwd ?? process.cwd();
  const at =
    opts.at === undefined ? DEFAULT_BPFFS_DIR : isAbsolute(opts.at) ? opts.at : resolve(base, opts.at);
  const pipe = opts.stdio === 'pipe';
  const args = [
    ...(opts.userNamespace === false ? [] : ['--user', '--map-root-user']),
    '--mount',
    '--propagation',
    'private',
    process.execPath,
    ...childCommand(),
    ...childArgs({ mount: opts.mount !== false, at }, opts.command),
  ];
  const child = spawn('unshare', args, {
    stdio: pipe ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['inherit', 'inherit', 'inherit', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? 'ESANDBOX';
      fail(
        new BpfError(`sandbox: cannot start util-linux unshare: ${e.message}`, {
          code,
          errno: Math.abs(e.errno ?? 0),
          command: 'unshare',
          cause: e,
        }),
      );
    });
    child.on('close', (status, signal) => done({ status, signal }));
  });
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      child.kill('SIGTERM');
      timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, opts.timeoutMs);
  }
  try {
    const [setup, end] = await Promise.all([superviseSetup(child, delegation), exited]);
    if (setup === null) {
      const how = end.signal === null ? `with status ${end.status}` : `by ${end.signal}`;
      const output = pipe ? stderr().trim() : '';
      throw new BpfError(
        `sandbox: the child ended ${how} before the sandbox was ready${output === '' ? '' : `:\n${output}`}`,
        {
          code: 'ESANDBOX',
          command: 'sandbox',
        },
      );
    }
    if (setup !== undefined) throw setup;
    return pipe ? { ...end, stdout: stdout(), stderr: stderr() } : end;
  } finally {
    clearTimeout(timer);
  }
}
