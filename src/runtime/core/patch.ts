/**
 * Writing a relocated value into its instruction: the immediate of an ALU instruction (`r1 = 8`,
 * `r1 += 8`), the offset of a load or store (`r1 = *(u32 *)(r2 + 8)`, resized when the field's size
 * changed), or both halves of a 64-bit immediate load. An unresolvable relocation turns its instruction
 * into a call of a helper that does not exist, numbered {@link CORE_POISON_IMM}, so the program still loads
 * when that instruction is dead code, and the verifier names it when it is not.
 *
 * @module
 */
import { INSN_SIZE, OP_LD_IMM64 } from '../insn.js';

/** The helper number a poisoned instruction calls: 0xbad2310 ("bad relo"), the same as libbpf's. */
export const CORE_POISON_IMM = 0xbad2310;

const CLASS_LD = 0x00;
const CLASS_LDX = 0x01;
const CLASS_ST = 0x02;
const CLASS_STX = 0x03;
const CLASS_ALU = 0x04;
const CLASS_ALU64 = 0x07;
const SRC_X = 0x08;
const OP_CALL = 0x85;

/** Memory access sizes by the `BPF_SIZE` bits of a load or store opcode. */
const SIZE_BYTES: Record<number, number> = { 0: 4, 8: 2, 16: 1, 24: 8 };
const SIZE_CODE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

/** What to write. `expected` is the value clang left in the instruction, checked first when given. */
export interface CorePatch {
  readonly expected: bigint | undefined;
  readonly value: bigint;
  /** For a load/store: the field size the instruction was compiled for, and the target's (0: unchanged). */
  readonly oldSize: number;
  readonly newSize: number;
  /** The size change is unsafe (signed or non-scalar field): a load/store is poisoned instead. */
  readonly unsafeResize: boolean;
}

/** The outcome of {@link patchInsn}: done, poisoned for a reason, or impossible (an error message). */
export type PatchResult =
  | { kind: 'ok' }
  | { kind: 'poisoned'; reason: string }
  | { kind: 'error'; reason: string };

function view(insns: Uint8Array): DataView {
  return new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
}

/** Whether instruction `i` is the first half of a 64-bit immediate load. */
function isLdImm64(insns: Uint8Array, i: number): boolean {
  return insns[i * INSN_SIZE] === OP_LD_IMM64;
}

/** Turns instruction `i` (both halves of an ld_imm64) into a call of helper {@link CORE_POISON_IMM}. */
export function poisonInsn(insns: Uint8Array, i: number): void {
  const count = isLdImm64(insns, i) && (i + 2) * INSN_SIZE <= insns.length ? 2 : 1;
  const v = view(insns);
  for (let k = i; k < i + count; k++) {
    const at = k * INSN_SIZE;
    insns[at] = OP_CALL;
    insns[at + 1] = 0;
    v.setInt16(at + 2, 0, true);
    v.setInt32(at + 4, CORE_POISON_IMM, true);
  }
}

const u64 = (v: bigint) => BigInt.asUintN(64, v);

/** Writes `patch` into instruction `i` of `insns`. */
export function patchInsn(insns: Uint8Array, i: number, patch: CorePatch): PatchResult {
  const at = i * INSN_SIZE;
  const v = view(insns);
  const code = insns[at];
  const cls = code & 0x07;
  const { expected, value } = patch;
  switch (cls) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      if ((code & SRC_X) !== 0)
        return { kind: 'error', reason: 'the ALU instruction takes a register, not an immediate' };
      const imm = v.getInt32(at + 4, true);
      if (expected !== undefined && BigInt.asUintN(32, BigInt(imm)) !== BigInt.asUintN(32, expected)) {
        return { kind: 'error', reason: `the instruction holds ${imm}, expected ${expected}` };
      }
      const signed = BigInt.asIntN(64, value);
      if (signed < -0x8000_0000n || signed > 0xffff_ffffn || (cls === CLASS_ALU64 && signed > 0x7fff_ffffn)) {
        return { kind: 'error', reason: `value ${value} does not fit in the instruction's 32-bit immediate` };
      }
      v.setInt32(at + 4, Number(BigInt.asIntN(32, value)), true);
      return { kind: 'ok' };
    }
    case CLASS_LDX:
    case CLASS_ST:
    case CLASS_STX: {
      const off = v.getInt16(at + 2, true);
      if (expected !== undefined && BigInt(off) !== expected) {
        return { kind: 'error', reason: `the instruction's offset is ${off}, expected ${expected}` };
      }
      if (value < -0x8000n || value > 0x7fffn) {
        return { kind: 'error', reason: `offset ${value} does not fit in a load/store's 16-bit offset` };
      }
      if (patch.oldSize !== patch.newSize) {
        if (patch.unsafeResize) {
          return {
            kind: 'poisoned',
            reason: `the field's size changed from ${patch.oldSize} to ${patch.newSize} bytes, and only pointers and unsigned integers can be read at another size`,
          };
        }
        const size = SIZE_BYTES[code & 0x18];
        if (size !== patch.oldSize) {
          return {
            kind: 'error',
            reason: `the instruction accesses ${size} bytes, but the field has ${patch.oldSize}`,
          };
        }
        const newCode = SIZE_CODE[patch.newSize];
        if (newCode === undefined) {
          return {
            kind: 'error',
            reason: `the field's new size of ${patch.newSize} bytes is not a load/store size`,
          };
        }
        insns[at] = (code & ~0x18) | newCode;
      }
      v.setInt16(at + 2, Number(value), true);
      return { kind: 'ok' };
    }
    case CLASS_LD: {
      const next = at + INSN_SIZE;
      if (
        code !== OP_LD_IMM64 ||
        next + INSN_SIZE > insns.length ||
        insns[at + 1] >> 4 !== 0 ||
        v.getInt16(at + 2, true) !== 0 ||
        insns[next] !== 0 ||
        insns[next + 1] !== 0 ||
        v.getInt16(next + 2, true) !== 0
      ) {
        return { kind: 'error', reason: 'the 64-bit immediate load has an unexpected form' };
      }
      const old = (BigInt(v.getUint32(next + 4, true)) << 32n) | BigInt(v.getUint32(at + 4, true));
      if (expected !== undefined && old !== u64(expected)) {
        return { kind: 'error', reason: `the instruction holds ${old}, expected ${u64(expected)}` };
      }
      const nv = u64(value);
      v.setUint32(at + 4, Number(nv & 0xffff_ffffn), true);
      v.setUint32(next + 4, Number(nv >> 32n), true);
      return { kind: 'ok' };
    }
    default:
      return { kind: 'error', reason: `opcode 0x${code.toString(16).padStart(2, '0')} cannot be relocated` };
  }
}
