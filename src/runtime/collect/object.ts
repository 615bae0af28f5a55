/**
 * `open()`: from ELF bytes to an {@link ObjectSpec}, with no syscall.
 *
 * @module
 */
import { parseBtfExt } from '../../btf/ext.js';
import { parseBtf } from '../../btf/parse.js';
import { parseElf } from '../../elf/reader.js';
import { BtfError, ElfError } from '../../errors.js';
import type { ObjectSpec } from '../spec.js';
import { collectBtfMaps, collectDataMaps } from './maps.js';
import { collectFunctions, collectRelocations } from './programs.js';
import { collectStructOpsMaps, disableUnusedStructOpsPrograms } from './struct-ops.js';

/** Parses an object file into the model `load()` works from. Throws ElfError/BtfError on bad input. */
export function collectObject(bytes: Uint8Array, file: string | undefined, name: string): ObjectSpec {
  const elf = parseElf(bytes, file);
  const btfSection = elf.sectionByName('.BTF');
  const btf =
    btfSection === undefined ? undefined : inSection('.BTF', file, () => parseBtf(btfSection.data, { file }));
  const extSection = elf.sectionByName('.BTF.ext');
  const btfExt =
    extSection === undefined || btf === undefined
      ? undefined
      : inSection('.BTF.ext', file, () => parseBtfExt(extSection.data, btf));

  const licenseSection = elf.sectionByName('license');
  const license = licenseSection === undefined ? '' : cString(licenseSection.data);
  const versionSection = elf.sectionByName('version');
  let kernelVersion = 0;
  if (versionSection !== undefined) {
    if (versionSection.size !== 4) {
      throw new ElfError('section "version" must hold one 32-bit number', { file, section: 'version' });
    }
    kernelVersion = new DataView(versionSection.data.buffer, versionSection.data.byteOffset, 4).getUint32(
      0,
      true,
    );
  }

  const { functions, programs: entries } = collectFunctions(elf);
  const dataMaps = collectDataMaps(elf, btf, name);
  const btfMaps = collectBtfMaps(elf, btf);
  const structOpsMaps = collectStructOpsMaps(elf, btf, entries);
  const programs = disableUnusedStructOpsPrograms(entries, structOpsMaps);
  const data = new Map<number, string>();
  for (const m of dataMaps) {
    const s = elf.sectionByName(m.name);
    if (s !== undefined) data.set(s.index, m.name);
  }
  const relocations = collectRelocations(elf, {
    maps: btfMaps.section,
    data,
    mapsByOffset: btfMaps.byOffset,
  });
  return {
    name,
    elf,
    btf,
    btfExt,
    license,
    kernelVersion,
    programs,
    functions,
    relocations,
    maps: [...btfMaps.maps, ...structOpsMaps, ...dataMaps],
  };
}

/** Runs a BTF parser, naming the ELF section in any BtfError it throws. */
function inSection<T>(section: string, file: string | undefined, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof BtfError && err.section === undefined) {
      throw new BtfError(err.reason, { file: file ?? err.file, section, offset: err.offset });
    }
    throw err;
  }
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}
