/**
 * The sandbox child program. It starts already inside new user and mount namespaces (util-linux `unshare`
 * made them before Node started, because a multithreaded process cannot enter a new user namespace), makes
 * the BPF FS with the parent's help, then runs the user's command with the inherited stdio and exits with
 * its status.
 *
 * Run by {@link runSandbox} as `node child.js <config JSON> -- <command...>` with the channel on FD 3; from
 * the sources it runs through the tsx loader.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { BpfError } from '../errors.js';
import { closeFd } from '../runtime/sys/fd.js';
import { fsmount, fsopen, moveMountTo } from '../runtime/sys/mount.js';
import {
  CHANNEL_FD,
  type ChildConfig,
  type ChildMessage,
  decodeParentMessage,
  encodeMessage,
  type FailureMessage,
  parseChildArgs,
  SETUP_FAILED_STATUS,
} from './protocol.js';

type LineReader = AsyncIterator<string>;

function failure(e: unknown): FailureMessage {
  if (e instanceof BpfError) {
    return { type: 'error', message: e.message, code: e.code, errno: e.errno, command: e.command };
  }
  const message = e instanceof Error ? e.message : String(e);
  // Node's own errors (mkdir) carry the errno negated and its name.
  const { code, errno, syscall } = e as Partial<NodeJS.ErrnoException>;
  if (typeof code === 'string' && typeof errno === 'number') {
    return { type: 'error', message, code, errno: Math.abs(errno), command: syscall ?? 'sandbox child' };
  }
  return { type: 'error', message, code: 'ESANDBOX', errno: 0, command: 'sandbox child' };
}

/**
 * `mkdir -p`, one component at a time: Node's recursive mkdir loops forever where mkdir() fails with ENOENT
 * under an existing directory (procfs, sysfs).
 */
function makeDirectories(path: string): void {
  let prefix = '';
  for (const part of path.split('/').filter((p) => p !== '')) {
    prefix += `/${part}`;
    try {
      mkdirSync(prefix);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

async function nextLine(lines: LineReader): Promise<string> {
  const next = await lines.next();
  if (next.done === true) throw new Error('sandbox child: the parent closed the channel');
  return next.value;
}

/**
 * fsopen() in this (the child's) user namespace, so the superblock belongs to it; the parent, root in the
 * initial namespace, sets the delegation and creates it; then mount it here.
 */
async function makeBpffs(at: string, send: (m: ChildMessage) => void, lines: LineReader): Promise<void> {
  const fsFd = fsopen('bpf');
  try {
    send({ type: 'fsfd', fd: fsFd });
    const reply = decodeParentMessage(await nextLine(lines));
    if (reply.type === 'abort') throw new Error(`sandbox child: the parent gave up: ${reply.message}`);
    makeDirectories(at);
    const mountFd = fsmount(fsFd);
    try {
      moveMountTo(mountFd, at);
    } finally {
      closeFd(mountFd);
    }
  } finally {
    closeFd(fsFd);
  }
  send({ type: 'mounted', at });
}

async function setUp(config: ChildConfig): Promise<void> {
  const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
  const lines = createInterface({ input: channel })[Symbol.asyncIterator]();
  const send = (m: ChildMessage): void => {
    channel.write(encodeMessage(m));
  };
  let failed = false;
  try {
    if (config.mount) await makeBpffs(config.at, send, lines);
    else send({ type: 'ready' });
  } catch (e) {
    send(failure(e));
    failed = true;
  }
  // The channel must be closed before the command starts, or the command would inherit it.
  await new Promise<void>((resolve) => {
    channel.once('close', () => resolve());
    channel.end();
  });
  if (failed) process.exit(SETUP_FAILED_STATUS);
}

/** Runs the command, passes on the signals meant for it, and ends this process the way the command ended. */
function runCommand(command: readonly string[]): void {
  const [file, ...args] = command;
  const child = spawn(file, args, { stdio: 'inherit' });
  // SIGINT and SIGQUIT from a terminal reach the whole foreground process group, the command included:
  // ignore them here. SIGTERM and SIGHUP sent to this process alone are passed on.
  const ignore = (): void => {};
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  child.on('error', (e: NodeJS.ErrnoException) => {
    process.stderr.write(`bpf-skel sandbox: cannot run ${JSON.stringify(file)}: ${e.code ?? e.message}\n`);
    process.exit(e.code === 'ENOENT' ? 127 : 126);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    for (const s of ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // Signals that Node ignores or handles itself (SIGPIPE, ...) do not end it: fall back to the shell's
    // convention for "killed by a signal".
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 200);
  });
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseChildArgs>;
  try {
    parsed = parseChildArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(SETUP_FAILED_STATUS);
  }
  await setUp(parsed.config);
  runCommand(parsed.command);
}

await main();
