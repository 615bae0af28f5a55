/**
 * The externs an object declares: undefined ELF symbols described by the `.kconfig` or `.ksyms` DATASEC of
 * its BTF.
 *
 * @module
 */
import type { Btf, BtfDatasec } from '../../btf/types.js';
import type { ElfFile } from '../../elf/types.js';
import { SHN } from '../../elf/types.js';

/** A `__kconfig` or `__ksym` extern of an object. */
export type ExternSpec =
  | {
      readonly kind: 'kconfig';
      readonly name: string;
      readonly weak: boolean;
      /** BTF id of the `var`. */
      readonly btfId: number;
    }
  | {
      readonly kind: 'ksym';
      readonly name: string;
      readonly weak: boolean;
      /** BTF id of the `var` or (for a kfunc) the `func`. */
      readonly btfId: number;
      readonly func: boolean;
      /** A variable declared `void`: only its address is wanted, from kallsyms. */
      readonly typeless: boolean;
    };

/** Every `__kconfig` and `__ksym` extern of the object, in symbol table order. */
export function collectExterns(elf: ElfFile, btf: Btf | undefined): ExternSpec[] {
  if (btf === undefined) return [];
  const inSection = (name: string) => {
    const ids = new Map<string, number>();
    const datasec = btf.findByName(name, 'datasec') as BtfDatasec | undefined;
    for (const info of datasec?.vars ?? []) {
      const t = btf.typeById(info.type);
      if (t.kind === 'var' || t.kind === 'func') ids.set(t.name, t.id);
    }
    return ids;
  };
  const kconfig = inSection('.kconfig');
  const ksyms = inSection('.ksyms');
  const externs: ExternSpec[] = [];
  const seen = new Set<string>();
  for (const sym of elf.symbols) {
    if (sym.shndx !== SHN.UNDEF || sym.name === '' || seen.has(sym.name)) continue;
    if (sym.bind !== 'global' && sym.bind !== 'weak') continue;
    seen.add(sym.name);
    const weak = sym.bind === 'weak';
    const kc = kconfig.get(sym.name);
    if (kc !== undefined) {
      externs.push({ kind: 'kconfig', name: sym.name, weak, btfId: kc });
      continue;
    }
    const ks = ksyms.get(sym.name);
    if (ks === undefined) continue;
    const t = btf.typeById(ks);
    const func = t.kind === 'func';
    const typeless = t.kind === 'var' && btf.resolve(t.type).kind === 'void';
    externs.push({ kind: 'ksym', name: sym.name, weak, btfId: ks, func, typeless });
  }
  return externs;
}
