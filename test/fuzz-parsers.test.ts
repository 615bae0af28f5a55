import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf, parseBtfExt, writeBtf } from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { BtfError, ElfError } from '../src/errors.js';
import { mutations } from './helpers/mutate.js';

const FIXTURES = 'test/fixtures';
const OBJECTS = ['minimal.bpf.o', 'core.bpf.o', 'globals.bpf.o', 'maps.bpf.o', 'subprogs.bpf.o'];
/** Longest any single input may take: a parser that loops or explodes on damaged input fails here. */
const MAX_MS_PER_INPUT = 500;

function u32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true);
}

/** ELF header fields and every field of every section header. */
function elfHotOffsets(bytes: Uint8Array): number[] {
  const hot = [16, 20, 24, 32, 40, 44, 48, 52, 56, 60];
  const shoff = u32(bytes, 40);
  const shnum = bytes[60] | (bytes[61] << 8);
  for (let i = 0; i < shnum; i++) for (const f of [0, 4, 8, 24, 32, 40, 44, 56]) hot.push(shoff + i * 64 + f);
  return hot;
}

/** BTF header fields and the three words of every type record (vlen, size/type) and their trailers. */
function btfHotOffsets(bytes: Uint8Array): number[] {
  const hot = [4, 8, 12, 16, 20];
  const typeEnd = 24 + u32(bytes, 12);
  for (let at = 24; at < typeEnd; at += 4) hot.push(at);
  return hot;
}

/** BTF.ext header fields and the first words of each subsection. */
function extHotOffsets(bytes: Uint8Array): number[] {
  const hot = [4, 8, 12, 16, 20, 24, 28];
  const hdr = u32(bytes, 4);
  for (const field of [8, 16, 24]) {
    const start = hdr + u32(bytes, field);
    for (let k = 0; k < 24; k += 4) if (start + k + 4 <= bytes.length) hot.push(start + k);
  }
  return hot;
}

/** Uses every query of a parsed BTF, so layout walks over damaged type graphs run too. */
function exercise(btf: Btf): void {
  for (const t of btf.types) {
    for (const q of [btf.resolve, btf.sizeOf, btf.alignOf, btf.memberLayout]) {
      try {
        q(t.id);
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
    }
    if (t.name !== '') btf.findByName(t.name, t.kind);
  }
  const again = parseBtf(writeBtf(btf), { base: btf.base });
  expect(again.types.length).toBe(btf.types.length);
}

/** Runs `fn`; only ElfError/BtfError may escape, and it must be quick. */
function expectTyped(fn: () => void, what: string): 'ok' | 'rejected' {
  const t0 = performance.now();
  let result: 'ok' | 'rejected' = 'ok';
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ElfError || e instanceof BtfError)) {
      throw new Error(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
    }
    result = 'rejected';
  }
  const ms = performance.now() - t0;
  if (ms > MAX_MS_PER_INPUT) throw new Error(`${what}: took ${ms.toFixed(0)} ms`);
  return result;
}

describe('mutation fuzzing of the ELF, BTF and BTF.ext parsers', () => {
  const objects = OBJECTS.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(FIXTURES, f))) }));

  it('whole objects: parseElf, then parseBtf and parseBtfExt of what it finds', { timeout: 30_000 }, () => {
    const tally = { ok: 0, rejected: 0 };
    for (const [i, obj] of objects.entries()) {
      for (const m of mutations(obj.bytes, 300, 0xe1f0 + i, elfHotOffsets(obj.bytes))) {
        const what = `${obj.name} mutation ${m.index} (${m.description})`;
        const r = expectTyped(() => {
          const elf = parseElf(m.bytes, obj.name);
          const btfSec = elf.sectionByName('.BTF');
          if (btfSec === undefined) return;
          const btf = parseBtf(btfSec.data);
          exercise(btf);
          const ext = elf.sectionByName('.BTF.ext');
          if (ext !== undefined) parseBtfExt(ext.data, btf);
        }, what);
        tally[r]++;
      }
    }
    expect(tally.rejected).toBeGreaterThan(100);
    expect(tally.ok).toBeGreaterThan(100);
  });

  it('raw BTF blobs', { timeout: 30_000 }, () => {
    const tally = { ok: 0, rejected: 0 };
    for (const [i, obj] of objects.entries()) {
      const btfBytes = parseElf(obj.bytes).sectionByName('.BTF')!.data.slice();
      for (const m of mutations(btfBytes, 300, 0xb7f0 + i, btfHotOffsets(btfBytes))) {
        const r = expectTyped(
          () => exercise(parseBtf(m.bytes)),
          `${obj.name} .BTF mutation ${m.index} (${m.description})`,
        );
        tally[r]++;
      }
    }
    expect(tally.rejected).toBeGreaterThan(100);
    expect(tally.ok).toBeGreaterThan(50);
  });

  it('raw BTF.ext blobs against their (intact) BTF', () => {
    const tally = { ok: 0, rejected: 0 };
    for (const [i, obj] of objects.entries()) {
      const elf = parseElf(obj.bytes);
      const btf = parseBtf(elf.sectionByName('.BTF')!.data);
      const extBytes = elf.sectionByName('.BTF.ext')!.data.slice();
      for (const m of mutations(extBytes, 400, 0xe7f0 + i, extHotOffsets(extBytes))) {
        const r = expectTyped(() => {
          parseBtfExt(m.bytes, btf);
        }, `${obj.name} .BTF.ext mutation ${m.index} (${m.description})`);
        tally[r]++;
      }
    }
    expect(tally.rejected).toBeGreaterThan(100);
    expect(tally.ok).toBeGreaterThan(50);
  });
});
