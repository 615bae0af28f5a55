/**
 * Reading native (x86-64, arm64 ...) ELF64 little-endian executables and libraries with positional reads, so
 * a large library is never read whole: the header, section headers with names, and program headers. The
 * uprobe symbol resolver and the USDT note reader both stand on it.
 *
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BpfError, ElfError } from '../../errors.js';

/** `SHT_NOBITS`: a section with no bytes in the file. */
export const SHT_NOBITS = 8;
/** `PT_LOAD`: a segment mapped from the file. */
const PT_LOAD = 1;

/** A section header of a native ELF file. */
export interface NativeSection {
  /** Name from the section name table (`''` when the file has no usable one). */
  readonly name: string;
  readonly type: number;
  readonly addr: bigint;
  readonly offset: bigint;
  readonly size: bigint;
  readonly link: number;
  readonly entsize: bigint;
}

/** A program header of a native ELF file. */
export interface NativeSegment {
  readonly type: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly filesz: bigint;
}

/** An open native ELF file. */
export interface NativeElf {
  readonly path: string;
  readonly sections: readonly NativeSection[];
  readonly segments: readonly NativeSegment[];
  /** `length` bytes at `offset`; ElfError naming `what` when they lie outside the file. */
  read(offset: bigint, length: bigint, what: string): Buffer;
}

/**
 * Opens `path`, reads its headers and runs `use` on it, closing the file after. `purpose` completes the
 * message when the file cannot be opened ("cannot open X to <purpose>").
 *
 * @throws BpfError when the file cannot be opened; ElfError when it is not a readable ELF64 LE file
 */
export function withNativeElf<T>(path: string, purpose: string, use: (elf: NativeElf) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BpfError(`cannot open ${path} to ${purpose}: ${code}`, { code, command: 'open', cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    const read = (offset: bigint, length: bigint, what: string): Buffer => {
      if (offset < 0n || length < 0n || offset + length > BigInt(size)) {
        throw new ElfError(`${what} (${length} bytes at ${offset}) lies outside the file (${size} bytes)`, {
          file: path,
          offset: Number(offset),
        });
      }
      const buf = Buffer.alloc(Number(length));
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, Number(offset) + done);
        if (n === 0) break;
        done += n;
      }
      return buf;
    };
    return use({ path, read, ...readHeaders(read, path) });
  } finally {
    closeSync(fd);
  }
}

function readHeaders(
  read: NativeElf['read'],
  path: string,
): { sections: NativeSection[]; segments: NativeSegment[] } {
  const h = read(0n, 64n, 'ELF header');
  if (h.readUInt32BE(0) !== 0x7f454c46) {
    throw new ElfError('not an ELF file (bad magic)', { file: path, offset: 0 });
  }
  if (h[4] !== 2 || h[5] !== 1) {
    throw new ElfError('only 64-bit little-endian ELF files are supported', { file: path, offset: 4 });
  }
  const phoff = h.readBigUInt64LE(32);
  const shoff = h.readBigUInt64LE(40);
  const phentsize = h.readUInt16LE(54);
  const phnum = h.readUInt16LE(56);
  const shentsize = h.readUInt16LE(58);
  const shnum = h.readUInt16LE(60);
  const shstrndx = h.readUInt16LE(62);

  const raw: (Omit<NativeSection, 'name'> & { nameOff: number })[] = [];
  if (shnum > 0 && shoff !== 0n) {
    const shdrs = read(shoff, BigInt(shentsize * shnum), 'section headers');
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      raw.push({
        nameOff: shdrs.readUInt32LE(o),
        type: shdrs.readUInt32LE(o + 4),
        addr: shdrs.readBigUInt64LE(o + 16),
        offset: shdrs.readBigUInt64LE(o + 24),
        size: shdrs.readBigUInt64LE(o + 32),
        link: shdrs.readUInt32LE(o + 40),
        entsize: shdrs.readBigUInt64LE(o + 56),
      });
    }
  }
  const table = raw[shstrndx];
  const names =
    shstrndx !== 0 && table !== undefined && table.type !== SHT_NOBITS
      ? read(table.offset, table.size, 'section name table')
      : undefined;
  const sections = raw.map(({ nameOff, ...s }) => ({
    ...s,
    name: names === undefined ? '' : cString(names, nameOff),
  }));

  const segments: NativeSegment[] = [];
  if (phnum > 0 && phoff !== 0n) {
    const phdrs = read(phoff, BigInt(phentsize * phnum), 'program headers');
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segments.push({
        type: phdrs.readUInt32LE(o),
        offset: phdrs.readBigUInt64LE(o + 8),
        vaddr: phdrs.readBigUInt64LE(o + 16),
        filesz: phdrs.readBigUInt64LE(o + 32),
      });
    }
  }
  return { sections, segments };
}

/** The NUL-terminated string at `start` of `buf`, or `''` when there is none. */
function cString(buf: Buffer, start: number): string {
  const nul = buf.indexOf(0, start);
  return start >= buf.length || nul < 0 ? '' : buf.toString('utf8', start, nul);
}

/**
 * Where virtual address `address` lies in the file: through the loadable segment that maps it, else through
 * one of `sections` (objects without program headers).
 */
export function fileOffsetOf(
  address: bigint,
  segments: readonly NativeSegment[],
  sections: readonly NativeSection[],
): bigint | undefined {
  for (const p of segments) {
    if (p.type === PT_LOAD && address >= p.vaddr && address < p.vaddr + p.filesz) {
      return address - p.vaddr + p.offset;
    }
  }
  for (const s of sections) {
    if (s.type !== SHT_NOBITS && s.addr !== 0n && address >= s.addr && address < s.addr + s.size) {
      return address - s.addr + s.offset;
    }
  }
  return undefined;
}
