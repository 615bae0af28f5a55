/**
 * Access to a fixture's global variables by name in the attach tests: the ELF symbol gives the section
 * (the internal map's name) and the offset; the map's data view gives the bytes (the initial image
 * before load, the live mmapped memory after).
 *
 * @module
 */
import type { BpfObject } from '../../src/runtime/object.js';

function locate(obj: BpfObject, name: string): { view: DataView; offset: number } {
  const elf = obj.spec.elf;
  const sym = elf.symbols.find((s) => s.name === name && s.type === 'object');
  if (sym === undefined) throw new Error(`no global variable '${name}'`);
  const section = elf.sections[sym.shndx]?.name;
  const map = section === undefined ? undefined : obj.maps.get(section);
  if (map === undefined) throw new Error(`global '${name}' is in section ${section}, which has no map`);
  return { view: map.dataView(), offset: sym.value };
}

/** Reads a 64-bit global. */
export function getU64(obj: BpfObject, name: string): bigint {
  const { view, offset } = locate(obj, name);
  return view.getBigUint64(offset, true);
}

/** Reads a signed 64-bit global. */
export function getS64(obj: BpfObject, name: string): bigint {
  const { view, offset } = locate(obj, name);
  return view.getBigInt64(offset, true);
}

/** Reads a 32-bit global. */
export function getU32(obj: BpfObject, name: string): number {
  const { view, offset } = locate(obj, name);
  return view.getUint32(offset, true);
}

/** Writes a global of `size` bytes (before load for `.rodata`; any time for `.bss`/`.data`). */
export function setInt(obj: BpfObject, name: string, value: number, size: 2 | 4 | 8 = 4): void {
  const { view, offset } = locate(obj, name);
  if (size === 2) view.setUint16(offset, value, true);
  else if (size === 4) view.setInt32(offset, value, true);
  else view.setBigInt64(offset, BigInt(value), true);
}

/** Polls `read` until it returns at least `want` or `ms` pass; returns the last value read. */
export async function waitFor(read: () => bigint, want: bigint, ms = 2000): Promise<bigint> {
  const end = Date.now() + ms;
  let v = read();
  while (v < want && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    v = read();
  }
  return v;
}
