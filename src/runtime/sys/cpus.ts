/**
 * CPU sets from sysfs: the possible CPUs (per-CPU map values hold one slot each) and the online ones
 * (perf buffers open one ring per online CPU).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { BpfError } from '../../errors.js';

/** Parses a kernel CPU list such as `0-3,5,7-8` into the CPU numbers, ascending. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return cpus;
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new BpfError(`malformed CPU list '${trimmed}' at '${part}'`, { code: 'EINVAL' });
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first)
      throw new BpfError(`malformed CPU list '${trimmed}': range ${part}`, { code: 'EINVAL' });
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

function readCpuList(name: 'possible' | 'online'): number[] {
  const path = `/sys/devices/system/cpu/${name}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BpfError(`cannot read ${path}: ${(e as Error).message}`, {
      code: 'ENOENT',
      command: 'read sysfs',
    });
  }
  const cpus = parseCpuList(text);
  if (cpus.length === 0)
    throw new BpfError(`${path} lists no CPU`, { code: 'EINVAL', command: 'read sysfs' });
  return cpus;
}

let possible: number[] | undefined;

/** The possible CPUs (`/sys/devices/system/cpu/possible`), read once. */
export function possibleCpus(): readonly number[] {
  possible ??= readCpuList('possible');
  return possible;
}

/** How many possible CPUs there are: the number of slots in a per-CPU map value. */
export function possibleCpuCount(): number {
  return possibleCpus().length;
}

/** The CPUs online right now (`/sys/devices/system/cpu/online`); read on every call. */
export function onlineCpus(): number[] {
  return readCpuList('online');
}
