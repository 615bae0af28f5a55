/**
 * USDT probes (systemtap `<sys/sdt.h>` notes) on the real kernel, on a C target built with gcc at test
 * time at -O1 and -O0 (arguments in registers and on the stack): argument descriptions parsed and encoded
 * as `<bpf/usdt.bpf.h>`'s spec with pt_regs offsets from kernel BTF, probe sites and semaphores read as
 * readelf reads them, every argument of every site read by the BPF side, semaphores set while attached,
 * auto-attach from `usdt/<binary>:<provider>:<name>` sections, and clear errors with no FD leaked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseElf } from '../src/elf/index.js';
import { BpfError, OptionError } from '../src/errors.js';
import { autoAttach } from '../src/runtime/attach/auto.js';
import {
  attachUsdt,
  encodeUsdtSpec,
  parseUsdtArgs,
  readUsdtProbes,
  UsdtLink,
} from '../src/runtime/attach/usdt.js';
import type { BpfLink } from '../src/runtime/link.js';
import { BpfObject } from '../src/runtime/object.js';
import { commandExists, countOpenFds, isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = new URL('..', import.meta.url).pathname;
const OBJECT = join(ROOT, 'test/fixtures/usdt.bpf.o');
/** Where the fixture's `auto_twice` section points, relative to the repository root. */
const OUT_DIR = join(ROOT, 'test/tmp/usdt');
const SDT_HEADERS = ['/usr/include/sys/sdt.h', '/usr/include/x86_64-linux-gnu/sys/sdt.h'];

/** The target: `work(i)` for i in [0, N) fires bpfskel:tick, :guarded (if its semaphore is set), :twice. */
const TARGET_C = `#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SEMAPHORE(n) __extension__ unsigned short bpfskel_##n##_semaphore __attribute__((unused, section(".probes")))
SEMAPHORE(tick);
SEMAPHORE(guarded);
SEMAPHORE(twice);

__attribute__((noinline)) static long work(int i, long *slot)
{
	long big = (long)i * 1000000007L;
	short neg = (short)-i;
	slot[i & 7] = big;
	STAP_PROBE5(bpfskel, tick, i, big, neg, slot[i & 7], -7);
	if (bpfskel_guarded_semaphore)
		STAP_PROBE1(bpfskel, guarded, i);
	if (i & 1)
		STAP_PROBE1(bpfskel, twice, i);
	else
		STAP_PROBE1(bpfskel, twice, -i);
	return big + neg;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long slots[8] = { 0 };
	long sum = 0;

	for (int i = 0; i < n; i++)
		sum += work(i, slots);
	printf("%ld %u\\n", sum, bpfskel_guarded_semaphore);
	return 0;
}
`;

const haveTools = commandExists('gcc') && SDT_HEADERS.some((h) => existsSync(h));
const canRun = requireKernel('bpf() as root', isRoot(), 'USDT tests need root');
const canBuild = requireKernel(
  'gcc and <sys/sdt.h>',
  haveTools,
  'USDT tests build a target with gcc and <sys/sdt.h> (Debian: systemtap-sdt-dev)',
);

/** `.bss` offsets of the fixture's globals, from the object's symbol table. */
const bss: Record<string, number> = Object.fromEntries(
  parseElf(new Uint8Array(readFileSync(OBJECT)), OBJECT)
    .symbols.filter((s) => s.name !== '')
    .map((s) => [s.name, Number(s.value)]),
);

let optimized = '';
let unoptimized = '';

beforeAll(() => {
  if (!canBuild) return;
  mkdirSync(OUT_DIR, { recursive: true });
  const src = join(OUT_DIR, 'usdt_target.c');
  writeFileSync(src, TARGET_C);
  // -O1 passes arguments in registers; -O0 from the stack (`-4@-20(%rbp)`): both kinds of location.
  optimized = join(OUT_DIR, 'usdt_target');
  unoptimized = join(OUT_DIR, 'usdt_target_O0');
  execFileSync('gcc', ['-O1', '-Wall', '-o', optimized, src], { stdio: 'pipe' });
  execFileSync('gcc', ['-O0', '-Wall', '-o', unoptimized, src], { stdio: 'pipe' });
});
afterAll(() => {
  rmSync(OUT_DIR, { recursive: true, force: true });
});

/** readelf's view of the notes, the reference for readUsdtProbes. */
function readelfNotes(path: string) {
  const text = execFileSync('readelf', ['-n', path], { encoding: 'utf8' });
  const out: { provider: string; name: string; address: bigint; semaphore: bigint; args: string }[] = [];
  const re =
    /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: (0x[0-9a-f]+)\s+Arguments: ([^\n]*)/g;
  for (const m of text.matchAll(re)) {
    out.push({
      provider: m[1] as string,
      name: m[2] as string,
      address: BigInt(m[3] as string),
      semaphore: BigInt(m[4] as string),
      args: (m[5] as string).trim(),
    });
  }
  return out;
}

function runTarget(path: string, n: number): { sum: bigint; semaphore: number } {
  const [sum, sem] = execFileSync(path, [String(n)], { encoding: 'utf8' })
    .trim()
    .split(' ');
  return { sum: BigInt(sum as string), semaphore: Number(sem) };
}

describe('USDT argument descriptions', () => {
  it('parses registers, stack slots and constants with size and sign', () => {
    expect(parseUsdtArgs('-4@%edi 8@-16(%rbp) 4@$5 -2@(%rax) 1@$-3 8@0x10(%r12)')).toEqual([
      { size: 4, signed: true, kind: 'reg', register: 'edi' },
      { size: 8, signed: false, kind: 'reg_deref', register: 'rbp', offset: -16n },
      { size: 4, signed: false, kind: 'const', value: 5n },
      { size: 2, signed: true, kind: 'reg_deref', register: 'rax', offset: 0n },
      { size: 1, signed: false, kind: 'const', value: -3n },
      { size: 8, signed: false, kind: 'reg_deref', register: 'r12', offset: 16n },
    ]);
    expect(parseUsdtArgs('')).toEqual([]);
  });

  it('rejects what it cannot express, naming the argument', () => {
    expect(() => parseUsdtArgs('8@sym(%rip)')).toThrow(/'8@sym\(%rip\)'/);
    expect(() => parseUsdtArgs('3@%eax')).toThrow(OptionError);
    expect(() => parseUsdtArgs('8@-8(%rbp,%rax,8)')).toThrow(OptionError);
    expect(() => parseUsdtArgs(Array(13).fill('4@$1').join(' '))).toThrow(/at most 12/);
    expect(() => encodeUsdtSpec(parseUsdtArgs('4@%xmm0'), 0n)).toThrow(OptionError);
  });

  it("encodes <bpf/usdt.bpf.h>'s struct __bpf_usdt_spec with pt_regs offsets from the kernel BTF", () => {
    const spec = encodeUsdtSpec(parseUsdtArgs('-4@%edi 8@-16(%rbp) 2@$7'), 99n);
    const v = new DataView(spec.buffer);
    expect(spec.length).toBe(208);
    // struct pt_regs on x86-64: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di ...
    expect([v.getUint32(8, true), v.getInt16(12, true), v.getUint8(14), v.getInt8(15)]).toEqual([
      1, 112, 1, 32,
    ]);
    expect([
      v.getBigInt64(16, true),
      v.getUint32(24, true),
      v.getInt16(28, true),
      v.getUint8(30),
      v.getInt8(31),
    ]).toEqual([-16n, 2, 32, 0, 0]);
    expect([v.getBigUint64(32, true), v.getUint32(40, true), v.getInt8(47)]).toEqual([7n, 0, 48]);
    expect(v.getBigUint64(192, true)).toBe(99n);
    expect(v.getInt16(200, true)).toBe(3);
  });
});

describe.runIf(canBuild)('USDT notes', () => {
  it('reads every probe site as readelf does, with file offsets of the site and the semaphore', () => {
    for (const path of [optimized, unoptimized]) {
      const probes = readUsdtProbes(path);
      const ref = readelfNotes(path);
      expect(ref.length).toBe(4);
      expect(
        probes.map(({ provider, name, address, semaphore, args }) => ({
          provider,
          name,
          address,
          semaphore,
          args,
        })),
      ).toEqual(ref);
      // A PIE maps its first segments at their file offsets.
      for (const p of probes) {
        expect(p.fileOffset).toBe(p.address);
        expect(p.semaphoreOffset).toBeGreaterThan(0n);
      }
    }
  });

  it('finds no probes in a binary without notes, and reports an unreadable file', () => {
    expect(readUsdtProbes(process.execPath).filter((p) => p.provider === 'bpfskel')).toEqual([]);
    expect(() => readUsdtProbes('/nonexistent/usdt')).toThrow(BpfError);
    expect(() => readUsdtProbes(OBJECT)).not.toThrow();
  });
});

describe.runIf(canRun && canBuild)('USDT attach', () => {
  function load(): { obj: BpfObject; read: (name: string, size?: 4 | 8) => bigint } {
    const obj = BpfObject.open(OBJECT);
    obj.load();
    const read = (name: string, size: 4 | 8 = 8) => {
      const v = obj.maps.get('.bss')?.dataView() as DataView;
      const off = bss[name] as number;
      return size === 8 ? v.getBigInt64(off, true) : BigInt(v.getInt32(off, true));
    };
    return { obj, read };
  }

  for (const variant of ['-O1 (register arguments)', '-O0 (stack arguments)']) {
    it(`counts hits and reads every argument, ${variant}`, () => {
      const path = variant.startsWith('-O1') ? optimized : unoptimized;
      const { obj, read } = load();
      const links: BpfLink[] = [];
      try {
        const prog = (n: string) => obj.programs.get(n) as NonNullable<ReturnType<typeof obj.programs.get>>;
        links.push(
          attachUsdt(prog('tick'), { binary: path, provider: 'bpfskel', name: 'tick', cookie: 1234n }),
        );
        links.push(attachUsdt(prog('guarded'), { binary: path, provider: 'bpfskel', name: 'guarded' }));
        const twice = attachUsdt(prog('twice'), { binary: path, provider: 'bpfskel', name: 'twice' });
        links.push(twice);
        expect(twice).toBeInstanceOf(UsdtLink);
        expect((twice as UsdtLink).sites.length).toBe(2);
        const n = 11;
        const out = runTarget(path, n);
        expect(out.semaphore).toBe(1);
        expect(read('tick_hits', 4)).toBe(BigInt(n));
        expect(read('tick_sum_i')).toBe(BigInt((n * (n - 1)) / 2));
        expect(read('tick_big')).toBe(BigInt(n - 1) * 1000000007n);
        expect(read('tick_neg')).toBe(BigInt(-(n - 1)));
        expect(read('tick_slot')).toBe(BigInt(n - 1) * 1000000007n);
        expect(read('tick_const')).toBe(-7n);
        expect(read('tick_arg_cnt', 4)).toBe(5n);
        expect(read('tick_cookie')).toBe(1234n);
        // The guarded probe fires only because the uprobe set its semaphore.
        expect(read('guarded_hits', 4)).toBe(BigInt(n));
        expect(read('twice_hits', 4)).toBe(BigInt(n));
        let twiceSum = 0;
        for (let i = 0; i < n; i++) twiceSum += i & 1 ? i : -i;
        expect(read('twice_sum')).toBe(BigInt(twiceSum));
      } finally {
        for (const l of links) l.detach();
        obj.close();
      }
      // Detached: nothing counts, and the semaphore is back to 0.
      expect(runTarget(path, 1).semaphore).toBe(0);
    });
  }

  it('auto-attaches usdt/<binary>:<provider>:<name> sections, every site', () => {
    const { obj, read } = load();
    try {
      const link = autoAttach(
        obj.programs.get('auto_twice') as NonNullable<ReturnType<typeof obj.programs.get>>,
      );
      expect(link).toBeInstanceOf(UsdtLink);
      runTarget(optimized, 6);
      expect(read('auto_hits', 4)).toBe(6n);
      link?.detach();
      link?.detach();
      expect(link?.detached).toBe(true);
      runTarget(optimized, 3);
      expect(read('auto_hits', 4)).toBe(6n);
    } finally {
      obj.close();
    }
  });

  it('fails clearly for a missing probe and leaks no FD', () => {
    const { obj } = load();
    try {
      const before = countOpenFds();
      const tick = obj.programs.get('tick') as NonNullable<ReturnType<typeof obj.programs.get>>;
      expect(() => attachUsdt(tick, { binary: optimized, provider: 'bpfskel', name: 'nope' })).toThrow(
        /no such USDT probe/,
      );
      for (let i = 0; i < 5; i++)
        attachUsdt(tick, { binary: optimized, provider: 'bpfskel', name: 'tick' }).detach();
      expect(countOpenFds()).toBe(before);
    } finally {
      obj.close();
    }
  });
});
