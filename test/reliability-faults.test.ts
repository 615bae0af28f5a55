/**
 * Fault injection into load(): every bpf() call a load makes is failed in turn (with the fault hook of
 * src/runtime/sys/bpf.ts, so the kernel never sees it), and after each failure the object must be as if
 * load() had never run: a typed error naming the command and the map or program, `loaded` false, every FD
 * -1, the process's FD count unchanged, and every kernel object the attempt created gone (checked by id).
 */
import { existsSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../src/errors.js';
import { BpfObject } from '../src/runtime/object.js';
import type { OpenOptions } from '../src/runtime/options.js';
import { BpfCmd, bpfCmdName, bpfRaw, setBpfFaultHook, setBpfTraceHook } from '../src/runtime/sys/bpf.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { btfGetNextId, linkGetNextId, mapGetNextId, progGetNextId } from '../src/runtime/sys/info.js';
import { addressOf } from '../src/runtime/sys/libc.js';
import { mapCreate, objPin } from '../src/runtime/sys/map.js';
import { countOpenFds, isRoot, requireKernel, tempBpffs } from './helpers/kernel.js';
import { runInSandbox } from './helpers/sandbox.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', `${name}.bpf.o`);

/** The errno injected: one no step of load() tolerates or retries on (ENOMEM). */
const INJECTED = 12;

/** Calls whose failure load() must survive or report. */
const STEPS: ReadonlySet<number> = new Set([
  BpfCmd.BTF_LOAD,
  BpfCmd.MAP_CREATE,
  BpfCmd.MAP_UPDATE_ELEM,
  BpfCmd.MAP_FREEZE,
  BpfCmd.PROG_LOAD,
  BpfCmd.OBJ_PIN,
  BpfCmd.OBJ_GET,
  BpfCmd.OBJ_GET_INFO_BY_FD,
  BpfCmd.PROG_BIND_MAP,
]);

/** Steps whose failure load() tolerates by design: informational binding, and BTF when nothing needs it. */
const TOLERATED: ReadonlySet<number> = new Set([BpfCmd.PROG_BIND_MAP]);

type Kind = 'map' | 'prog' | 'btf' | 'link';

const NEXT_ID: Record<Kind, (start: number) => number | undefined> = {
  map: mapGetNextId,
  prog: progGetNextId,
  btf: btfGetNextId,
  link: linkGetNextId,
};

/** The kind of a BPF FD from its /proc link name (`anon_inode:bpf-map`, `anon_inode:btf`...). */
function kindOf(fd: number): Kind | undefined {
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  if (link === 'anon_inode:bpf-map') return 'map';
  if (link === 'anon_inode:bpf-prog') return 'prog';
  if (link === 'anon_inode:btf') return 'btf';
  if (link === 'anon_inode:bpf_link' || link === 'anon_inode:bpf-link') return 'link';
  return undefined;
}

/** The kernel id of a BPF FD, with buffers of our own (the sys layer's scratch buffers may be in use). */
function idOf(fd: number, kind: Kind): number {
  const info = Buffer.alloc(256);
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(info.length, 4);
  attr.writeBigUInt64LE(addressOf(info), 8);
  const r = bpfRaw(BpfCmd.OBJ_GET_INFO_BY_FD, attr, 16);
  if (r < 0) throw new Error(`info of fd ${fd}: errno ${-r}`);
  // struct bpf_btf_info: btf u64, btf_size u32, id u32; the others start with type u32, id u32.
  return info.readUInt32LE(kind === 'btf' ? 12 : 4);
}

function exists(kind: Kind, id: number): boolean {
  return NEXT_ID[kind](id - 1) === id;
}

/** Polls until none of `ids` exists; the kernel frees maps a program held after an RCU grace period. */
async function remaining(ids: readonly { kind: Kind; id: number }[]): Promise<string[]> {
  let left = ids.filter((o) => exists(o.kind, o.id));
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter((o) => exists(o.kind, o.id));
  }
  return left.map((o) => `${o.kind} ${o.id}`);
}

/** `map_name` of BPF_MAP_CREATE and `prog_name` of BPF_PROG_LOAD: 16 bytes at these offsets of the attr. */
const NAME_AT: Partial<Record<number, number>> = { [BpfCmd.MAP_CREATE]: 28, [BpfCmd.PROG_LOAD]: 48 };
/** Offset of the subject FD in the attr of commands that act on an existing object. */
const FD_AT: Partial<Record<number, number>> = {
  [BpfCmd.MAP_UPDATE_ELEM]: 0,
  [BpfCmd.MAP_FREEZE]: 0,
  [BpfCmd.OBJ_GET_INFO_BY_FD]: 0,
  [BpfCmd.PROG_BIND_MAP]: 0,
  [BpfCmd.OBJ_PIN]: 8,
};

function cName(attr: Buffer, at: number): string {
  const raw = attr.subarray(at, at + 16);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? 16 : end).toString('latin1');
}

/** One load attempt with the `nth` call of `cmd` failed, observed through the trace hook. */
interface Attempt {
  /** Commands in call order, `!errno` appended to failures. */
  calls: string[];
  /** Kernel objects the attempt created. */
  created: { kind: Kind; id: number }[];
  /** The kernel name (map_name / prog_name) of what the failed call was about, when it can be told. */
  subject: string | undefined;
  error: unknown;
  obj: BpfObject;
}

function attempt(file: string, opts: OpenOptions, fault?: { cmd: number; nth: number }): Attempt {
  const obj = BpfObject.open(file, { bpfTokenPath: '', ...opts });
  const calls: string[] = [];
  const created: { kind: Kind; id: number }[] = [];
  const names = new Map<number, string>();
  let subject: string | undefined;
  let seen = 0;
  let inside = false;
  setBpfFaultHook((cmd, attr) => {
    if (inside || fault === undefined || cmd !== fault.cmd || ++seen !== fault.nth) return 0;
    const nameAt = NAME_AT[cmd];
    const fdAt = FD_AT[cmd];
    if (nameAt !== undefined) subject = cName(attr, nameAt);
    else if (fdAt !== undefined) subject = names.get(attr.readUInt32LE(fdAt));
    return INJECTED;
  });
  setBpfTraceHook((cmd, attr, _size, result, errno) => {
    if (inside) return;
    calls.push(result < 0 ? `${bpfCmdName(cmd)}!${errno}` : bpfCmdName(cmd));
    if (result < 0 || cmd === BpfCmd.OBJ_GET_INFO_BY_FD) return;
    const kind = kindOf(result);
    if (kind === undefined) return;
    inside = true;
    try {
      created.push({ kind, id: idOf(result, kind) });
    } finally {
      inside = false;
    }
    const nameAt = NAME_AT[cmd];
    if (nameAt !== undefined) names.set(result, cName(attr, nameAt));
  });
  let error: unknown;
  try {
    obj.load();
  } catch (e) {
    error = e;
  } finally {
    setBpfFaultHook(undefined);
    setBpfTraceHook(undefined);
  }
  return { calls, created, subject, error, obj };
}

/** Every (command, n) of the fallible steps a clean load of `file` makes. */
function faultPoints(file: string, opts: OpenOptions): { cmd: number; nth: number }[] {
  const clean = attempt(file, opts);
  if (clean.error !== undefined) throw clean.error;
  clean.obj.close();
  const counts = new Map<number, number>();
  const points: { cmd: number; nth: number }[] = [];
  const byName = new Map(Object.entries(BpfCmd).map(([k, v]) => [`BPF_${k}`, v as number]));
  for (const call of clean.calls) {
    const cmd = byName.get(call.split('!')[0]) as number;
    const nth = (counts.get(cmd) ?? 0) + 1;
    counts.set(cmd, nth);
    if (STEPS.has(cmd)) points.push({ cmd, nth });
  }
  return points;
}

/** Map and program names of the object by kernel name (15 characters; internal maps `<obj>.<kind>`). */
function objectNames(obj: BpfObject): Map<string, string> {
  const byKernel = new Map<string, string>();
  for (const m of obj.maps.values()) {
    byKernel.set(m.spec.kernelName, m.name);
    if (m.spec.inner !== undefined) byKernel.set(m.spec.inner.kernelName, m.spec.inner.name);
  }
  for (const p of obj.programs.values()) byKernel.set(p.name.slice(0, 15), p.name);
  return byKernel;
}

/** The checks after a failed (or tolerated) fault; returns a description of each violation. */
async function verify(
  file: string,
  opts: OpenOptions,
  fault: { cmd: number; nth: number },
): Promise<string[]> {
  const before = countOpenFds();
  const pinsBefore = opts.pinRootPath === undefined ? [] : readdirSync(opts.pinRootPath);
  const a = attempt(file, opts, fault);
  const where = `${file.split('/').at(-1)}: ${bpfCmdName(fault.cmd)} #${fault.nth} (${a.subject ?? '?'})`;
  const bad: string[] = [];
  const obj = a.obj;
  if (a.error === undefined) {
    // BTF is optional for an object none of whose programs needs it: load() goes on without it.
    if (!TOLERATED.has(fault.cmd) && fault.cmd !== BpfCmd.BTF_LOAD)
      bad.push(`${where}: load() succeeded although the call failed`);
    if (!obj.loaded) bad.push(`${where}: load() returned but loaded is false`);
  } else {
    const err = a.error;
    if (!(err instanceof BpfError)) {
      bad.push(`${where}: untyped error ${String(err)}`);
    } else {
      const cmdName = bpfCmdName(fault.cmd);
      // A retry (map creation without BTF) that fails reports the first attempt's error, on purpose.
      const failedAt = a.calls.indexOf(`${cmdName}!${INJECTED}`);
      const firstTry = a.calls[failedAt - 1]?.startsWith(`${cmdName}!`) ? a.calls[failedAt - 1] : undefined;
      const expected = firstTry === undefined ? INJECTED : Number(firstTry.split('!')[1]);
      if (err.errno !== expected) bad.push(`${where}: errno ${err.errno} ${err.code}`);
      if (fault.cmd === BpfCmd.BTF_LOAD && !/BTF/.test(err.message))
        bad.push(`${where}: the BTF failure is not what the error reports: ${err.command}: ${err.message}`);
      else if (fault.cmd !== BpfCmd.BTF_LOAD && err.command !== cmdName && !err.message.includes(cmdName))
        bad.push(`${where}: error does not name ${cmdName}: ${err.command}: ${err.message}`);
      const subject = a.subject === undefined ? undefined : objectNames(obj).get(a.subject);
      if (subject !== undefined && !err.message.includes(`'${subject}'`))
        bad.push(`${where}: error does not name '${subject}': ${err.message}`);
    }
    if (obj.loaded) bad.push(`${where}: loaded is true after a failure`);
    for (const m of obj.maps.values()) if (m.fd !== -1) bad.push(`${where}: map ${m.name} fd ${m.fd}`);
    for (const p of obj.programs.values())
      if (p.fd !== -1) bad.push(`${where}: program ${p.name} fd ${p.fd}`);
    if (obj.tokenFd !== -1) bad.push(`${where}: tokenFd ${obj.tokenFd}`);
    const after = countOpenFds();
    if (after !== before) bad.push(`${where}: ${after - before} FDs leaked`);
    if (opts.pinRootPath !== undefined) {
      const pins = readdirSync(opts.pinRootPath);
      if (pins.join() !== pinsBefore.join()) bad.push(`${where}: pins left: ${pins.join(', ')}`);
    }
    const left = await remaining(a.created);
    if (left.length > 0) bad.push(`${where}: kernel objects remain: ${left.join(', ')}`);
  }
  obj.close();
  if (countOpenFds() !== before) bad.push(`${where}: FDs leaked after close`);
  return bad;
}

/** Runs every fault point of `file` and returns all violations with the count of points. */
async function sweep(file: string, opts: OpenOptions = {}, before?: () => void) {
  const points = faultPoints(file, opts);
  const bad: string[] = [];
  for (const p of points) {
    before?.();
    bad.push(...(await verify(file, opts, p)));
  }
  return { points: points.length, bad };
}

const canRun = requireKernel('bpf()', isRoot(), 'loading needs root (or a token)');

describe.runIf(canRun)('load() under injected faults', () => {
  beforeAll(() => {
    // Feature probes run once per process: make them run now, outside the counted calls.
    BpfObject.open(fixture('minimal'), { bpfTokenPath: '' }).load();
  });
  afterEach(() => {
    setBpfFaultHook(undefined);
    setBpfTraceHook(undefined);
  });

  it('the hook fails a call without reaching the kernel and is gone when removed', () => {
    const attr = Buffer.alloc(72);
    setBpfFaultHook((cmd) => (cmd === BpfCmd.MAP_CREATE ? 28 : 0));
    expect(() => mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 })).toThrow(
      /BPF_MAP_CREATE \(map of type 2\) failed: ENOSPC/,
    );
    expect(bpfRaw(BpfCmd.MAP_CREATE, attr, 72)).toBe(-28);
    setBpfFaultHook(undefined);
    const fd = mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(fd).toBeGreaterThan(2);
    closeFd(fd);
  });

  it('BTF_LOAD refused: an object that needs BTF fails naming it, one that does not loads without it', async () => {
    const needs = attempt(fixture('sections'), {}, { cmd: BpfCmd.BTF_LOAD, nth: 1 });
    expect(needs.error).toBeInstanceOf(BpfError);
    expect((needs.error as BpfError).message).toMatch(
      /cannot load the object's BTF, which its programs need/,
    );
    expect((needs.error as BpfError).command).toBe('BPF_BTF_LOAD');
    expect(needs.obj.loaded).toBe(false);
    needs.obj.close();
    const optional = attempt(fixture('minimal'), {}, { cmd: BpfCmd.BTF_LOAD, nth: 1 });
    expect(optional.error).toBeUndefined();
    expect(optional.obj.loaded).toBe(true);
    expect(optional.calls[0]).toBe('BPF_BTF_LOAD!12');
    optional.obj.close();
    expect(await remaining(optional.created)).toEqual([]);
  });

  it('every step of minimal, subprogs and tailcall (maps, data, freeze, programs, slots)', async () => {
    for (const name of ['minimal', 'subprogs', 'tailcall']) {
      const r = await sweep(fixture(name));
      expect(r.points).toBeGreaterThan(3);
      expect(r.bad).toEqual([]);
    }
  });

  it('every step of mapinmap (inner templates, outer maps, map-in-map slots)', async () => {
    const r = await sweep(fixture('mapinmap'));
    expect(r.points).toBeGreaterThan(10);
    expect(r.bad).toEqual([]);
  });

  it('every step of maps, pinning into a temporary BPF FS; no pin is left behind', async () => {
    using fs = tempBpffs();
    const pinPath = join(fs.path, 'pinned_hash');
    const clear = () => {
      if (existsSync(pinPath)) unlinkSync(pinPath);
    };
    const r = await sweep(fixture('maps'), { pinRootPath: fs.path }, clear);
    expect(r.points).toBeGreaterThan(30);
    expect(r.bad).toEqual([]);
  });

  it('a pin of another shape at the map name is refused, and nothing is created or removed', async () => {
    using fs = tempBpffs();
    const foreign = mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 3 });
    objPin(foreign, join(fs.path, 'pinned_hash'));
    const foreignId = idOf(foreign, 'map');
    closeFd(foreign);
    const before = countOpenFds();
    const a = attempt(fixture('maps'), { pinRootPath: fs.path });
    expect(a.error).toBeInstanceOf(BpfError);
    const err = a.error as BpfError;
    expect(err.code).toBe('EEXIST');
    expect(err.message).toMatch(/map 'pinned_hash': the map pinned at .*pinned_hash is incompatible: type 2/);
    expect(a.obj.loaded).toBe(false);
    for (const m of a.obj.maps.values()) expect(m.fd).toBe(-1);
    expect(countOpenFds()).toBe(before);
    expect(await remaining(a.created.filter((o) => o.id !== foreignId))).toEqual([]);
    expect(exists('map', foreignId)).toBe(true);
    a.obj.close();
  });
});

describe.runIf(canRun)('load() with a token under injected faults (sandbox)', () => {
  it('TOKEN_CREATE refused, and map/program failures after the token was made, close the token', async () => {
    const r = await runInSandbox<
      Record<string, { message?: string; code?: string; leaked: number; tokenFd: number }>
    >(
      {
        source: `
import { readdirSync } from 'node:fs';
import { BpfObject } from '../../src/runtime/object.js';
import { BpfCmd, setBpfFaultHook } from '../../src/runtime/sys/bpf.js';
const count = () => readdirSync('/proc/self/fd').length;
/** Fails the call of \`cmd\` whose 16-byte name at \`at\` of the attr is \`name\` (any call when name is ''). */
function run(cmd: number, at: number, name: string) {
  const before = count();
  const obj = BpfObject.open('test/fixtures/subprogs.bpf.o', { bpfTokenPath: '/sys/fs/bpf' });
  const nameOf = (a: Buffer) => a.subarray(at, at + 16).toString('latin1').replace(/\\0.*$/s, '');
  setBpfFaultHook((c, a) => (c === cmd && (name === '' || nameOf(a) === name) ? 12 : 0));
  let message: string | undefined;
  let code: string | undefined;
  try { obj.load(); } catch (e) { message = (e as Error).message; code = (e as { code?: string }).code; }
  setBpfFaultHook(undefined);
  const tokenFd = obj.tokenFd;
  const leaked = count() - before;
  obj.close();
  return { message, code, leaked, tokenFd };
}
BpfObject.open('test/fixtures/minimal.bpf.o', { bpfTokenPath: '/sys/fs/bpf' }).load();
console.log(JSON.stringify({
  token: run(BpfCmd.TOKEN_CREATE, 0, ''),
  map: run(BpfCmd.MAP_CREATE, 28, 'subprogs.bss'),
  prog: run(BpfCmd.PROG_LOAD, 48, 'run_calls'),
}));
`,
      },
      { delegateCmds: 'any', delegateMaps: 'any', delegateProgs: 'any', delegateAttachs: 'any' },
    );
    expect(r.token.message).toMatch(/BPF_TOKEN_CREATE/);
    expect(r.token.message).toMatch(/\/sys\/fs\/bpf/);
    expect(r.token.code).toBe('ENOMEM');
    expect(r.map.message).toMatch(/cannot create map '\.bss': BPF_MAP_CREATE/);
    expect(r.prog.message).toMatch(/program 'run_calls' \(section 'syscall'\): BPF_PROG_LOAD/);
    for (const [step, res] of Object.entries(r)) {
      expect(res.message, step).toBeDefined();
      expect(res.leaked, step).toBe(0);
    }
    // After a failed load the token FD is closed, so the object must not report its number any more.
    for (const [step, res] of Object.entries(r)) expect(res.tokenFd, step).toBe(-1);
  });
});
