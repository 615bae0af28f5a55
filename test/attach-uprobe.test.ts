/**
 * Uprobes on the real kernel, on a C binary built with gcc at test time: function offsets from ELF
 * symbols (PIE and fixed-address executables, a shared library found by name), entry and return probes,
 * cookies, the pid filter, uprobe.multi by pattern, auto-attach from a section name, and the errors for
 * missing binaries and functions.
 */
import { execFileSync } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import {
  attachUprobe,
  attachUprobeMulti,
  autoAttach,
  functionOffset,
  readNativeFunctions,
  resolveBinaryPath,
} from '../src/runtime/attach/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { getS64, getU64 } from './bins/globals.js';
import { buildTarget, removeTargets, runTarget, startTarget } from './bins/target.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const FIX = new URL('./fixtures/', import.meta.url).pathname;
const canRun = requireKernel('bpf() as root', isRoot(), 'uprobes need root');
const hasGcc = requireKernel(
  'gcc',
  (() => {
    try {
      execFileSync('gcc', ['--version'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  })(),
  'gcc builds the uprobe target',
);

/** Sum the target prints for `n` calls: sum of (2i + 1) for i < n, plus bpfskel_other()'s 7. */
const expectedSum = (n: number): string => String(n * n + 7);

describe.runIf(canRun && hasGcc)('uprobes', () => {
  let pie = '';
  let fixed = '';
  beforeAll(() => {
    pie = buildTarget({ pie: true });
    fixed = buildTarget({ pie: false });
  });
  afterAll(() => removeTargets());

  function loaded(): BpfObject {
    const obj = BpfObject.open(`${FIX}attach_trace.bpf.o`);
    obj.load();
    return obj;
  }

  it('turns symbol addresses into file offsets through the program headers', () => {
    const pieFn = readNativeFunctions(pie).find((f) => f.name === 'bpfskel_probe_target')!;
    const fixedFn = readNativeFunctions(fixed).find((f) => f.name === 'bpfskel_probe_target')!;
    // A fixed-address executable is mapped at 0x400000: address and file offset differ by that much.
    expect(fixedFn.address - fixedFn.fileOffset).toBe(0x400000n);
    expect(pieFn.address).toBeLessThan(0x400000n);
    // The bytes at the offset are the function's: compare with objdump's view of the same symbol.
    const dump = execFileSync('objdump', ['-d', '--section=.text', fixed], { encoding: 'utf8' });
    const line = dump.split('\n').find((l) => l.endsWith('<bpfskel_probe_target>:'))!;
    expect(BigInt(`0x${line.split(' ')[0]}`)).toBe(fixedFn.address);
    expect(functionOffset(fixed, 'bpfskel_probe_target')).toBe(fixedFn.fileOffset);
  });

  it('counts calls with a uprobe and a uretprobe, with the argument, return value and cookie', async () => {
    const fds = countOpenFds();
    const obj = loaded();
    const entry = attachUprobe(obj.programs.get('count_uprobe')!, {
      binary: pie,
      func: 'bpfskel_probe_target',
      cookie: 0x1234n,
    });
    const ret = attachUprobe(obj.programs.get('count_uretprobe')!, {
      binary: pie,
      func: 'bpfskel_probe_target',
      retprobe: true,
    });
    expect(entry.type).toBe('perf_event');
    expect(entry.info()).toMatchObject({ kind: 'perf_event', eventType: 1, name: pie, cookie: 0x1234n });
    expect(ret.info()).toMatchObject({ kind: 'perf_event', eventType: 2 });
    expect(await runTarget(pie, 7)).toBe(expectedSum(7));
    expect(getU64(obj, 'uprobe_hits')).toBe(7n);
    expect(getS64(obj, 'uprobe_last_arg')).toBe(6n);
    expect(getU64(obj, 'uprobe_cookie')).toBe(0x1234n);
    expect(getU64(obj, 'uretprobe_hits')).toBe(7n);
    expect(getS64(obj, 'uretprobe_last_ret')).toBe(13n);
    entry.detach();
    ret.detach();
    await runTarget(pie, 3);
    expect(getU64(obj, 'uprobe_hits')).toBe(7n);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('probes a fixed-address executable at the right file offset', async () => {
    const obj = loaded();
    const link = attachUprobe(obj.programs.get('count_uprobe')!, {
      binary: fixed,
      func: 'bpfskel_probe_target',
    });
    await runTarget(fixed, 5);
    expect(getU64(obj, 'uprobe_hits')).toBe(5n);
    expect(getS64(obj, 'uprobe_last_arg')).toBe(4n);
    link.detach();
    obj.close();
  });

  it('limits a uprobe to one process with pid', async () => {
    const obj = loaded();
    const a = startTarget(pie, 4);
    const b = startTarget(pie, 6);
    const link = attachUprobe(obj.programs.get('count_uprobe')!, {
      binary: pie,
      func: 'bpfskel_probe_target',
      pid: a.pid,
    });
    await Promise.all([a.go(), b.go()]);
    expect(getU64(obj, 'uprobe_hits')).toBe(4n);
    link.detach();
    obj.close();
  });

  it('finds a shared library by name and probes its exported function (libc getppid, pid-filtered)', async () => {
    const libc = resolveBinaryPath('libc.so.6');
    expect(isAbsolute(libc)).toBe(true);
    expect(functionOffset(libc, 'getppid')).toBeGreaterThan(0n);
    const obj = loaded();
    const t = startTarget(pie, 8);
    const link = attachUprobe(obj.programs.get('count_uprobe')!, {
      binary: 'libc.so.6',
      func: 'getppid',
      pid: t.pid,
    });
    expect(link.target).toContain(libc);
    await t.go();
    expect(getU64(obj, 'uprobe_hits')).toBe(8n);
    link.detach();
    obj.close();
  });

  it('attaches uprobe.multi to every function matching a pattern with one link', async () => {
    const obj = loaded();
    const link = attachUprobeMulti(obj.programs.get('count_umulti')!, { binary: pie, pattern: 'bpfskel_*' });
    expect(link.type).toBe('uprobe_multi');
    expect(link.info()).toMatchObject({ kind: 'uprobe_multi', count: 2, path: pie });
    await runTarget(pie, 5);
    // Five calls of bpfskel_probe_target and one of bpfskel_other.
    expect(getU64(obj, 'umulti_hits')).toBe(6n);
    link.detach();
    obj.close();
  });

  it('auto-attaches uprobe//proc/self/exe:main from sections.bpf.o when the executable has the symbol', () => {
    const obj = BpfObject.open(`${FIX}sections.bpf.o`);
    for (const p of obj.programs.values())
      p.autoload = p.name === 'uprobe_auto' || p.name === 'uprobe_manual';
    obj.load();
    const prog = obj.programs.get('uprobe_auto')!;
    const hasMain = readNativeFunctions('/proc/self/exe').some((f) => f.name === 'main');
    if (hasMain) {
      const link = autoAttach(prog)!;
      expect(link.target).toMatch(/^uprobe \/proc\/self\/exe:main/);
      link.detach();
    } else {
      expect(() => autoAttach(prog)).toThrow(/no function symbol 'main'/);
    }
    // A bare "uprobe" section names no target: nothing to auto-attach.
    expect(autoAttach(obj.programs.get('uprobe_manual')!)).toBeUndefined();
    obj.close();
  });

  it('names the binary and function that cannot be found', () => {
    const obj = loaded();
    const prog = obj.programs.get('count_uprobe')!;
    expect(() => attachUprobe(prog, { binary: pie, func: 'no_such_function' })).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        message: expect.stringContaining("no function symbol 'no_such_function'"),
      }),
    );
    expect(() => attachUprobe(prog, { binary: '/nonexistent/bin', func: 'main' })).toThrow(BpfError);
    expect(() => resolveBinaryPath('libbpfskel-missing.so.9')).toThrow(/not found in LD_LIBRARY_PATH/);
    obj.close();
  });
});
