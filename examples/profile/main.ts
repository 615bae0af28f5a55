/**
 * profile: a sampling CPU profiler. Opens a CPU-clock perf event at FREQ Hz on every online CPU, attaches
 * the program to each, burns CPU in this process for SECONDS, then prints the most frequent stacks:
 * kernel frames symbolised with /proc/kallsyms, user frames as the file they fall in (plus offset).
 *
 *   npx tsx examples/profile/main.ts [SECONDS] [FREQ] [TOP]
 *
 * Defaults: 1.5 s, 99 Hz, top 5. Needs root.
 */
import { closeSync, readFileSync } from 'node:fs';
import {
  attachPerfEvent,
  BpfError,
  type BpfLink,
  type NativeFunction,
  readNativeFunctions,
} from 'bpf-skel/runtime';
// perf_event_open(2) is not part of the public runtime API yet.
import { perfEventOpen } from '../../src/runtime/sys/perf.js';
import { ProfileSkel, type sample_key } from './profile.skel.js';

const seconds = Number(process.argv[2] ?? 1.5);
const freq = Number(process.argv[3] ?? 99);
const top = Number(process.argv[4] ?? 5);

/** `PERF_TYPE_SOFTWARE` and `PERF_COUNT_SW_CPU_CLOCK` (include/uapi/linux/perf_event.h). */
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0;

/** CPUs in a list such as `0-3,6`. */
function onlineCpus(): number[] {
  const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  return text.split(',').flatMap((part) => {
    const [lo, hi = lo] = part.split('-').map(Number);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  });
}

/** Kernel symbols sorted by address, for the nearest symbol at or below an address. */
function loadKallsyms(): { addrs: bigint[]; names: string[] } {
  const entries: Array<[bigint, string]> = [];
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [addr, type, name] = line.split(' ');
    if (name === undefined || !/^[tTwW]$/.test(type)) continue;
    entries.push([BigInt(`0x${addr}`), name]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { addrs: entries.map((e) => e[0]), names: entries.map((e) => e[1]) };
}

function kernelSymbol(ksyms: ReturnType<typeof loadKallsyms>, addr: bigint): string {
  let lo = 0;
  let hi = ksyms.addrs.length - 1;
  if (hi < 0 || addr < ksyms.addrs[0] || ksyms.addrs[0] === 0n) return `0x${addr.toString(16)}`;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ksyms.addrs[mid] <= addr) lo = mid;
    else hi = mid - 1;
  }
  return `${ksyms.names[lo]}+0x${(addr - ksyms.addrs[lo]).toString(16)}`;
}

/** File-backed mappings of a process, to say which binary or library a user address falls in. */
function userMappings(pid: number): Array<{ start: bigint; end: bigint; offset: bigint; file: string }> {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8')
      .split('\n')
      .flatMap((line) => {
        const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(\S.*)?$/.exec(line);
        if (m === null) return [];
        return [
          {
            start: BigInt(`0x${m[1]}`),
            end: BigInt(`0x${m[2]}`),
            offset: BigInt(`0x${m[3]}`),
            file: m[4] ?? '[anon]',
          },
        ];
      });
  } catch {
    return []; // the process has exited
  }
}

/** Function symbols of native files by path, sorted by file offset; empty when a file cannot be read. */
const symbolCache = new Map<string, NativeFunction[]>();

function nativeSymbol(file: string, fileOffset: bigint): string | undefined {
  let funcs = symbolCache.get(file);
  if (funcs === undefined) {
    try {
      funcs = readNativeFunctions(file).filter((f) => f.size > 0n);
    } catch {
      funcs = [];
    }
    symbolCache.set(file, funcs);
  }
  const f = funcs.find((x) => fileOffset >= x.fileOffset && fileOffset < x.fileOffset + x.size);
  return (
    f &&
    `${f.name.length > 60 ? `${f.name.slice(0, 57)}...` : f.name}+0x${(fileOffset - f.fileOffset).toString(16)}`
  );
}

function userFrame(maps: ReturnType<typeof userMappings>, addr: bigint): string {
  const m = maps.find((x) => addr >= x.start && addr < x.end);
  const where = `0x${addr.toString(16)}`;
  if (m === undefined) return where;
  if (!m.file.startsWith('/')) return `${where} ${m.file}`; // [anon] (JIT code), [vdso], ...
  const fileOffset = addr - m.start + m.offset;
  const name = m.file.split('/').pop();
  return `${where} ${name}\`${nativeSymbol(m.file, fileOffset) ?? `+0x${fileOffset.toString(16)}`}`;
}

/** The addresses of stack `id` (a stack trace map value: u64 slots, zero after the last frame). */
function stackOf(skel: ProfileSkel, id: number): bigint[] {
  if (id < 0) return [];
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, id, true);
  const value = skel.maps.stacks.get(key);
  if (value === undefined) return [];
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const frames: bigint[] = [];
  for (let off = 0; off + 8 <= view.byteLength; off += 8) {
    const ip = view.getBigUint64(off, true);
    if (ip === 0n) break;
    frames.push(ip);
  }
  return frames;
}

/** Busy work in a function whose name is easy to spot; returns how many rounds ran. */
function burnCpu(ms: number): number {
  const end = performance.now() + ms;
  let rounds = 0;
  let x = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) x = Math.sqrt(x + i) * 1.0001;
    rounds++;
  }
  return x > 0 ? rounds : -rounds;
}

function main(): void {
  if (!(seconds > 0 && freq > 0 && Number.isInteger(top) && top > 0)) {
    throw new RangeError('usage: main.ts [SECONDS > 0] [FREQ > 0] [TOP > 0]');
  }
  using skel = ProfileSkel.open();
  skel.load();
  const cpus = onlineCpus();
  const links: BpfLink[] = [];
  try {
    for (const cpu of cpus) {
      // Every task on this CPU (pid -1), FREQ samples a second of CPU time.
      const fd = perfEventOpen(
        { type: PERF_TYPE_SOFTWARE, config: PERF_COUNT_SW_CPU_CLOCK, sampleFreq: freq },
        -1,
        cpu,
      );
      try {
        links.push(attachPerfEvent(skel.progs.on_sample, fd));
      } finally {
        closeSync(fd); // the link holds its own duplicate
      }
    }
    console.log(
      `sampling ${cpus.length} CPUs at ${freq} Hz for ${seconds} s while pid ${process.pid} burns CPU`,
    );
    burnCpu(seconds * 1000);
  } finally {
    for (const link of links) link.detach();
  }

  const rows = [...skel.maps.samples].sort(([, a], [, b]) => Number(b - a));
  const total = rows.reduce((sum, [, n]) => sum + n, 0n);
  const own = rows.filter(([k]) => k.pid === process.pid).reduce((sum, [, n]) => sum + n, 0n);
  console.log(
    `${total} samples, ${own} of them in this process; ${rows.length} distinct stacks; lost: ${skel.bss.lost_stacks} stacks, ${skel.bss.lost_samples} samples`,
  );
  const ksyms = loadKallsyms();
  for (const [key, count] of rows.slice(0, top)) printStack(skel, ksyms, key, count);
}

function printStack(
  skel: ProfileSkel,
  ksyms: ReturnType<typeof loadKallsyms>,
  key: sample_key,
  count: bigint,
): void {
  console.log(`\n${count} samples  ${key.comm} (pid ${key.pid})`);
  for (const ip of stackOf(skel, key.kernel_stack)) console.log(`    [k] ${kernelSymbol(ksyms, ip)}`);
  const user = stackOf(skel, key.user_stack);
  const maps = user.length > 0 ? userMappings(key.pid) : [];
  for (const ip of user.slice(0, 8)) console.log(`    [u] ${userFrame(maps, ip)}`);
  if (user.length > 8) console.log(`    [u] ... ${user.length - 8} more`);
}

try {
  main();
} catch (err) {
  console.error(err instanceof BpfError ? `profile: ${err.message}` : err);
  process.exitCode = 1;
}
