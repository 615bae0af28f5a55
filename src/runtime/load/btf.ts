/**
 * The object's BTF as the kernel wants it: clang leaves DATASEC sizes and variable offsets at 0 in `.o`
 * files; they are filled in from the ELF sections and symbols before upload. Externs are then fixed up and
 * kinds the kernel lacks sanitized away.
 *
 * @module
 */
import type { Btf, BtfType } from '../../btf/types.js';
import type { ElfFile } from '../../elf/types.js';
import { fixExternBtf } from '../externs/btf.js';
import { type BtfSanitizeFeature, sanitizeBtf } from './sanitize.js';

/**
 * The BTF to upload for an object: {@link fixDatasecs}, then extern fix-ups (`fixExternBtf`), then
 * `sanitizeBtf` for the features `has` reports missing. Type ids are those of the object's BTF.
 */
export function prepareBtf(btf: Btf, elf: ElfFile, has: (feature: BtfSanitizeFeature) => boolean): Btf {
  return sanitizeBtf(fixExternBtf(hiddenFuncsStatic(fixDatasecs(btf, elf), elf)), has);
}

/** A copy of `btf` with every DATASEC of an ELF section given its size and its variables' offsets. */
export function fixDatasecs(btf: Btf, elf: ElfFile): Btf {
  let changed = false;
  const types = btf.types.map((t): BtfType => {
    if (t.kind !== 'datasec') return t;
    const section = elf.sectionByName(t.name);
    if (section === undefined) return t;
    const symbols = new Map(elf.symbolsOf(section.index).map((s) => [s.name, s]));
    const vars = t.vars.map((v) => {
      const variable = btf.typeById(v.type);
      const sym = symbols.get(variable.name);
      return sym === undefined ? v : { ...v, offset: sym.value };
    });
    changed = true;
    return { ...t, size: section.size, vars };
  });
  return changed ? btf.withTypes(types) : btf;
}

/**
 * A copy of `btf` where global functions with hidden visibility (`__hidden`, as in <bpf/usdt.bpf.h>) have
 * static linkage: they cannot be called from outside the object, so the verifier checks them in their
 * callers' context, as libbpf arranges, instead of alone with unknown arguments.
 */
export function hiddenFuncsStatic(btf: Btf, elf: ElfFile): Btf {
  const hidden = new Set(
    elf.symbols
      .filter((s) => s.type === 'func' && s.visibility === 'hidden' && s.bind !== 'local')
      .map((s) => s.name),
  );
  if (hidden.size === 0) return btf;
  let changed = false;
  const types = btf.types.map((t): BtfType => {
    if (t.kind !== 'func' || t.linkage !== 'global' || !hidden.has(t.name)) return t;
    changed = true;
    return { ...t, linkage: 'static' };
  });
  return changed ? btf.withTypes(types) : btf;
}
