import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import {
  BPF_ATTACH_TYPE_NAMES,
  BPF_CMD_NAMES,
  BPF_MAP_TYPE_NAMES,
  BPF_PROG_TYPE_NAMES,
} from '../src/runtime/sys/token.js';
import {
  SANDBOX_HELP,
  sandboxCliOptions,
  sandboxExitCode,
  sandboxOptionsFromCli,
} from '../src/sandbox/cli.js';
import { runSandbox } from '../src/sandbox/run.js';
import { runInSandbox } from './helpers/sandbox.js';

/** Mask with the bits of `names` (looked up in `table`) set. */
function maskOf(table: readonly string[], ...names: string[]): string {
  let m = 0n;
  for (const n of names) {
    const i = table.indexOf(n);
    if (i < 0) throw new Error(`no ${n}`);
    m |= 1n << BigInt(i);
  }
  return m.toString();
}

/**
 * Shared start of every script: raw MAP_CREATE / PROG_LOAD with and without a token (attr layouts from
 * this kernel's BTF: map_flags @16, map_token_fd @76; prog_flags @44, expected_attach_type @68,
 * prog_token_fd @144), an FD count, and errors as plain data.
 */
const PRELUDE = `
import { readdirSync, readFileSync } from 'node:fs';
import { BpfCmd, bpfRaw } from '../../src/runtime/sys/bpf.js';
import { addressOf } from '../../src/runtime/sys/libc.js';
import { closeFd, openDir as openDirectory } from '../../src/runtime/sys/fd.js';
import { isBpfToken, parseTokenFdinfo, tokenCreate, tokenInfo } from '../../src/runtime/sys/token.js';
import { closeTokenPlan, createToken, explainMissingDelegation, resolveTokenOptions } from '../../src/runtime/token.js';

const BPF_F_TOKEN_FD = 0x10000;
// FDs as a set: the fresh process may close descriptors of its own start-up meanwhile, so a leak is an FD
// open at the end that was not open at the start, not a change in the count.
const openFds = () => new Set(readdirSync('/proc/self/fd'));
const newFds = (before: Set<string>) => [...openFds()].filter((fd) => !before.has(fd)).length;
function mapCreate(type: number, token = -1): number {
  const attr = Buffer.alloc(80);
  const ringbuf = type === 27;
  attr.writeUInt32LE(type, 0);
  attr.writeUInt32LE(ringbuf ? 0 : 4, 4);
  attr.writeUInt32LE(ringbuf ? 0 : 8, 8);
  attr.writeUInt32LE(ringbuf ? 4096 : 1, 12);
  if (token >= 0) {
    attr.writeUInt32LE(BPF_F_TOKEN_FD, 16);
    attr.writeInt32LE(token, 76);
  }
  return bpfRaw(BpfCmd.MAP_CREATE, attr, 80);
}
const insns = Buffer.from('b7000000000000009500000000000000', 'hex');
const license = Buffer.from('GPL\\0');
function progLoad(type: number, token = -1): number {
  const attr = Buffer.alloc(152);
  attr.writeUInt32LE(type, 0);
  attr.writeUInt32LE(2, 4);
  attr.writeBigUInt64LE(addressOf(insns), 8);
  attr.writeBigUInt64LE(addressOf(license), 16);
  if (token >= 0) {
    attr.writeUInt32LE(BPF_F_TOKEN_FD, 44);
    attr.writeInt32LE(token, 144);
  }
  return bpfRaw(BpfCmd.PROG_LOAD, attr, 152);
}
/** A result FD becomes true after closing it; -errno stays a number. */
const ok = (r: number) => { if (r >= 0) { closeFd(r); return true; } return r; };
const failure = (f: () => unknown) => {
  try { f(); return null; } catch (e: any) { return { name: e.name, code: e.code, command: e.command, option: e.option, message: e.message }; }
};
const masks = (i: any) => ({ cmds: String(i.allowedCmds), maps: String(i.allowedMaps), progs: String(i.allowedProgs), attachs: String(i.allowedAttachs) });
`;

const EPERM = -1;

describe('sandbox with a delegated BPF FS at /sys/fs/bpf', () => {
  it('makes tokens that allow exactly the delegated commands and types, and leaks no FD', async () => {
    const out = await runInSandbox<Record<string, unknown>>(
      {
        source: `${PRELUDE}
const before = openFds();
const r: Record<string, unknown> = {};
r.mapWithoutToken = ok(mapCreate(1));
r.progWithoutToken = ok(progLoad(1));

const implicit = createToken(resolveTokenOptions({}, {}));
r.implicit = { kind: implicit.kind, mode: implicit.mode, fdAtLeast3: implicit.fd >= 3 };
const t = implicit.fd;
r.mapWithToken = ok(mapCreate(1, t));
r.arrayWithToken = ok(mapCreate(2, t));
r.progWithToken = ok(progLoad(1, t));
r.ringbufWithToken = ok(mapCreate(27, t));
r.explainRingbuf = explainMissingDelegation(t, { cmd: BpfCmd.MAP_CREATE, mapType: 27 });
r.tracepointWithToken = ok(progLoad(5, t));
r.explainTracepoint = explainMissingDelegation(t, { cmd: BpfCmd.PROG_LOAD, progType: 5 });
r.explainAllowed = explainMissingDelegation(t, { cmd: BpfCmd.MAP_CREATE, mapType: 1 }) ?? null;
r.explainBtf = explainMissingDelegation(t, { cmd: BpfCmd.BTF_LOAD });

const info = tokenInfo(t);
r.infoSource = info.source;
r.info = masks(info);
r.fdinfo = masks(parseTokenFdinfo(readFileSync('/proc/self/fdinfo/' + t, 'utf8')));
const mapFd = mapCreate(1, t);
r.isToken = { token: isBpfToken(t), map: isBpfToken(mapFd), stdin: isBpfToken(0) };
r.tokenInfoOnMap = failure(() => tokenInfo(mapFd));
closeFd(mapFd);
closeFd(t);

const dir = openDirectory('/sys/fs/bpf');
const callers = tokenCreate(dir);
closeFd(dir);
const plan: any = resolveTokenOptions({ bpfTokenFd: callers }, {});
closeFd(callers);
r.fdPlan = { mode: plan.mode, differs: plan.fd !== callers, atLeast3: plan.fd >= 3, stillToken: isBpfToken(plan.fd) };
const fromFd = createToken(plan);
r.fdResult = { kind: fromFd.kind, mode: fromFd.mode, differs: fromFd.fd !== plan.fd };
r.mapWithExplicitFd = ok(mapCreate(1, fromFd.fd));
closeFd(fromFd.fd);
closeTokenPlan(plan);

const fromEnv = createToken(resolveTokenOptions({}, { LIBBPF_BPF_TOKEN_PATH: '/sys/fs/bpf' }));
r.fromEnv = { kind: fromEnv.kind, mode: fromEnv.mode };
r.mapWithEnvToken = ok(mapCreate(1, fromEnv.fd));
closeFd(fromEnv.fd);
const overridden = createToken(resolveTokenOptions({ bpfTokenPath: '' }, { LIBBPF_BPF_TOKEN_PATH: '/sys/fs/bpf' }));
r.overridden = { kind: overridden.kind, mode: overridden.mode, fd: overridden.fd };
const fromPath = createToken(resolveTokenOptions({ bpfTokenPath: '/sys/fs/bpf' }, {}));
r.fromPath = { kind: fromPath.kind, mode: fromPath.mode };
closeFd(fromPath.fd);
r.notBpffs = failure(() => createToken(resolveTokenOptions({ bpfTokenPath: '/tmp' }, {})));
const procDir = openDirectory('/proc');
r.notBpffsRaw = failure(() => tokenCreate(procDir));
closeFd(procDir);
r.fdLeak = newFds(before);
console.log(JSON.stringify(r));
`,
      },
      {
        delegateCmds: 'map_create:prog_load',
        delegateMaps: 'hash:array',
        delegateProgs: 'socket_filter',
        delegateAttachs: 'cgroup_inet_ingress',
      },
    );
    expect(out.mapWithoutToken).toBe(EPERM);
    expect(out.progWithoutToken).toBe(EPERM);
    expect(out.implicit).toEqual({ kind: 'token', mode: 'implicit', fdAtLeast3: true });
    expect(out.mapWithToken).toBe(true);
    expect(out.arrayWithToken).toBe(true);
    expect(out.progWithToken).toBe(true);
    expect(out.ringbufWithToken).toBe(EPERM);
    expect(out.explainRingbuf).toMatch(/map type 'ringbuf' \(delegate_maps\)/);
    expect(out.explainRingbuf).toMatch(/delegate_maps=hash:array/);
    expect(out.tracepointWithToken).toBe(EPERM);
    expect(out.explainTracepoint).toMatch(/program type 'tracepoint' \(delegate_progs\)/);
    expect(out.explainTracepoint).not.toMatch(/attach type/);
    expect(out.explainAllowed).toBeNull();
    expect(out.explainBtf).toMatch(/command 'btf_load' \(delegate_cmds\)/);
    const expected = {
      cmds: maskOf(BPF_CMD_NAMES, 'map_create', 'prog_load'),
      maps: maskOf(BPF_MAP_TYPE_NAMES, 'hash', 'array'),
      progs: maskOf(BPF_PROG_TYPE_NAMES, 'socket_filter'),
      attachs: maskOf(BPF_ATTACH_TYPE_NAMES, 'cgroup_inet_ingress'),
    };
    expect(out.infoSource).toBe('info');
    expect(out.info).toEqual(expected);
    expect(out.fdinfo).toEqual(expected);
    expect(out.isToken).toEqual({ token: true, map: false, stdin: false });
    expect(out.tokenInfoOnMap).toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/not a BPF token.*bpf-map/),
    });
    expect(out.fdPlan).toEqual({ mode: 'fd', differs: true, atLeast3: true, stillToken: true });
    expect(out.fdResult).toEqual({ kind: 'token', mode: 'fd', differs: true });
    expect(out.mapWithExplicitFd).toBe(true);
    expect(out.fromEnv).toEqual({ kind: 'token', mode: 'path' });
    expect(out.mapWithEnvToken).toBe(true);
    expect(out.overridden).toEqual({ kind: 'none', mode: 'disabled', fd: -1 });
    expect(out.fromPath).toEqual({ kind: 'token', mode: 'path' });
    expect(out.notBpffs).toMatchObject({
      code: 'EINVAL',
      command: 'BPF_TOKEN_CREATE',
      message: expect.stringMatching(/\/tmp is not a BPF FS/),
    });
    expect(out.notBpffsRaw).toMatchObject({ code: 'EINVAL', command: 'BPF_TOKEN_CREATE' });
    expect(out.fdLeak).toBe(0);
  });
});

describe('sandbox with a BPF FS without delegation', () => {
  it('token creation fails with ENOENT: implicit mode goes on without a token, a path is fatal', async () => {
    const out = await runInSandbox<Record<string, unknown>>(
      {
        source: `${PRELUDE}
const before = openFds();
const dir = openDirectory('/sys/fs/bpf');
const r: Record<string, unknown> = {};
r.raw = failure(() => tokenCreate(dir));
closeFd(dir);
const implicit: any = createToken(resolveTokenOptions({}, {}));
r.implicit = { kind: implicit.kind, mode: implicit.mode, fd: implicit.fd, reason: implicit.reason, code: implicit.error?.code };
r.path = failure(() => createToken(resolveTokenOptions({}, { LIBBPF_BPF_TOKEN_PATH: '/sys/fs/bpf' })));
r.mapWithoutToken = ok(mapCreate(1));
r.fdLeak = newFds(before);
console.log(JSON.stringify(r));
`,
      },
      {},
    );
    expect(out.raw).toMatchObject({ code: 'ENOENT', command: 'BPF_TOKEN_CREATE' });
    expect(out.implicit).toMatchObject({ kind: 'none', mode: 'implicit', fd: -1, code: 'ENOENT' });
    expect((out.implicit as { reason: string }).reason).toMatch(/no delegate_\* mount options/);
    expect(out.path).toMatchObject({ name: 'BpfError', code: 'ENOENT', command: 'BPF_TOKEN_CREATE' });
    expect((out.path as { message: string }).message).toMatch(
      /delegate_\*.*LIBBPF_BPF_TOKEN_PATH=\/sys\/fs\/bpf/s,
    );
    expect(out.mapWithoutToken).toBe(EPERM);
    expect(out.fdLeak).toBe(0);
  });
});

describe('sandbox with partial delegation at a custom directory', () => {
  it('names the missing delegation: attach type 0 and an undelegated command', async () => {
    const at = join(tmpdir(), `bpf-skel-sandbox-${process.pid}`);
    try {
      const out = await runInSandbox<Record<string, unknown>>(
        {
          source: `${PRELUDE}
const at = ${JSON.stringify(at)};
const r: Record<string, unknown> = {};
const implicit: any = createToken(resolveTokenOptions({}, {}));
r.implicit = { kind: implicit.kind, code: implicit.error?.code, reason: implicit.reason };
const res = createToken(resolveTokenOptions({ bpfTokenPath: at }, {}));
r.kind = res.kind;
r.info = masks(tokenInfo(res.fd));
r.prog = ok(progLoad(1, res.fd));
r.explainProg = explainMissingDelegation(res.fd, { cmd: BpfCmd.PROG_LOAD, progType: 1, attachType: 0 });
r.map = ok(mapCreate(1, res.fd));
r.explainMap = explainMissingDelegation(res.fd, { cmd: BpfCmd.MAP_CREATE, mapType: 1 });
closeFd(res.fd);
r.explainClosed = explainMissingDelegation(res.fd, { cmd: BpfCmd.MAP_CREATE }) ?? null;
console.log(JSON.stringify(r));
`,
        },
        { at, delegateCmds: 'prog_load', delegateProgs: 'socket_filter' },
      );
      expect(out.implicit).toMatchObject({ kind: 'none', code: 'EINVAL' });
      expect((out.implicit as { reason: string }).reason).toMatch(
        /\/sys\/fs\/bpf is not a BPF FS \(it is on sysfs/,
      );
      expect(out.kind).toBe('token');
      expect(out.info).toEqual({
        cmds: maskOf(BPF_CMD_NAMES, 'prog_load'),
        maps: '0',
        progs: '2',
        attachs: '0',
      });
      expect(out.prog).toBe(EPERM);
      expect(out.explainProg).toMatch(/expected attach type 0 'cgroup_inet_ingress' \(delegate_attachs\)/);
      expect(out.explainProg).not.toMatch(/program type '/);
      expect(out.map).toBe(EPERM);
      expect(out.explainMap).toMatch(
        /command 'map_create' \(delegate_cmds\); map type 'hash' \(delegate_maps\)/,
      );
      expect(out.explainClosed).toBeNull();
    } finally {
      rmSync(at, { recursive: true, force: true });
    }
  });
});

describe('runSandbox', () => {
  it('passes the exit status, env and cwd through and captures output', async () => {
    const r = await runSandbox({
      command: ['sh', '-c', 'echo "$GREETING from $(pwd) as $(id -u)"; echo oops >&2; exit 7'],
      env: { ...process.env, GREETING: 'hello' },
      cwd: '/tmp',
      stdio: 'pipe',
    });
    expect(r).toEqual({ status: 7, signal: null, stdout: 'hello from /tmp as 0\n', stderr: 'oops\n' });
  });

  it('ends the way the command ended when a signal killed it', async () => {
    const r = await runSandbox({ command: ['sh', '-c', 'kill -TERM $$'], stdio: 'pipe', mount: false });
    expect(r).toMatchObject({ status: null, signal: 'SIGTERM' });
  });

  it('mounts the BPF FS with the delegation asked for, or none at all', async () => {
    // Only the sandbox's own mount point: bpffs mounts elsewhere (other tests' temporary ones) are inherited.
    const grep = ['sh', '-c', "grep ' /sys/fs/bpf .* - bpf ' /proc/self/mountinfo || echo none"];
    const delegated = await runSandbox({
      command: grep,
      stdio: 'pipe',
      delegateCmds: 'any',
      delegateMaps: '6',
    });
    expect(delegated.stdout).toMatch(
      /^\S+ \S+ \S+ \/ \/sys\/fs\/bpf .* - bpf .*delegate_cmds=any,delegate_maps=hash:array$/m,
    );
    const plain = await runSandbox({ command: grep, stdio: 'pipe' });
    expect(plain.stdout).toMatch(/ \/sys\/fs\/bpf .* - bpf \S+ rw\S*$/m);
    expect(plain.stdout).not.toMatch(/delegate/);
    const none = await runSandbox({ command: grep, stdio: 'pipe', mount: false });
    expect(none.stdout).toBe('none\n');
  });

  it('gives the command no FD of its own beyond stdio', async () => {
    const r = await runSandbox({
      command: ['sh', '-c', 'ls /proc/$$/fd'],
      stdio: 'pipe',
      delegateCmds: 'any',
    });
    const extra = r.stdout!.split('\n').filter((s) => /^\d+$/.test(s) && Number(s) > 2);
    // FD 3 is the setup channel in the child; anything else beyond stdio must come from this process (which
    // may itself have inherited FDs), not from the sandbox.
    expect(extra).not.toContain('3');
    const own = new Set(readdirSync('/proc/self/fd'));
    for (const fd of extra) expect(own.has(fd), `fd ${fd} not inherited from the test process`).toBe(true);
  });

  it('reports a command that cannot be run with status 127', async () => {
    const r = await runSandbox({ command: ['/nonexistent/cmd'], stdio: 'pipe', mount: false });
    expect(r.status).toBe(127);
    expect(r.stderr).toMatch(/cannot run "\/nonexistent\/cmd": ENOENT/);
  });

  it('rejects bad delegation values with the kernel errno before the command runs', async () => {
    const err = await runSandbox({
      command: ['sh', '-c', 'echo ran'],
      stdio: 'pipe',
      delegateProgs: 'no_such_type',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'EINVAL', command: 'fsconfig' });
    expect((err as Error).message).toMatch(/delegate_progs="no_such_type"/);
  });

  it('rejects setup failures with the errno of the step that failed, and ends a command that hangs', async () => {
    const opts = { command: ['true'], stdio: 'pipe' } as const;
    await expect(runSandbox({ ...opts, at: '/proc/bpf-skel-cannot-be' })).rejects.toMatchObject({
      code: 'ENOENT',
      errno: 2,
      command: 'mkdir',
    });
    await expect(runSandbox({ ...opts, env: { PATH: '/nonexistent' } })).rejects.toMatchObject({
      code: 'ENOENT',
      errno: 2,
      command: 'unshare',
    });
    // Long enough for the sandbox to be set up on a loaded machine, so the timeout hits the command itself.
    const hung = await runSandbox({ command: ['sleep', '60'], stdio: 'pipe', mount: false, timeoutMs: 4000 });
    expect(hung).toMatchObject({ status: null, signal: 'SIGTERM' });
  });

  it('rejects an empty command and empty delegation values', async () => {
    await expect(runSandbox({ command: [] })).rejects.toMatchObject({ code: 'EINVAL', option: 'command' });
    await expect(runSandbox({ command: ['true'], delegateCmds: '' })).rejects.toMatchObject({
      code: 'EINVAL',
      option: 'delegateCmds',
    });
    await expect(runSandbox({ command: ['true'], mount: false, delegateCmds: 'any' })).rejects.toMatchObject({
      code: 'EINVAL',
      option: 'mount',
    });
  });
});

describe('sandbox command line', () => {
  it('maps parsed arguments to options; --delegate-all fills only what is not given', () => {
    const opts = sandboxOptionsFromCli(
      { delegateAll: true, delegateMaps: 'hash', at: '/run/b', mount: true },
      ['x'],
    );
    expect(opts).toEqual({
      delegateCmds: 'any',
      delegateMaps: 'hash',
      delegateProgs: 'any',
      delegateAttachs: 'any',
      at: '/run/b',
      mount: true,
      userNamespace: undefined,
      command: ['x'],
      stdio: 'inherit',
    });
    expect(sandboxOptionsFromCli({}, ['x']).delegateCmds).toBeUndefined();
    expect(Object.keys(sandboxCliOptions)).toEqual(expect.arrayContaining(['delegate-cmds', 'at', 'mount']));
    expect(SANDBOX_HELP).toMatch(/--delegate-attachs +expected attach types/);
  });

  it('exits like a shell: the status, or 128 + the signal number', () => {
    expect(sandboxExitCode({ status: 3, signal: null })).toBe(3);
    expect(sandboxExitCode({ status: null, signal: 'SIGTERM' })).toBe(143);
  });
});
