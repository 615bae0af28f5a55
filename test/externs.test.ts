/**
 * Externs on the real kernel: `__kconfig` values from this kernel's /proc/config.gz, uname and probes (and
 * the kconfig option), `__ksym` addresses from /proc/kallsyms, kfunc calls by vmlinux BTF id, weak externs
 * as zero, poisoned weak kfunc calls, and clear errors for strong externs that are missing. The `.kconfig`
 * layout agrees with libbpf's (bpftool's skeleton).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createBtf } from '../src/btf/create.js';
import type { BtfType } from '../src/btf/types.js';
import { BpfError, OptionError, VerifierError } from '../src/errors.js';
import { describeObject } from '../src/gen/model.js';
import { kconfigLayout, parseKconfig, writeKconfigValue } from '../src/runtime/externs/kconfig.js';
import { resolveExterns } from '../src/runtime/externs/resolve.js';
import { BpfObject } from '../src/runtime/object.js';
import { mapInfo } from '../src/runtime/sys/info.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.bpf.o`, import.meta.url).pathname;

function symbolOffset(obj: BpfObject, name: string): number {
  const sym = obj.spec.elf.symbols.find((s) => s.name === name);
  if (sym === undefined) throw new Error(`no symbol ${name}`);
  return sym.value;
}

/** This kernel's config, read independently of the code under test. */
function kernelConfig(): Map<string, string> {
  const text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  return new Map(
    text
      .split('\n')
      .filter((l) => l.startsWith('CONFIG_'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function kallsymsAddress(name: string): bigint | undefined {
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [addr, , sym] = line.split(/\s+/);
    if (sym === name) return BigInt(`0x${addr}`);
  }
  return undefined;
}

describe('.kconfig layout', () => {
  it('matches the struct bpftool (libbpf) generates for the same object', () => {
    if (!requireKernel('bpftool', commandExists('bpftool'), 'bpftool is the libbpf reference')) return;
    const skel = execFileSync('bpftool', ['gen', 'skeleton', fixture('externs')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const body = /struct externs_bpf__kconfig \{([^}]*)\}/.exec(skel)?.[1] ?? '';
    const names = [...body.matchAll(/(\w+)(?:\[\d+\])?;/g)].map((m) => m[1]);
    expect(names.length).toBe(13);
    using obj = BpfObject.open(fixture('externs'));
    const layout = kconfigLayout(obj.spec.btf!)!;
    expect(layout.vars.map((v) => v.name)).toEqual(names);
    // Offsets as libbpf logs them for this object (align desc, size asc, name; 8-byte value first).
    expect(layout.vars.map((v) => v.offset)).toEqual([0, 8, 12, 16, 20, 24, 28, 32, 34, 35, 36, 37, 38]);
    expect(layout.size).toBe(50);
    expect(obj.maps.get('.kconfig')).toMatchObject({ valueSize: 50, maxEntries: 1 });
  });

  it('is what the skeleton generator shows', () => {
    const model = describeObject(readFileSync(fixture('externs')), 'externs.bpf.o', new Map());
    const section = model.sections.find((s) => s.name === '.kconfig')!;
    const layout = kconfigLayout(model.btf)!;
    expect(section.variables.map((v) => [v.name, v.offset])).toEqual(
      layout.vars.map((v) => [v.name, v.offset]),
    );
  });
});

describe('Kconfig values', () => {
  const types: BtfType[] = [
    { kind: 'void', id: 0, name: '' },
    {
      kind: 'int',
      id: 1,
      name: 'char',
      size: 1,
      signed: true,
      char: false,
      bool: false,
      bits: 8,
      bitOffset: 0,
    },
    { kind: 'array', id: 2, name: '', type: 1, indexType: 3, nelems: 4 },
    {
      kind: 'int',
      id: 3,
      name: 'short',
      size: 2,
      signed: true,
      char: false,
      bool: false,
      bits: 16,
      bitOffset: 0,
    },
    {
      kind: 'int',
      id: 4,
      name: '_Bool',
      size: 1,
      signed: false,
      char: false,
      bool: true,
      bits: 8,
      bitOffset: 0,
    },
    {
      kind: 'enum',
      id: 5,
      name: 'libbpf_tristate',
      size: 4,
      signed: false,
      values: [
        { name: 'TRI_NO', value: 0 },
        { name: 'TRI_YES', value: 1 },
        { name: 'TRI_MODULE', value: 2 },
      ],
    },
  ];
  const btf = createBtf(types);
  const write = (type: number, size: number, raw: string) => {
    const out = new DataView(new ArrayBuffer(8));
    writeKconfigValue(btf, { name: 'CONFIG_T', varId: 0, type, offset: 0, size, align: 1 }, raw, out, 'test');
    return new Uint8Array(out.buffer).slice(0, size);
  };

  it('encodes strings (cut, NUL-terminated), chars, tristates, bools and ranged integers', () => {
    expect([...write(2, 4, '"abcdef"')]).toEqual([97, 98, 99, 0]);
    expect([...write(2, 4, '"a\\"b"')]).toEqual([97, 34, 98, 0]);
    expect([...write(1, 1, 'm')]).toEqual([109]);
    expect([...write(1, 1, '-2')]).toEqual([254]);
    expect([...write(5, 4, 'm')]).toEqual([2, 0, 0, 0]);
    expect([...write(4, 1, 'y')]).toEqual([1]);
    expect([...write(3, 2, '0x7fff')]).toEqual([0xff, 0x7f]);
    expect([...write(3, 2, '-32768')]).toEqual([0, 0x80]);
  });

  it('names the extern when a value does not suit its type', () => {
    expect(() => write(3, 2, '32768')).toThrow(/CONFIG_T.*does not fit/);
    expect(() => write(4, 1, 'm')).toThrow(/CONFIG_T.*bool takes y or n/);
    expect(() => write(2, 4, 'abc')).toThrow(/CONFIG_T.*"string"/);
    expect(() => write(3, 2, 'y')).toThrow(/CONFIG_T.*not y\/n\/m/);
  });

  it('parses CONFIG_ lines and rejects anything else', () => {
    expect([...parseKconfig('# c\n\nCONFIG_A=y\nCONFIG_B="x y"\n', 'opt')]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_B', '"x y"'],
    ]);
    expect(() => parseKconfig('CONFIG_A=y\nFOO=1', 'opt')).toThrow(/opt, line 2/);
  });
});

describe.runIf(requireKernel('bpf()', isRoot(), 'loading needs root'))('externs on the kernel', () => {
  it('fills __kconfig, __ksym and kfunc externs, and zeroes the weak missing ones', () => {
    using obj = BpfObject.open(fixture('externs'), {
      bpfTokenPath: '',
      kconfig: 'CONFIG_SKEL_OVERRIDE=0x1234',
    });
    obj.load();
    const ctx = new Uint8Array(4);
    new DataView(ctx.buffer).setInt32(0, process.pid, true);
    expect(progTestRun(obj.programs.get('read_externs')!.fd, { ctxIn: ctx }).retval).toBe(0);
    const bss = obj.maps.get('.bss')!.dataView();
    const data = obj.maps.get('.data')!.dataView();
    const u64 = (n: string) => bss.getBigUint64(symbolOffset(obj, n), true);
    const s64 = (n: string) => data.getBigInt64(symbolOffset(obj, n), true);
    const config = kernelConfig();

    const [major, minor, patch] = release().split(/[.-]/).map(Number);
    expect(u64('kern_ver')).toBe(BigInt((major << 16) + (minor << 8) + Math.min(patch, 255)));
    expect(u64('has_syscall_wrapper')).toBe(kallsymsAddress('__x64_sys_bpf') === undefined ? 0n : 1n);
    expect(u64('has_bpf_cookie')).toBe(1n); // bpf_get_attach_cookie exists since 5.15
    expect(s64('unknown_virtual')).toBe(0n);
    expect(u64('bpf_syscall')).toBe(config.get('CONFIG_BPF_SYSCALL') === 'y' ? 1n : 0n);
    expect(u64('bpf_jit')).toBe({ y: 1n, m: 2n, n: 0n }[config.get('CONFIG_BPF_JIT') as 'y']);
    expect(s64('not_set')).toBe(0n);
    expect(u64('printk')).toBe(BigInt(config.get('CONFIG_PRINTK')!.charCodeAt(0)));
    expect(u64('nr_cpus')).toBe(BigInt(config.get('CONFIG_NR_CPUS')!));
    expect(u64('hz')).toBe(BigInt(config.get('CONFIG_HZ')!));
    expect(u64('physical_start')).toBe(BigInt(config.get('CONFIG_PHYSICAL_START')!));
    const host = new Uint8Array(bss.buffer, bss.byteOffset + symbolOffset(obj, 'hostname'), 12);
    expect(new TextDecoder().decode(host.subarray(0, host.indexOf(0)))).toBe(
      JSON.parse(config.get('CONFIG_DEFAULT_HOSTNAME')!).slice(0, 11),
    );
    expect(u64('override')).toBe(0x1234n);

    expect(u64('typeless_addr')).toBe(kallsymsAddress('bpf_prog_put'));
    expect(u64('kfunc_addr')).toBe(kallsymsAddress('bpf_task_release'));
    expect(s64('weak_addr')).toBe(0n);
    expect(s64('weak_typed_addr')).toBe(0n);
    expect(s64('task_pid')).toBe(BigInt(process.pid));

    const kconfig = obj.maps.get('.kconfig')!;
    const info = mapInfo(kconfig.fd);
    expect(info.mapFlags).toBe(0x400 | 0x80); // mmapable, read-only for programs
    expect(info.name).toBe('externs.kconfig');
    const layout = kconfigLayout(obj.spec.btf!)!;
    const hz = layout.vars.find((v) => v.name === 'CONFIG_HZ')!;
    expect(kconfig.dataView().getInt32(hz.offset, true)).toBe(Number(config.get('CONFIG_HZ')));
    expect(kconfig.isWritable()).toBe(false);
  });

  it('lets the kconfig option override the kernel config', () => {
    using obj = BpfObject.open(fixture('externs'), { bpfTokenPath: '', kconfig: 'CONFIG_HZ=1234\n' });
    obj.load();
    const ctx = new Uint8Array(4);
    progTestRun(obj.programs.get('read_externs')!.fd, { ctxIn: ctx });
    expect(obj.maps.get('.bss')!.dataView().getBigUint64(symbolOffset(obj, 'hz'), true)).toBe(1234n);
  });

  it('fails load naming a strong missing __kconfig extern, without leaking FDs; the option supplies it', () => {
    const fds = countOpenFds();
    {
      using obj = BpfObject.open(fixture('externs_missing'), { bpfTokenPath: '' });
      expect(() => obj.load()).toThrow(/__kconfig extern 'CONFIG_SKEL_REQUIRED' has no value.*__weak/s);
    }
    expect(countOpenFds()).toBe(fds);
    using obj = BpfObject.open(fixture('externs_missing'), {
      bpfTokenPath: '',
      kconfig: 'CONFIG_SKEL_REQUIRED=-5',
    });
    obj.load();
    progTestRun(obj.programs.get('read_required')!.fd);
    expect(obj.maps.get('.bss')!.dataView().getBigInt64(symbolOffset(obj, 'required'), true)).toBe(-5n);
  });

  it('rejects a malformed kconfig option and a value of the wrong kind', () => {
    using bad = BpfObject.open(fixture('externs'), { bpfTokenPath: '', kconfig: 'HZ=1' });
    expect(() => bad.load()).toThrow(OptionError);
    using wrong = BpfObject.open(fixture('externs'), { bpfTokenPath: '', kconfig: 'CONFIG_BPF_SYSCALL=7' });
    expect(() => wrong.load()).toThrow(/CONFIG_BPF_SYSCALL.*bool takes y or n/);
  });

  it('fails load naming a strong kfunc the kernel lacks', () => {
    using obj = BpfObject.open(fixture('externs_missing_ksym'), { bpfTokenPath: '' });
    const err = (() => {
      try {
        obj.load();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).message).toMatch(/__ksym extern 'bpf_skel_required_kfunc'.*no kfunc/);
    expect((err as BpfError).code).toBe('ENOENT');
  });

  it('loads a missing weak kfunc call behind an existence check (poisoned as libbpf numbers it)', () => {
    using obj = BpfObject.open(fixture('externs_weak_kfunc'), { bpfTokenPath: '' });
    const resolved = resolveExterns(obj.spec.elf, obj.spec.btf, {
      kconfig: undefined,
      hasBpfCookie: () => true,
      tokenFd: -1,
    });
    // libbpf's extern order: the one __kconfig extern (#0), then __ksym ones by name.
    expect(resolved.values.get('bpf_skel_no_such_kfunc')).toEqual({ kind: 'missing_func', index: 1 });
    obj.load();
    expect(progTestRun(obj.programs.get('guarded_call')!.fd).retval).toBe(0);
    const bss = obj.maps.get('.bss')!.dataView();
    expect(bss.getBigUint64(symbolOffset(obj, 'called'), true)).toBe(0n);
    expect(bss.getBigUint64(symbolOffset(obj, 'ran'), true)).toBe(1n);
  });

  it('poisons a reachable call of a missing weak kfunc, and says so', () => {
    using obj = BpfObject.open(fixture('externs_poison'), { bpfTokenPath: '' });
    const err = (() => {
      try {
        obj.load();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(VerifierError);
    expect((err as VerifierError).message).toMatch(/weak kfunc 'bpf_skel_absent_kfunc'.*bpf_ksym_exists/);
  });

  it('relocates a typed __ksym variable to its vmlinux BTF id (runs where kallsyms lists variables)', () => {
    // Log level 1 keeps the verifier's log for a refusal with ENOENT (which the loader does not retry for).
    using obj = BpfObject.open(fixture('externs_percpu'), { bpfTokenPath: '', kernelLogLevel: 1 });
    const listed = kallsymsAddress('runqueues') !== undefined;
    if (!listed) {
      // Without CONFIG_KALLSYMS_ALL the verifier cannot find the variable's address; it names the symbol it
      // looked up from the BTF id we passed, which proves the relocation.
      console.log(
        'typed __ksym variables need CONFIG_KALLSYMS_ALL, which this kernel lacks: checking the rejection',
      );
      const err = (() => {
        try {
          obj.load();
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(VerifierError);
      expect((err as VerifierError).log).toMatch(/failed to find the address for kernel symbol 'runqueues'/);
      return;
    }
    obj.load();
    progTestRun(obj.programs.get('read_rq')!.fd);
    expect(obj.maps.get('.data')!.dataView().getBigInt64(symbolOffset(obj, 'rq_cpu'), true)).toBe(0n);
  });
});
