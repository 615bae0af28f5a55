/**
 * Rewrites the instructions that use an extern, once it is resolved: a 64-bit load of a `__kconfig` value
 * becomes a `.kconfig` map value load, of a typed `__ksym` a BTF id load, of a typeless one its address; a
 * kfunc call gets the function's BTF id. A call of a missing `__weak` kfunc is turned into a call of a
 * helper that cannot exist, so the verifier accepts it only where it is dead code.
 *
 * @module
 */
import { BpfError } from '../../errors.js';
import { INSN_SIZE, imm, OP_CALL, OP_LD_IMM64, opcode, Pseudo, setImm, setSrcReg } from '../insn.js';
import type { ExternValue } from './resolve.js';

/**
 * Helper number a call of a missing weak kfunc becomes: this base plus the extern's index (as libbpf 1.2+
 * numbers them, so program tags agree with it). The verifier reports it as `invalid func unknown#<n>`;
 * {@link describeKfuncPoison} explains it.
 */
export const KFUNC_POISON_BASE = 2002000000;

/** Resolves map names to FDs (for the `.kconfig` map). */
export type ExternMapFd = (name: string) => number;

/**
 * Patches instruction `j` of `insns` (and `j + 1` of a 64-bit load) that refers to extern `name`.
 * Returns the name of the map the instruction now refers to, if any.
 *
 * @throws BpfError when the extern is unknown or used in a way its kind does not allow
 */
export function patchExtern(
  insns: Uint8Array,
  j: number,
  name: string,
  value: ExternValue | undefined,
  mapFd: ExternMapFd,
  program: string,
): string | undefined {
  const fail = (why: string): never => {
    throw new BpfError(`program '${program}': extern '${name}' ${why}`, { code: 'EINVAL', command: 'link' });
  };
  if (value === undefined) fail('is neither a __kconfig nor a __ksym extern (declare it with one of them)');
  const v = value as ExternValue;
  if (opcode(insns, j) === OP_CALL) {
    if (v.kind === 'missing_func') {
      insns[j * INSN_SIZE + 1] = 0;
      setOff(insns, j, 0);
      setImm(insns, j, KFUNC_POISON_BASE + v.index);
      return undefined;
    }
    if (v.kind !== 'btf' || !v.func) return fail('is called but is not a kfunc');
    setSrcReg(insns, j, Pseudo.KFUNC_CALL);
    setImm(insns, j, v.btfId);
    setOff(insns, j, v.fdIndex);
    return undefined;
  }
  if (opcode(insns, j) !== OP_LD_IMM64)
    return fail('is used by an instruction that is not a 64-bit load or a call');
  switch (v.kind) {
    case 'kconfig': {
      const addend = imm(insns, j);
      setSrcReg(insns, j, Pseudo.MAP_VALUE);
      setImm(insns, j, mapFd('.kconfig'));
      setImm(insns, j + 1, v.offset + addend);
      return '.kconfig';
    }
    case 'btf':
      setSrcReg(insns, j, Pseudo.BTF_ID);
      setImm(insns, j, v.btfId);
      setImm(insns, j + 1, v.btfFd);
      return undefined;
    case 'address':
      setSrcReg(insns, j, 0);
      setImm(insns, j, Number(BigInt.asIntN(32, v.address)));
      setImm(insns, j + 1, Number(BigInt.asIntN(32, v.address >> 32n)));
      return undefined;
    case 'missing_func':
      setSrcReg(insns, j, 0);
      setImm(insns, j, 0);
      setImm(insns, j + 1, 0);
      return undefined;
  }
}

/**
 * For a verifier log that rejects a poisoned kfunc call: a sentence naming the missing kfunc, else undefined.
 */
export function describeKfuncPoison(
  log: string,
  values: ReadonlyMap<string, ExternValue>,
): string | undefined {
  const m = /unknown#(\d+)/.exec(log);
  if (m === null) return undefined;
  const index = Number(m[1]) - KFUNC_POISON_BASE;
  for (const [name, v] of values) {
    if (v.kind === 'missing_func' && v.index === index) {
      return `The program calls the __weak kfunc '${name}', which this kernel lacks, where the call is not dead code: guard it with if (bpf_ksym_exists(${name})).`;
    }
  }
  return undefined;
}

function setOff(insns: Uint8Array, i: number, off: number): void {
  new DataView(insns.buffer, insns.byteOffset, insns.byteLength).setInt16(i * INSN_SIZE + 2, off, true);
}
