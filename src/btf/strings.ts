/**
 * The BTF string table: NUL-terminated names addressed by byte offset. Split BTF continues the offsets of
 * its base, so lookups below `start` go to the base table.
 *
 * @module
 */
import { BtfError } from '../errors.js';
import type { BtfStrings } from './types.js';

const decoder = new TextDecoder('utf-8');

/**
 * A string table over `bytes`, whose first byte has offset `start` (0, or the base's table length for
 * split BTF). Decoded strings are cached: each distinct offset is decoded once.
 */
export function makeStrings(
  bytes: Uint8Array,
  start: number,
  base: BtfStrings | undefined,
  file?: string,
): BtfStrings {
  const cache = new Map<number, string>();
  let ascii: string | undefined;
  let reverse: Map<string, number> | undefined;
  // One decode of an all-ASCII table lets every lookup be a cheap slice; tables with UTF-8 decode per string.
  const isAscii = bytes.every((b) => b < 0x80);
  const end = start + bytes.length;

  function decodeAt(rel: number): string {
    const nul = bytes.indexOf(0, rel);
    if (nul < 0) {
      throw new BtfError(`string at offset ${start + rel} is not NUL-terminated`, {
        file,
        offset: start + rel,
      });
    }
    if (isAscii) {
      ascii ??= decoder.decode(bytes);
      return ascii.slice(rel, nul);
    }
    return decoder.decode(bytes.subarray(rel, nul));
  }

  const strings: BtfStrings = {
    start,
    bytes,
    has(offset) {
      if (offset < start) return base !== undefined ? base.has(offset) : false;
      return offset < end;
    },
    get(offset) {
      if (offset < start) {
        if (base !== undefined) return base.get(offset);
        throw new BtfError(`string offset ${offset} is below the start of the string table`, { file });
      }
      let s = cache.get(offset);
      if (s !== undefined) return s;
      if (offset >= end) {
        throw new BtfError(`string offset ${offset} is past the end of the string table (${end} bytes)`, {
          file,
        });
      }
      s = decodeAt(offset - start);
      cache.set(offset, s);
      return s;
    },
    offsetOf(s) {
      if (base !== undefined) {
        const inBase = base.offsetOf(s);
        if (inBase >= 0) return inBase;
      }
      if (reverse === undefined) reverse = buildReverse();
      return reverse.get(s) ?? -1;
    },
  };

  // Every string start, plus every offset already looked up (names may point into the middle of a string),
  // mapped from string to its lowest offset.
  function buildReverse(): Map<string, number> {
    const offsets: number[] = [...cache.keys()];
    let rel = 0;
    while (rel < bytes.length) {
      offsets.push(start + rel);
      const nul = bytes.indexOf(0, rel);
      if (nul < 0) break;
      rel = nul + 1;
    }
    offsets.sort((a, b) => a - b);
    const map = new Map<string, number>();
    for (const off of offsets) {
      if (bytes.indexOf(0, off - start) < 0) continue;
      const s = strings.get(off);
      if (!map.has(s)) map.set(s, off);
    }
    return map;
  }

  return strings;
}
