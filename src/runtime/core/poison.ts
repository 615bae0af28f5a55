/**
 * Explaining a verifier rejection caused by a poisoned CO-RE instruction: the verifier only says
 * `invalid func unknown#195896080` at some instruction; this turns that into which relocation failed.
 *
 * @module
 */
import { INSN_SIZE } from '../insn.js';
import type { CoreOutcome } from './apply.js';
import { CORE_POISON_IMM } from './patch.js';

/** Where instruction `insn` of a loaded program came from: its ELF section and byte offset there. */
export type InsnOrigin = (insn: number) => { readonly section: string; readonly insnOff: number } | undefined;

const CALL_LINE = new RegExp(`^(\\d+): \\([0-9a-f]{2}\\) call unknown#${CORE_POISON_IMM}\\b`, 'gm');
const INVALID = `invalid func unknown#${CORE_POISON_IMM}`;

/**
 * When `log` (a verifier log) shows that the program reached a poisoned CO-RE instruction, a plain-words
 * explanation naming the relocation (kind, type and field path, section and instruction) and why it could
 * not be resolved; else undefined.
 *
 * `outcomes` are those of the sections the program was linked from. `origin` maps an instruction index of
 * the loaded program to its section and offset; without it the poisoned outcomes are matched by elimination
 * (exact when only one relocation of the program was poisoned).
 */
export function describePoison(
  log: string,
  outcomes: readonly CoreOutcome[],
  origin?: InsnOrigin,
): string | undefined {
  if (!log.includes(INVALID)) return undefined;
  let insn: number | undefined;
  for (const m of log.matchAll(CALL_LINE)) insn = Number(m[1]);
  const poisoned = outcomes.filter((o) => o.result.kind === 'poisoned');
  const where = insn === undefined ? 'an instruction' : `instruction ${insn}`;
  const head = `the program reaches ${where} that CO-RE could not relocate (it calls the invalid helper ${CORE_POISON_IMM}, 0x${CORE_POISON_IMM.toString(16)})`;
  const tail =
    'Guard the access with bpf_core_field_exists() / bpf_core_type_exists() / bpf_core_enum_value_exists(), or make the local type match the target BTF.';

  const from = insn === undefined || origin === undefined ? undefined : origin(insn);
  const exact =
    from === undefined
      ? undefined
      : poisoned.find(
          (o) =>
            o.section === from.section &&
            (o.insnOff === from.insnOff || o.insnOff === from.insnOff - INSN_SIZE),
        );
  if (exact !== undefined) return `${head}: ${explain(exact)}. ${tail}`;
  if (poisoned.length === 1) return `${head}: ${explain(poisoned[0])}. ${tail}`;
  if (poisoned.length === 0) {
    return `${head}, but none of the given relocations was poisoned. ${tail}`;
  }
  return `${head}; it is one of these:\n${poisoned.map((o) => `  - ${explain(o)}`).join('\n')}\n${tail}`;
}

function explain(o: CoreOutcome): string {
  const reason = o.result.kind === 'poisoned' ? o.result.reason : 'resolved';
  return `${o.kind} relocation of ${o.access} at instruction ${o.insnOff / INSN_SIZE} of section '${o.section}': ${reason}`;
}
