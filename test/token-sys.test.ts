import { closeSync, openSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/index.js';
import { BpfError, OptionError } from '../src/errors.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import {
  fsconfigCreate,
  fsconfigSetString,
  fsmount,
  fsopen,
  openMountRoot,
} from '../src/runtime/sys/mount.js';
import {
  ALL_ALLOWED,
  BPF_ATTACH_TYPE_NAMES,
  BPF_CMD_NAMES,
  BPF_MAP_TYPE_NAMES,
  BPF_PROG_TYPE_NAMES,
  formatMask,
  isBpfToken,
  parseTokenFdinfo,
  tokenCreate,
  tokenInfo,
} from '../src/runtime/sys/token.js';
import {
  closeTokenPlan,
  createToken,
  explainMissingDelegation,
  IMPLICIT_TOKEN_PATH,
  resolveTokenOptions,
  type TokenPlan,
  tokenDebugLog,
} from '../src/runtime/token.js';
import { runInSandbox } from './helpers/sandbox.js';

const fdCount = (): number => readdirSync('/proc/self/fd').length;

/** Calls `f` and returns what it threw (fails the test when it throws nothing). */
function thrown(f: () => unknown): BpfError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return e as BpfError;
  }
  throw new Error('expected an exception');
}

const plans: TokenPlan[] = [];
/** resolveTokenOptions, remembering the plan so that its FD (if any) is closed after the test. */
function resolve(...args: Parameters<typeof resolveTokenOptions>): TokenPlan {
  const plan = resolveTokenOptions(...args);
  plans.push(plan);
  return plan;
}
afterEach(() => {
  for (const plan of plans.splice(0)) closeTokenPlan(plan);
});

describe('resolveTokenOptions: modes', () => {
  it('is implicit from /sys/fs/bpf when nothing is set', () => {
    expect(resolve({}, {})).toEqual({ mode: 'implicit', path: '/sys/fs/bpf' });
    expect(IMPLICIT_TOKEN_PATH).toBe('/sys/fs/bpf');
  });

  it('reads LIBBPF_BPF_TOKEN_PATH only when no option is given, and only once', () => {
    const env: NodeJS.ProcessEnv = { LIBBPF_BPF_TOKEN_PATH: '/run/bpf' };
    const plan = resolve({}, env);
    expect(plan).toEqual({ mode: 'path', path: '/run/bpf', source: 'env' });
    env.LIBBPF_BPF_TOKEN_PATH = '/elsewhere';
    expect(plan).toEqual({ mode: 'path', path: '/run/bpf', source: 'env' });
    expect(resolve({}, { LIBBPF_BPF_TOKEN_PATH: '' })).toMatchObject({ mode: 'disabled' });
    expect(resolve({ bpfTokenPath: '/opt' }, env)).toEqual({ mode: 'path', path: '/opt', source: 'option' });
    expect(resolve({ bpfTokenPath: '' }, env)).toMatchObject({
      mode: 'disabled',
      reason: 'bpfTokenPath is ""',
    });
    expect(resolve({ bpfTokenFd: -1 }, env)).toMatchObject({ mode: 'disabled', reason: 'bpfTokenFd is -1' });
  });

  it('defaults env to process.env', () => {
    const saved = process.env.LIBBPF_BPF_TOKEN_PATH;
    process.env.LIBBPF_BPF_TOKEN_PATH = '/from/process/env';
    try {
      expect(resolve({})).toEqual({ mode: 'path', path: '/from/process/env', source: 'env' });
    } finally {
      if (saved === undefined) delete process.env.LIBBPF_BPF_TOKEN_PATH;
      else process.env.LIBBPF_BPF_TOKEN_PATH = saved;
    }
  });

  it('a negative FD with an empty path disables tokens', () => {
    expect(resolve({ bpfTokenFd: -5, bpfTokenPath: '' }, {})).toMatchObject({ mode: 'disabled' });
  });
});

describe('resolveTokenOptions: rules checked at open()', () => {
  it('rejects an FD >= 0 together with any path, empty or not (EINVAL)', () => {
    for (const bpfTokenPath of ['', '/sys/fs/bpf']) {
      const e = thrown(() => resolve({ bpfTokenFd: 0, bpfTokenPath }, {}));
      expect(e).toBeInstanceOf(OptionError);
      expect(e).toMatchObject({ code: 'EINVAL', errno: 22, option: 'bpfTokenFd' });
      expect(e.message).toMatch(/conflicting token options: bpfTokenFd 0 and bpfTokenPath/);
    }
  });

  it('rejects a negative FD together with a non-empty path (EINVAL)', () => {
    const e = thrown(() => resolve({ bpfTokenFd: -1, bpfTokenPath: '/sys/fs/bpf' }, {}));
    expect(e).toMatchObject({ code: 'EINVAL', option: 'bpfTokenFd' });
    expect(e.message).toMatch(/bpfTokenFd -1 disables tokens but bpfTokenPath "\/sys\/fs\/bpf" asks for one/);
  });

  it('rejects paths of 4096 UTF-8 bytes or more (ENAMETOOLONG), from the option and from the environment', () => {
    const ok = `/${'a'.repeat(4094)}`;
    expect(resolve({ bpfTokenPath: ok }, {})).toMatchObject({ mode: 'path' });
    const long = `/${'a'.repeat(4095)}`;
    // 2048 characters but 4096 bytes: the limit is in bytes.
    const wide = 'é'.repeat(2048);
    for (const [opts, env, option] of [
      [{ bpfTokenPath: long }, {}, 'bpfTokenPath'],
      [{ bpfTokenPath: wide }, {}, 'bpfTokenPath'],
      [{}, { LIBBPF_BPF_TOKEN_PATH: long }, 'LIBBPF_BPF_TOKEN_PATH'],
    ] as const) {
      const e = thrown(() => resolve(opts, env));
      expect(e).toMatchObject({ code: 'ENAMETOOLONG', errno: 36, option });
      expect(e.message).toMatch(/4096 bytes long; a path must be shorter than 4096 bytes/);
    }
  });

  it('rejects values of the wrong type or with a NUL byte', () => {
    expect(thrown(() => resolve({ bpfTokenFd: 1.5 }, {}))).toMatchObject({
      code: 'EINVAL',
      option: 'bpfTokenFd',
    });
    expect(thrown(() => resolve({ bpfTokenFd: Number.NaN }, {}))).toMatchObject({ option: 'bpfTokenFd' });
    const notString = { bpfTokenPath: 3 } as unknown as { bpfTokenPath: string };
    expect(thrown(() => resolve(notString, {}))).toMatchObject({ code: 'EINVAL', option: 'bpfTokenPath' });
    expect(thrown(() => resolve({ bpfTokenPath: '/a\0b' }, {}))).toMatchObject({ code: 'EINVAL' });
  });

  it('rejects an explicit FD that is not open (EBADF)', () => {
    for (const bpfTokenFd of [99_999, 2 ** 40]) {
      const e = thrown(() => resolve({ bpfTokenFd }, {}));
      expect(e).toMatchObject({ code: 'EBADF', errno: 9, option: 'bpfTokenFd' });
      expect(e.message).toBe(`bpfTokenFd ${bpfTokenFd} is not an open file descriptor`);
    }
  });

  it('rejects an open FD that is not a BPF token, says what it is, and keeps no duplicate', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const before = fdCount();
      const e = thrown(() => resolve({ bpfTokenFd: fd }, {}));
      expect(e).toMatchObject({ code: 'EINVAL', option: 'bpfTokenFd' });
      expect(e.message).toBe(
        `bpfTokenFd ${fd} is open but is not a BPF token (it is /dev/null); pass an FD made by BPF_TOKEN_CREATE, or use bpfTokenPath`,
      );
      expect(fdCount()).toBe(before);
    } finally {
      closeSync(fd);
    }
    expect(thrown(() => resolve({ bpfTokenFd: 0 }, {})).message).toMatch(
      /bpfTokenFd 0 is open but is not a BPF token/,
    );
  });
});

describe('token syscalls', () => {
  it('isBpfToken and tokenInfo tell a token from other FDs', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect(isBpfToken(fd)).toBe(false);
      expect(thrown(() => tokenInfo(fd))).toMatchObject({
        code: 'EINVAL',
        message: 'fd ' + fd + ' is not a BPF token (it is /dev/null)',
      });
      expect(explainMissingDelegation(fd, { cmd: 0 })).toBeUndefined();
    } finally {
      closeSync(fd);
    }
    expect(isBpfToken(99_999)).toBe(false);
    expect(thrown(() => tokenInfo(99_999))).toMatchObject({ code: 'EBADF' });
  });

  it('parses token fdinfo lines, hex masks and "any"', () => {
    const text =
      'pos:\t0\nflags:\t02000002\nallowed_cmds:\t0x21\nallowed_maps:\tany\nallowed_progs:\t0x2\nallowed_attachs:\t0x0\n';
    expect(parseTokenFdinfo(text)).toEqual({
      allowedCmds: 0x21n,
      allowedMaps: ALL_ALLOWED,
      allowedProgs: 2n,
      allowedAttachs: 0n,
    });
    expect(parseTokenFdinfo('pos:\t0\nmap_type:\t1\n')).toBeUndefined();
    expect(parseTokenFdinfo('allowed_cmds:\t0x1\nallowed_maps:\t0x1\n')).toBeUndefined();
  });

  it('formats masks in the delegate_* syntax', () => {
    expect(formatMask(0x21n, BPF_CMD_NAMES)).toBe('map_create:prog_load');
    expect(formatMask(ALL_ALLOWED, BPF_PROG_TYPE_NAMES)).toBe('any');
    expect(formatMask(0n, BPF_MAP_TYPE_NAMES)).toBe('none');
    expect(formatMask(1n << 63n, BPF_ATTACH_TYPE_NAMES)).toBe('63');
  });

  it('the name tables match this kernel BTF, value for value', () => {
    const btf = loadKernelBtf();
    const tables = [
      ['bpf_cmd', 'BPF_', BPF_CMD_NAMES],
      ['bpf_map_type', 'BPF_MAP_TYPE_', BPF_MAP_TYPE_NAMES],
      ['bpf_prog_type', 'BPF_PROG_TYPE_', BPF_PROG_TYPE_NAMES],
      ['bpf_attach_type', 'BPF_', BPF_ATTACH_TYPE_NAMES],
    ] as const;
    for (const [enumName, prefix, table] of tables) {
      const type = btf.findByName(enumName, 'enum');
      expect(type, enumName).toBeDefined();
      const byValue = new Map<number, string[]>();
      let max = -1;
      for (const { name, value } of type!.values) {
        if (name.startsWith('__MAX_')) {
          max = value;
          continue;
        }
        expect(name.startsWith(prefix), name).toBe(true);
        const short = name.slice(prefix.length).toLowerCase();
        byValue.set(value, [...(byValue.get(value) ?? []), short]);
      }
      expect(table.length, `${enumName} has ${max} values`).toBe(max);
      for (let v = 0; v < max; v++) expect(byValue.get(v), `${enumName} ${v}`).toContain(table[v]);
    }
    const info = btf.findByName('bpf_token_info', 'struct');
    expect(info?.size).toBe(32);
    expect(info?.members.map((m) => [m.name, m.bitOffset])).toEqual([
      ['allowed_cmds', 0],
      ['allowed_maps', 64],
      ['allowed_progs', 128],
      ['allowed_attachs', 192],
    ]);
  });
});

describe('tokens in the initial user namespace', () => {
  it('BPF_TOKEN_CREATE on a delegated BPF FS fails with EOPNOTSUPP; an O_PATH mount FD with EBADF', () => {
    const before = fdCount();
    const fsFd = fsopen('bpf');
    let mountFd = -1;
    try {
      fsconfigSetString(fsFd, 'delegate_cmds', 'any');
      expect(thrown(() => fsconfigSetString(fsFd, 'delegate_maps', 'no_such_map'))).toMatchObject({
        code: 'EINVAL',
        command: 'fsconfig',
      });
      fsconfigCreate(fsFd);
      mountFd = fsmount(fsFd);
      expect(thrown(() => tokenCreate(mountFd))).toMatchObject({
        code: 'EBADF',
        command: 'BPF_TOKEN_CREATE',
      });
      const root = openMountRoot(mountFd);
      try {
        expect(thrown(() => tokenCreate(root))).toMatchObject({
          code: 'EOPNOTSUPP',
          command: 'BPF_TOKEN_CREATE',
        });
      } finally {
        closeFd(root);
      }
      // A mandatory path fails, explained; the detached mount is reachable through /proc/self/fd.
      const plan = resolve({ bpfTokenPath: `/proc/self/fd/${mountFd}` }, {});
      const e = thrown(() => createToken(plan, undefined));
      expect(e).toMatchObject({ code: 'EOPNOTSUPP', errno: 95, command: 'BPF_TOKEN_CREATE' });
      expect(e.message).toMatch(/failed with EOPNOTSUPP: this process runs in the initial user namespace/);
      expect(e.message).toMatch(/mandatory because of bpfTokenPath/);
    } finally {
      if (mountFd >= 0) closeFd(mountFd);
      closeFd(fsFd);
    }
    expect(fdCount()).toBe(before);
  });

  it('an explicit path that is not a BPF FS or does not exist fails, explained', () => {
    const before = fdCount();
    const notBpf = thrown(() => createToken(resolve({ bpfTokenPath: '/proc' }, {}), undefined));
    expect(notBpf).toMatchObject({ code: 'EINVAL', command: 'BPF_TOKEN_CREATE' });
    expect(notBpf.message).toMatch(/\/proc is not a BPF FS \(it is on proc, mounted at \/proc\)/);
    const missing = thrown(() =>
      createToken(resolve({}, { LIBBPF_BPF_TOKEN_PATH: '/no/such/dir' }), undefined),
    );
    expect(missing).toMatchObject({ code: 'ENOENT', command: 'BPF_TOKEN_CREATE' });
    expect(missing.message).toMatch(/opening it failed with ENOENT: there is no such directory/);
    expect(missing.message).toMatch(/LIBBPF_BPF_TOKEN_PATH=\/no\/such\/dir/);
    expect(fdCount()).toBe(before);
  });

  it('implicit mode goes on without a token and keeps the reason; the debug log says what happened', () => {
    const lines: string[] = [];
    const log = (line: string): void => {
      lines.push(line);
    };
    const result = createToken(resolve({}, {}, log), log);
    expect(result).toMatchObject({ kind: 'none', fd: -1, mode: 'implicit' });
    // Nothing or a BPF FS is mounted at /sys/fs/bpf on the host: either way no token.
    expect(result.kind === 'none' && result.reason).toMatch(
      /^BPF_TOKEN_CREATE from \/sys\/fs\/bpf failed with E/,
    );
    expect(lines[0]).toBe('plan: implicit: a token from /sys/fs/bpf if it has delegation, else none');
    expect(lines[1]).toMatch(/^implicit mode: .*; loading without a token$/);
    expect(createToken(resolve({ bpfTokenFd: -1 }, {}), log)).toEqual({
      kind: 'none',
      fd: -1,
      mode: 'disabled',
      reason: 'bpfTokenFd is -1',
    });
    expect(lines.at(-1)).toBe('no token: bpfTokenFd is -1');
    expect(tokenDebugLog({ BPF_SKEL_DEBUG: '1' })).toBeTypeOf('function');
    expect(tokenDebugLog({})).toBeUndefined();
  });

  it('with a delegated BPF FS at /sys/fs/bpf but no user namespace, implicit mode fails with EOPNOTSUPP', async () => {
    const out = await runInSandbox<{ kind: string; code: string; reason: string }>(
      {
        source: `
import { createToken, resolveTokenOptions } from '../../src/runtime/token.js';
const r: any = createToken(resolveTokenOptions({}, {}));
console.log(JSON.stringify({ kind: r.kind, code: r.error?.code, reason: r.reason }));
`,
      },
      {
        userNamespace: false,
        delegateCmds: 'any',
        delegateMaps: 'any',
        delegateProgs: 'any',
        delegateAttachs: 'any',
      },
    );
    expect(out).toMatchObject({ kind: 'none', code: 'EOPNOTSUPP' });
    expect(out.reason).toMatch(/runs in the initial user namespace, where tokens do not exist/);
  });
});
