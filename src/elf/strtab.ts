/**
 * Reading NUL-terminated names out of ELF string tables.
 *
 * @module
 */
import { ElfError, type ParseLocation } from '../errors.js';

const decoder = new TextDecoder('utf-8');

/**
 * Each ASCII string table decoded once (names are then slices of it): decoding thousands of short names one
 * by one costs more than the rest of parsing. `null` marks a table with non-ASCII bytes.
 */
const decodedTables = new WeakMap<Uint8Array, string | null>();

function asciiText(table: Uint8Array): string | null {
  let text = decodedTables.get(table);
  if (text === undefined) {
    text = table.every((b) => b < 0x80) ? decoder.decode(table) : null;
    decodedTables.set(table, text);
  }
  return text;
}

/** What a name is and where it was read from, for the error; called only when reading it fails. */
export type NameContext = () => { what: string; where: ParseLocation };

/**
 * The NUL-terminated string at `offset` of string table `table`. ElfError (saying what and where, from
 * `context`) when the offset is past the end or the string runs off the end of the table.
 */
export function readCString(table: Uint8Array, offset: number, context: NameContext): string {
  if (offset >= table.length) {
    if (offset === 0) return '';
    const { what, where } = context();
    throw new ElfError(
      `${what}: string offset ${offset} is past the end of the string table (${table.length} bytes)`,
      where,
    );
  }
  const end = table.indexOf(0, offset);
  if (end < 0) {
    const { what, where } = context();
    throw new ElfError(`${what}: string at offset ${offset} is not NUL-terminated`, where);
  }
  const text = asciiText(table);
  return text === null ? decoder.decode(table.subarray(offset, end)) : text.slice(offset, end);
}
