/**
 * eBPF instruction encoding: the few opcodes and pseudo source registers the loader rewrites.
 * An instruction is 8 bytes: opcode u8, dst_reg:4 | src_reg:4, off i16, imm i32 (little-endian).
 *
 * @module
 */

/** Bytes per instruction. */
export const INSN_SIZE = 8;

/** `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 16-byte 64-bit immediate load. */
export const OP_LD_IMM64 = 0x18;
/** `BPF_JMP | BPF_CALL`. */
export const OP_CALL = 0x85;
/** `BPF_JMP | BPF_EXIT`. */
export const OP_EXIT = 0x95;

/** Source-register values with a special meaning in `ld_imm64` and `call`. */
export const Pseudo = {
  /** ld_imm64: imm is a map FD. */
  MAP_FD: 1,
  /** ld_imm64: imm is a map FD, next imm an offset into its value. */
  MAP_VALUE: 2,
  /** ld_imm64: imm is a BTF id of a kernel variable. */
  BTF_ID: 3,
  /** ld_imm64: imm is the relative offset of a subprogram (a callback). */
  FUNC: 4,
  /** ld_imm64: imm is an index into fd_array of a map. */
  MAP_IDX: 5,
  /** call: imm is the relative offset of a subprogram. */
  CALL: 1,
  /** call: imm is the BTF id of a kernel function. */
  KFUNC_CALL: 2,
} as const;

/** Opcode of instruction `i`. */
export function opcode(insns: Uint8Array, i: number): number {
  return insns[i * INSN_SIZE];
}

/** src_reg of instruction `i`. */
export function srcReg(insns: Uint8Array, i: number): number {
  return insns[i * INSN_SIZE + 1] >> 4;
}

/** Sets src_reg of instruction `i`, keeping dst_reg. */
export function setSrcReg(insns: Uint8Array, i: number, reg: number): void {
  const at = i * INSN_SIZE + 1;
  insns[at] = (insns[at] & 0x0f) | (reg << 4);
}

/** imm of instruction `i`. */
export function imm(insns: Uint8Array, i: number): number {
  return view(insns).getInt32(i * INSN_SIZE + 4, true);
}

/** Sets imm of instruction `i`. */
export function setImm(insns: Uint8Array, i: number, value: number): void {
  view(insns).setInt32(i * INSN_SIZE + 4, value, true);
}

/** Whether instruction `i` is a call of a subprogram (`call` with src_reg = BPF_PSEUDO_CALL). */
export function isSubprogCall(insns: Uint8Array, i: number): boolean {
  return opcode(insns, i) === OP_CALL && srcReg(insns, i) === Pseudo.CALL;
}

function view(insns: Uint8Array): DataView {
  return new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
}
