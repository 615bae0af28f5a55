/**
 * Bad input and failing loads: every failure is a typed error that says what and where, and a failed load
 * leaves no FD and no kernel object behind.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfError, BtfError, ElfError, type ParseError, VerifierError } from '../src/errors.js';
import { BpfObject } from '../src/runtime/object.js';
import { countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';
import { mutations } from './helpers/mutate.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.bpf.o`, import.meta.url).pathname;
const bytesOf = (name: string) => new Uint8Array(readFileSync(fixture(name)));

/** A copy of `bytes` with every occurrence of `from` replaced by `to` (same length). */
function patchString(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const copy = Buffer.from(bytes);
  if (from.length !== to.length) throw new Error(`cannot patch ${from}`);
  for (let at = copy.indexOf(from); at >= 0; at = copy.indexOf(from, at + 1)) copy.write(to, at);
  return new Uint8Array(copy);
}

describe('malformed objects', () => {
  it('names the file for a missing path', () => {
    expect(() => BpfObject.open('/nonexistent/x.bpf.o')).toThrow(
      /cannot read object file \/nonexistent\/x\.bpf\.o: ENOENT/,
    );
  });

  it('rejects truncated, garbled and foreign ELF files with ElfError', () => {
    const good = bytesOf('minimal');
    expect(() => BpfObject.open(good.subarray(0, 40))).toThrow(ElfError);
    const garbled = good.slice();
    garbled[0] = 0;
    expect(() => BpfObject.open(garbled)).toThrow(/magic/);
    const x86 = good.slice();
    x86[18] = 62; // e_machine = EM_X86_64
    expect(() => BpfObject.open(x86)).toThrow(/e_machine is 62/);
  });

  it('names an unknown program section', () => {
    const renamed = patchString(
      bytesOf('minimal'),
      'tp/syscalls/sys_enter_getpid',
      'zz/syscalls/sys_enter_getpid',
    );
    let err: unknown;
    try {
      BpfObject.open(renamed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ElfError);
    expect((err as ElfError).section).toBe('zz/syscalls/sys_enter_getpid');
    expect((err as Error).message).toMatch(/unknown program section name/);
  });

  it('survives thousands of mutated objects with typed errors only', () => {
    const seeds = ['minimal', 'subprogs', 'mapinmap', 'maps', 'struct_ops', 'struct_ops_link'];
    let opened = 0;
    for (const [n, name] of seeds.entries()) {
      for (const m of mutations(bytesOf(name), 600, 1000 + n)) {
        try {
          BpfObject.open(m.bytes).close();
          opened++;
        } catch (err) {
          if (!(err instanceof BpfError)) {
            throw new Error(`${name} mutation ${m.index} (${m.description}) threw ${String(err)}`);
          }
        }
      }
    }
    // Most damage lands in debug info the loader never reads; the rest must have raised typed errors.
    expect(opened).toBeGreaterThan(0);
  });

  it('reports BTF damage as BtfError', () => {
    const bytes = bytesOf('minimal');
    const elfBtf = BpfObject.open(bytes).spec.elf.sectionByName('.BTF')!;
    const broken = bytes.slice();
    broken[elfBtf.offset] = 0; // BTF magic
    expect(() => BpfObject.open(broken)).toThrow(BtfError);
    try {
      BpfObject.open(broken);
    } catch (err) {
      expect((err as ParseError).section).toBe('.BTF');
    }
  });
});

describe.runIf(requireKernel('bpf()', isRoot(), 'loading needs root (or a token)'))('failing loads', () => {
  it('throws VerifierError with the log and the program, and leaks nothing over many attempts', () => {
    const before = countOpenFds();
    for (let i = 0; i < 50; i++) {
      const obj = BpfObject.open(fixture('bad_verifier'), { bpfTokenPath: '' });
      let err: unknown;
      try {
        obj.load();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VerifierError);
      const v = err as VerifierError;
      expect(v.program).toBe('bad_prog');
      expect(v.code).toBe('EACCES');
      expect(v.command).toBe('BPF_PROG_LOAD');
      expect(v.log).toMatch(/invalid access to map value/);
      expect(v.message).toMatch(/the verifier rejected program 'bad_prog'/);
      expect(v.message).toMatch(/invalid access to map value/);
      expect(obj.loaded).toBe(false);
      expect(obj.maps.get('values')!.fd).toBe(-1);
      expect(obj.programs.get('good_prog')!.fd).toBe(-1);
      obj.close();
    }
    expect(countOpenFds()).toBe(before);
  });

  it('loads the rest when the rejected program is switched off', () => {
    using obj = BpfObject.open(fixture('bad_verifier'), { bpfTokenPath: '' });
    obj.programs.get('bad_prog')!.autoload = false;
    obj.load();
    expect(obj.programs.get('good_prog')!.fd).toBeGreaterThan(2);
  });

  it('keeps the verifier log when asked for it', () => {
    using obj = BpfObject.open(fixture('minimal'), { bpfTokenPath: '', kernelLogLevel: 2 });
    obj.load();
    expect(obj.programs.get('handle_getpid')!.verifierLog).toMatch(/processed \d+ insns/);
  });

  it('explains a pin root that is not a BPF FS, and closes what it made', () => {
    const before = countOpenFds();
    const obj = BpfObject.open(fixture('maps'), { bpfTokenPath: '', pinRootPath: '/tmp' });
    expect(() => obj.load()).toThrow(/cannot pin map 'pinned_hash' at \/tmp\/pinned_hash/);
    obj.close();
    expect(countOpenFds()).toBe(before);
  });

  it('refuses to load twice and after close', () => {
    const obj = BpfObject.open(fixture('minimal'), { bpfTokenPath: '' });
    obj.load();
    expect(() => obj.load()).toThrow(/already loaded/);
    obj.close();
    obj.close();
    expect(() => obj.load()).toThrow(/closed/);
  });
});
