/**
 * CO-RE against a target BTF built here (createBtf + writeBtf + parseBtf) whose types differ from those
 * core_custom.bpf.o was compiled with: the patched instructions are checked field by field, then the
 * programs are loaded and run with BPF_PROG_TEST_RUN on a buffer laid out as the TARGET says, so the values
 * they read prove the offsets, load sizes, bitfield shifts and constants are right.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createBtf } from '../src/btf/create.js';
import { parseBtf } from '../src/btf/parse.js';
import type { Btf, BtfMember, BtfType } from '../src/btf/types.js';
import { writeBtf } from '../src/btf/write.js';
import { CoreRelocationError, VerifierError } from '../src/errors.js';
import { collectObject } from '../src/runtime/collect/object.js';
import {
  applyCoreRelocations,
  CORE_POISON_IMM,
  type CoreOutcome,
  describePoison,
  newCoreCandidateCache,
} from '../src/runtime/core/index.js';
import { loadWithLog } from '../src/runtime/load/programs.js';
import { ProgFlag } from '../src/runtime/sys/consts.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { isRoot, requireKernel } from './helpers/kernel.js';

const FILE = new URL('./fixtures/core_custom.bpf.o', import.meta.url).pathname;
const obj = collectObject(readFileSync(FILE), FILE, 'core_custom');
const local = obj.btf!;
const relos = obj.btfExt!.coreRelo.find((s) => s.section === 'syscall')!.records;
const sectionInsns = new Uint8Array(obj.elf.sectionByName('syscall')!.data);
const fn = (name: string) => obj.programs.find((p) => p.name === name)!;

const int = (id: number, name: string, size: number, signed: boolean): BtfType => ({
  id,
  name,
  kind: 'int',
  size,
  signed,
  char: false,
  bool: false,
  bits: size * 8,
  bitOffset: 0,
});
const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({
  name,
  type,
  bitOffset,
  bitfieldSize,
});

/** Ids of the target types the tests refer to. */
const T = { sample: 10, inner: 7, color: 11 };
/** Byte offsets of the target core_sample's fields. */
const OFF = { moved: 8, shrinks: 16, grows: 24, renamed_new: 32, signed_grows: 40, inner: 64, arr: 76 };
const TARGET_SIZE = 112;

/**
 * The target: core_sample re-laid out (moved inside an anonymous union at 8, shrinks u64 -> u32 at 16, grows
 * u32 -> u64 at 24, renamed -> renamed_new, signed_grows int -> long, bitfields moved and flag_b widened to 7
 * bits, inner at 64 with its members swapped, arr int[4] -> int[8] at 76); core_color with new values and no
 * CORE_BLUE; no core_gone. `name` renames core_sample (to test flavors); `extra` appends types.
 */
function targetTypes(name = 'core_sample', extra: (first: number) => BtfType[] = () => []): BtfType[] {
  const types: BtfType[] = [
    { id: 0, name: '', kind: 'void' },
    int(1, 'int', 4, true),
    int(2, 'unsigned int', 4, false),
    int(3, 'long', 8, true),
    int(4, 'long long unsigned int', 8, false),
    { id: 5, name: '__u64', kind: 'typedef', type: 4 },
    { id: 6, name: '__u32', kind: 'typedef', type: 2 },
    {
      id: 7,
      name: 'core_inner',
      kind: 'struct',
      size: 12,
      kindFlag: false,
      members: [m('pad', 1, 0), m('b', 1, 32), m('a', 1, 64)],
    },
    { id: 8, name: '', kind: 'array', type: 1, indexType: 2, nelems: 8 },
    {
      id: 9,
      name: '',
      kind: 'union',
      size: 8,
      kindFlag: false,
      members: [m('moved', 6, 0), m('wide', 5, 0)],
    },
    {
      id: 10,
      name,
      kind: 'struct',
      size: TARGET_SIZE,
      kindFlag: true,
      members: [
        m('pad0', 5, 0),
        m('', 9, OFF.moved * 8),
        m('shrinks', 6, OFF.shrinks * 8),
        m('grows', 5, OFF.grows * 8),
        m('renamed_new', 1, OFF.renamed_new * 8),
        m('signed_grows', 3, OFF.signed_grows * 8),
        m('flag_a', 4, 419, 3),
        m('flag_b', 2, 422, 7),
        m('sbits', 1, 508, 4),
        m('inner', 7, OFF.inner * 8),
        m('arr', 8, OFF.arr * 8),
      ],
    },
    {
      id: 11,
      name: 'core_color',
      kind: 'enum',
      size: 4,
      signed: false,
      values: [
        { name: 'CORE_RED', value: 10 },
        { name: 'CORE_GREEN', value: 20 },
      ],
    },
  ];
  return [...types, ...extra(types.length)];
}

/** Target BTF through the writer and parser, as a custom BTF file would arrive. */
function makeTarget(types: BtfType[]): Btf {
  return parseBtf(writeBtf(createBtf(types)), { file: 'custom.btf' });
}

const target = makeTarget(targetTypes());

function apply(
  t: Btf = target,
  insns = new Uint8Array(sectionInsns),
): { insns: Uint8Array; outcomes: CoreOutcome[] } {
  const outcomes = applyCoreRelocations({ insns, section: 'syscall', relos, local, target: t });
  return { insns, outcomes };
}

const insnAt = (insns: Uint8Array, i: number) => {
  const v = new DataView(insns.buffer, insns.byteOffset + i * 8, 8);
  return { code: insns[i * 8], off: v.getInt16(2, true), imm: v.getInt32(4, true) };
};
const ldImm64 = (insns: Uint8Array, i: number) => {
  const v = new DataView(insns.buffer, insns.byteOffset + i * 8, 16);
  return (BigInt(v.getUint32(12, true)) << 32n) | BigInt(v.getUint32(4, true));
};
const outcomeAt = (outcomes: CoreOutcome[], insn: number, kind?: string) =>
  outcomes.find((o) => o.insnOff === insn * 8 && (kind === undefined || o.kind === kind))!;
const value = (o: CoreOutcome) => (o.result.kind === 'ok' ? o.result.value : o.result.reason);

describe('instructions patched against a custom target', () => {
  const { insns, outcomes } = apply();

  it('describes every relocation in C syntax', () => {
    expect(outcomes).toHaveLength(relos.length);
    expect(outcomeAt(outcomes, 69).access).toBe('struct core_sample.inner.b');
    expect(outcomeAt(outcomes, 73).access).toBe('struct core_sample.arr[2]');
    expect(outcomeAt(outcomes, 87).access).toBe('enum core_color::CORE_GREEN');
    expect(outcomeAt(outcomes, 98).access).toBe('struct core_gone');
    expect(outcomeAt(outcomes, 83).result).toMatchObject({ kind: 'ok', target: 'struct core_sample.moved' });
  });

  it('moves offsets, through an anonymous union and nested structs, and resizes unsigned loads', () => {
    // moved: u32 at 0 -> inside the anonymous union at 8; still a 4-byte load.
    expect(insnAt(insns, 1)).toMatchObject({ code: 0x61, off: OFF.moved });
    // grows: u32 -> u64: the 4-byte load (0x61) becomes an 8-byte one (0x79).
    expect(insnAt(insns, 3)).toMatchObject({ code: 0x79, off: OFF.grows });
    // shrinks: u64 -> u32: the 8-byte load becomes a 4-byte one.
    expect(insnAt(insns, 5)).toMatchObject({ code: 0x61, off: OFF.shrinks });
    expect(insnAt(insns, 69)).toMatchObject({ code: 0x61, off: OFF.inner + 4 });
    expect(insnAt(insns, 73)).toMatchObject({ code: 0x61, off: OFF.arr + 8 });
    expect(insnAt(insns, 77).imm).toBe(32);
    expect(insnAt(insns, 79).imm).toBe(OFF.inner);
    expect(insnAt(insns, 81).imm).toBe(8);
    // The ___old flavor matches core_sample; its field 'moved' is found in the anonymous union too.
    expect(insnAt(insns, 83)).toMatchObject({ code: 0x61, off: OFF.moved });
  });

  it('answers existence: renamed and flavor-only fields are gone, and their loads are poisoned', () => {
    expect(insnAt(insns, 8).imm).toBe(0);
    expect(insnAt(insns, 85).imm).toBe(0);
    expect(insnAt(insns, 110).imm).toBe(1);
    expect(insnAt(insns, 10)).toEqual({ code: 0x85, off: 0, imm: CORE_POISON_IMM });
    expect(insnAt(insns, 120)).toEqual({ code: 0x85, off: 0, imm: CORE_POISON_IMM });
    expect(outcomeAt(outcomes, 10).result).toMatchObject({ kind: 'poisoned', reason: /no such field/ });
  });

  it('poisons a load whose signed field changed size', () => {
    expect(insnAt(insns, 114)).toEqual({ code: 0x85, off: 0, imm: CORE_POISON_IMM });
    expect(outcomeAt(outcomes, 114).result).toMatchObject({ kind: 'poisoned', reason: /from 4 to 8 bytes/ });
  });

  it('computes bitfield offsets, sizes, shifts and signedness from the target layout', () => {
    // flag_a: 3 bits at bit 419 of a u64 member: 8-byte load at 48, bits 35..37.
    expect([17, 22, 25, 28].map((i) => insnAt(insns, i).imm)).toEqual([48, 8, 64 - 38, 64 - 3]);
    // flag_b: 7 bits at bit 422 of an unsigned int: 4-byte load at 52, bits 6..12.
    expect([34, 39, 42, 45].map((i) => insnAt(insns, i).imm)).toEqual([52, 4, 64 - 13, 64 - 7]);
    // sbits: 4 signed bits at bit 508 of an int: 4-byte load at 60, bits 28..31.
    expect([51, 56, 59, 62].map((i) => insnAt(insns, i).imm)).toEqual([60, 4, 64 - 32, 64 - 4]);
    expect(insnAt(insns, 60).imm).toBe(1);
    expect(insnAt(insns, 67).imm).toBe(0);
  });

  it('relocates enum values and type facts, 64-bit immediates included', () => {
    expect(ldImm64(insns, 87)).toBe(20n);
    expect(ldImm64(insns, 90)).toBe(0n);
    expect(insnAt(insns, 95).code).toBe(0x85);
    expect(insnAt(insns, 96)).toEqual({ code: 0x85, off: 0, imm: CORE_POISON_IMM });
    expect(insnAt(insns, 98).imm).toBe(0);
    expect(insnAt(insns, 100).imm).toBe(TARGET_SIZE);
    expect(ldImm64(insns, 102)).toBe(BigInt(T.sample));
    const localId = local.findByName('core_sample', 'struct')!.id;
    expect(ldImm64(insns, 105)).toBe(BigInt(localId));
    expect(insnAt(insns, 108).imm).toBe(0);
    expect(outcomeAt(outcomes, 102).result).toMatchObject({ kind: 'ok', targetTypeId: T.sample });
  });

  it('leaves every instruction without a relocation alone', () => {
    const touched = new Set(outcomes.flatMap((o) => [o.insnOff / 8, o.insnOff / 8 + 1]));
    for (let i = 0; i < sectionInsns.length / 8; i++) {
      if (touched.has(i)) continue;
      expect(insns.subarray(i * 8, i * 8 + 8)).toEqual(sectionInsns.subarray(i * 8, i * 8 + 8));
    }
  });

  it('matches target types whatever their flavor suffix', () => {
    const flavored = apply(makeTarget(targetTypes('core_sample___kernel_v2')));
    expect(flavored.insns).toEqual(insns);
  });
});

describe('candidate selection', () => {
  it('accepts several identical candidates and rejects ambiguous ones', () => {
    const sample = targetTypes()[T.sample] as BtfType & { kind: 'struct' };
    const same = makeTarget(targetTypes('core_sample', (id) => [{ ...sample, id }]));
    // Two identical core_sample types agree on every field, so field relocations resolve...
    const fields = relos.filter((r) => r.kind.startsWith('field_'));
    const withFields = (t: Btf) => {
      const insns = new Uint8Array(sectionInsns);
      applyCoreRelocations({ insns, section: 'syscall', relos: fields, local, target: t });
      return insns;
    };
    expect(withFields(same)).toEqual(withFields(target));
    // ...but their type ids differ, so type_id_target cannot pick one.
    expect(() => apply(same)).toThrow(/type_id_target of struct core_sample .* giving 10 and 12/);

    const shifted = {
      ...sample,
      members: sample.members.map((x) => (x.name === 'grows' ? { ...x, bitOffset: 0 } : x)),
    };
    const ambiguous = makeTarget(targetTypes('core_sample', (id) => [{ ...shifted, id }]));
    expect(() => apply(ambiguous)).toThrow(CoreRelocationError);
    expect(() => apply(ambiguous)).toThrow(
      /struct core_sample\.grows at .*ambiguous: target types 10 and 12 both match, with the field at bit 192 and 0/,
    );
  });

  it('skips candidates whose field types are incompatible', () => {
    // A target where core_sample.moved is a struct: not compatible with __u32, so 'moved' does not exist.
    const types = targetTypes();
    const union = types[9] as BtfType & { kind: 'union' };
    types[9] = { ...union, members: [m('moved', T.inner, 0), m('wide', 5, 0)], size: 12 };
    const { insns, outcomes } = apply(makeTarget(types));
    expect(insnAt(insns, 1).imm).toBe(CORE_POISON_IMM);
    expect(outcomeAt(outcomes, 1).result.kind).toBe('poisoned');
  });

  it('keeps candidate lists in a cache per target BTF', () => {
    const cache = newCoreCandidateCache();
    const sample = local.findByName('core_sample', 'struct')!;
    expect(cache.candidates(target, sample)).toEqual([T.sample]);
    const old = local.findByName('core_sample___old', 'struct')!;
    expect(cache.candidates(target, old)).toEqual([T.sample]);
    expect(cache.candidates(target, local.findByName('core_color', 'enum')!)).toEqual([T.color]);
    const other = makeTarget(targetTypes('something_else'));
    expect(cache.candidates(other, sample)).toEqual([]);
    const a = applyCoreRelocations({
      insns: new Uint8Array(sectionInsns),
      section: 'syscall',
      relos,
      local,
      target,
      cache,
    });
    expect(a.map(value)).toEqual(apply().outcomes.map(value));
  });

  it('checks type_matches strictly: names, sizes, signedness and members', () => {
    // clang 14 cannot emit type_matches, so reuse the `r1 = 1` of type_exists(struct core_gone) (insn 98)
    // for a type_matches relocation of other local types.
    const at = relos.find((r) => r.insnOff === 98 * 8)!;
    const matches = (typeName: string, kind: 'struct' | 'enum', t: Btf) => {
      const id = local.findByName(typeName, kind)!.id;
      const insns = new Uint8Array(sectionInsns);
      const [o] = applyCoreRelocations({
        insns,
        section: 'syscall',
        relos: [{ ...at, typeId: id, kind: 'type_matches' }],
        local,
        target: t,
      });
      expect(insnAt(insns, 98).imm).toBe(Number(value(o)));
      return value(o);
    };
    // core_inner: same member names and int types, other order: matches.
    expect(matches('core_inner', 'struct', target)).toBe(1n);
    // core_sample: members differ in type (shrinks u64 -> u32): no match, though type_exists would say 1.
    expect(matches('core_sample', 'struct', target)).toBe(0n);
    // core_color: the target lacks CORE_BLUE: no match.
    expect(matches('core_color', 'enum', target)).toBe(0n);
    const withBlue = targetTypes();
    const color = withBlue[T.color] as BtfType & { kind: 'enum' };
    withBlue[T.color] = { ...color, values: [...color.values, { name: 'CORE_BLUE___x', value: 30 }] };
    expect(matches('core_color', 'enum', makeTarget(withBlue))).toBe(1n);
  });
});

describe('errors', () => {
  it('refuses an instruction that does not hold what clang put there', () => {
    const insns = new Uint8Array(sectionInsns);
    insns[100 * 8 + 4] ^= 1; // type_size(struct core_sample): 56 -> 57
    expect(() => apply(target, insns)).toThrow(
      /type_size of struct core_sample at instruction 100 .* holds 57, expected 56/,
    );
  });

  it('refuses a size change to a size no load has, and an offset past 32767', () => {
    const types = targetTypes();
    const sample = types[T.sample] as BtfType & { kind: 'struct' };
    types.push(int(types.length, 'unsigned __int128', 16, false));
    types[T.sample] = {
      ...sample,
      members: sample.members.map((x) => (x.name === 'grows' ? { ...x, type: types.length - 1 } : x)),
    };
    expect(() => apply(makeTarget(types))).toThrow(/new size of 16 bytes is not a load\/store size/);

    const far = targetTypes();
    const s2 = far[T.sample] as BtfType & { kind: 'struct' };
    far[T.sample] = {
      ...s2,
      size: 70000,
      members: s2.members.map((x) => (x.name === 'arr' ? { ...x, bitOffset: 40000 * 8 } : x)),
    };
    expect(() => apply(makeTarget(far))).toThrow(/offset 40008 does not fit/);
  });
});

const canRun = requireKernel('bpf() syscall programs', isRoot(), 'needs root for BPF_PROG_LOAD');

describe.runIf(canRun)('programs loaded with the patched instructions', () => {
  const fds: number[] = [];
  afterAll(() => {
    for (const fd of fds) closeFd(fd);
  });
  const { insns, outcomes } = apply();

  const load = (name: string) => {
    const p = fn(name);
    const { fd } = loadWithLog(
      {
        type: 31, // BPF_PROG_TYPE_SYSCALL
        insns: insns.slice(p.start * 8, (p.start + p.count) * 8),
        license: 'GPL',
        name: name.slice(0, 15),
        flags: ProgFlag.SLEEPABLE,
      },
      name,
      0,
    );
    fds.push(fd);
    return fd;
  };

  it('reads a buffer laid out as the target says', () => {
    const fd = load('read_sample');
    const ctx = new Uint8Array(512);
    const v = new DataView(ctx.buffer);
    v.setUint32(OFF.moved, 0x11223344, true);
    v.setUint32(OFF.shrinks, 0xdeadbeef, true);
    v.setUint32(OFF.shrinks + 4, 0xffffffff, true); // would show if the load were still 8 bytes
    v.setBigUint64(OFF.grows, 0x1_2345_6789n, true);
    v.setInt32(OFF.renamed_new, 77, true);
    v.setBigInt64(OFF.signed_grows, -5n, true);
    // Bitfields: flag_a = 5 in bits 35..37 and flag_b = 90 in bits 38..44 of the u64 at 48; sbits = -3 in
    // bits 28..31 of the int at 60. Their neighbours are all ones, so a wrong shift shows.
    v.setBigUint64(48, ~(0x3ffn << 35n) & 0xffff_ffff_ffff_ffffn, true);
    v.setBigUint64(48, v.getBigUint64(48, true) | (5n << 35n) | (90n << 38n), true);
    v.setUint32(60, 0x0fffffff | (0b1101 << 28), true);
    v.setInt32(OFF.inner, 1, true);
    v.setInt32(OFF.inner + 4, 222, true);
    v.setInt32(OFF.inner + 8, 111, true);
    for (let i = 0; i < 8; i++) v.setInt32(OFF.arr + 4 * i, 1000 + i, true);

    // A syscall program's context is copied in from ctxIn and back out into it.
    const r = progTestRun(fd, { ctxIn: ctx });
    expect(r.retval).toBe(0);
    const o = new DataView(ctx.buffer, 256);
    const got = Array.from({ length: 26 }, (_, i) => o.getBigInt64(i * 8, true));
    const localId = BigInt(local.findByName('core_sample', 'struct')!.id);
    expect(got).toEqual([
      0x11223344n, // moved
      0x1_2345_6789n, // grows, read as the u64 it now is
      0xdeadbeefn, // shrinks, read as the u32 it now is
      -1n, // renamed: guarded by field_exists
      0n,
      5n, // flag_a
      90n, // flag_b, all 7 bits
      -3n, // sbits, sign-extended
      1n, // sbits is signed
      0n, // flag_b is not
      222n, // inner.b
      1002n, // arr[2]
      32n, // sizeof(arr): int[8]
      BigInt(OFF.inner),
      8n, // sizeof(grows)
      0x11223344n, // old->moved (___old flavor)
      0n, // old->legacy does not exist
      20n, // CORE_GREEN
      0n, // CORE_BLUE does not exist
      -1n,
      0n, // struct core_gone does not exist
      BigInt(TARGET_SIZE),
      BigInt(T.sample),
      localId,
      0n, // sizeof(struct core_gone) when missing
      1n, // signed_grows exists (only its load is unsafe)
    ]);
  });

  it.each([
    [
      'read_signed',
      114,
      /field_byte_offset relocation of struct core_sample.signed_grows .* from 4 to 8 bytes/,
    ],
    ['read_renamed', 120, /field_byte_offset relocation of struct core_sample.renamed .* no such field/],
  ])(
    '%s: the verifier rejects the reachable poisoned load, and describePoison says why',
    (name, insn, why) => {
      let err: unknown;
      try {
        load(name);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VerifierError);
      const log = (err as VerifierError).log;
      expect(log).toContain(`call unknown#${CORE_POISON_IMM}`);
      const p = fn(name);
      const origin = (i: number) => ({ section: 'syscall', insnOff: (p.start + i) * 8 });
      const text = describePoison(log, outcomes, origin)!;
      expect(text).toMatch(why);
      expect(text).toContain(`instruction ${insn - p.start} that CO-RE could not relocate`);
      expect(text).toContain(`instruction ${insn} of section 'syscall'`);
      // Without the origin map both poisoned loads are listed.
      expect(describePoison(log, outcomes)).toMatch(/one of these:\n {2}- .*\n {2}- /);
      expect(describePoison('R1 invalid mem access', outcomes)).toBeUndefined();
    },
  );
});
