/**
 * Object-level BPF tokens, on the real kernel inside a real user namespace with a real delegated BPF FS:
 * the scenarios of shared/design/token.md section 7. Each sandbox runs one script that makes its checks and
 * prints JSON; the assertions are here.
 */
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../src/runtime/object.js';
import { isRoot, requireKernel } from './helpers/kernel.js';
import { runInSandbox } from './helpers/sandbox.js';

const canRun = requireKernel(
  'BPF tokens in user namespaces',
  isRoot(),
  'the sandbox needs root in the initial user namespace',
);

/** What the script's `attempt()` records. */
interface Attempt {
  ok: boolean;
  mode: string;
  code?: string;
  message?: string;
  fd?: number;
  reason?: string;
}

interface MainResult {
  implicit: Attempt;
  disabled: Attempt;
  envDisabled: Attempt;
  envPath: Attempt;
  envOverridden: Attempt;
  negativeFd: Attempt;
  explicitFd: { mode: string; loaded: boolean; link: string };
  explicitFdOwned: { differs: boolean; theirsClosed: boolean; keptOpen: boolean };
  conflictFdPath: string;
  conflictFdEmpty: string;
  conflictNegPath: string;
  notToken: string;
  notOpen: string;
  tooLong: string;
  probes: Record<string, boolean>;
  trace: { seen: Record<string, number>; carried: string[] };
  leak: number;
}

/** Script prelude: imports and a helper that records the outcome of loading an object with some options. */
const PRELUDE = `
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { BpfObject } from '../../src/runtime/object.js';
import { sharedFeatureCache } from '../../src/runtime/probes.js';
import { setBpfTraceHook } from '../../src/runtime/sys/bpf.js';
import { closeFd, openDir } from '../../src/runtime/sys/fd.js';
import { tokenCreate } from '../../src/runtime/sys/token.js';
const FIX = 'test/fixtures/';
const out: Record<string, unknown> = {};
function attempt(file: string, opts: Record<string, unknown> = {}) {
  const obj = BpfObject.open(FIX + file, opts);
  try {
    obj.load();
    return { ok: true, mode: obj.token.mode, fd: obj.tokenFd, reason: obj.token.reason };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { ok: false, code: err.code, message: err.message, mode: obj.token.mode };
  } finally {
    obj.close();
  }
}
// FDs as a set: the fresh process may close descriptors of its own start-up meanwhile, so a leak is an FD
// open at the end that was not open at the start, not a change in the count.
const openFds = () => new Set(readdirSync('/proc/self/fd'));
const newFds = (before: Set<string>) => [...openFds()].filter((fd) => !before.has(fd)).length;
`;

describe.runIf(canRun)('BPF token at the object level', () => {
  it('implicit, disabled, environment and explicit FD modes, probes and FD hygiene (delegated /sys/fs/bpf)', async () => {
    const r = await runInSandbox<MainResult>(
      {
        source: `${PRELUDE}
out.implicit = attempt('minimal.bpf.o');
out.disabled = attempt('minimal.bpf.o', { bpfTokenPath: '' });
process.env.LIBBPF_BPF_TOKEN_PATH = '';
out.envDisabled = attempt('minimal.bpf.o');
process.env.LIBBPF_BPF_TOKEN_PATH = '/sys/fs/bpf';
out.envPath = attempt('minimal.bpf.o');
out.envOverridden = attempt('minimal.bpf.o', { bpfTokenPath: '' });
delete process.env.LIBBPF_BPF_TOKEN_PATH;

// Explicit FD, closed by the caller right after open().
const dir = openDir('/sys/fs/bpf');
const mine = tokenCreate(dir);
closeFd(dir);
const obj = BpfObject.open(FIX + 'minimal.bpf.o', { bpfTokenFd: mine });
closeFd(mine);
obj.load();
out.explicitFd = { mode: obj.token.mode, loaded: obj.loaded, link: readlinkSync('/proc/self/fd/' + obj.tokenFd) };
obj.close();
// With the caller's FD still open, the object's is another one, and close() closes only its own.
const dir2 = openDir('/sys/fs/bpf');
const kept = tokenCreate(dir2);
closeFd(dir2);
const obj2 = BpfObject.open(FIX + 'minimal.bpf.o', { bpfTokenFd: kept });
obj2.load();
const theirs = obj2.tokenFd;
obj2.close();
const open = readdirSync('/proc/self/fd');
out.explicitFdOwned = { differs: theirs !== kept && theirs > 2, theirsClosed: !open.includes(String(theirs)),
  keptOpen: open.includes(String(kept)) };
closeFd(kept);
out.negativeFd = attempt('minimal.bpf.o', { bpfTokenFd: -1 });

// Conflicts and non-token FDs fail at open().
const openError = (opts: Record<string, unknown>) => {
  try { BpfObject.open(FIX + 'minimal.bpf.o', opts).close(); return 'opened'; }
  catch (e) { const err = e as { code?: string; message: string }; return err.code + ': ' + err.message; }
};
out.conflictFdPath = openError({ bpfTokenFd: 0, bpfTokenPath: '/sys/fs/bpf' });
out.conflictFdEmpty = openError({ bpfTokenFd: 0, bpfTokenPath: '' });
out.conflictNegPath = openError({ bpfTokenFd: -1, bpfTokenPath: '/sys/fs/bpf' });
const file = openSync('/proc/self/status', 'r');
out.notToken = openError({ bpfTokenFd: file });
closeSync(file);
out.notOpen = openError({ bpfTokenFd: 987 });
out.tooLong = openError({ bpfTokenPath: '/' + 'x'.repeat(4096) });

// Probe caches: a token object's probes run with its token; the shared (token-less) cache finds nothing here.
const a = BpfObject.open(FIX + 'minimal.bpf.o');
const b = BpfObject.open(FIX + 'minimal.bpf.o');
a.load(); b.load();
out.probes = {
  tokenMapName: a.features.has('map_name'),
  tokenMmapable: a.features.has('mmapable_array'),
  tokenBtf: a.features.has('btf_datasec'),
  sharedMapName: sharedFeatureCache().has('map_name'),
  sharedBtf: sharedFeatureCache().has('btf_datasec'),
  ownCaches: a.features !== b.features && a.features !== sharedFeatureCache(),
  bothLoaded: a.loaded && b.loaded && a.tokenFd !== b.tokenFd,
};
a.close(); b.close();

// Exactly four commands carry the token, each with BPF_F_TOKEN_FD in its flag word: maps.bpf.o makes every
// kind of map, and an extension program of subprogs.bpf.o opens its target's BTF by id. (This kernel then
// refuses the extension itself, after the calls traced here.)
const seen: Record<string, number> = {};
const carried: string[] = [];
const offsets: Record<number, [number, number]> = { 0: [76, 16], 5: [144, 44], 18: [36, 32], 19: [12, 8] };
const objs: BpfObject[] = [];
const isToken = (fd: number) => fd > 2 && objs.some((o) => o.tokenFd === fd);
setBpfTraceHook((cmd, attr, size) => {
  seen[cmd] = (seen[cmd] ?? 0) + 1;
  const o = offsets[cmd];
  if (o !== undefined && size > o[0] && isToken(attr.readInt32LE(o[0])) && (attr.readUInt32LE(o[1]) & 0x10000) !== 0) {
    carried.push(String(cmd));
  }
  // TOKEN_CREATE makes tokens, and OBJ_GET_INFO_BY_FD on a token (bpf_fd @0) asks what it allows for an
  // error message: both name a token without using it for permission.
  const aboutToken = cmd === 36 || (cmd === 15 && isToken(attr.readInt32LE(0)));
  for (let off = 0; off + 4 <= size; off += 4) {
    if (o === undefined && !aboutToken && isToken(attr.readInt32LE(off))) carried.push('other:' + cmd + '@' + off);
  }
});
const t = BpfObject.open(FIX + 'maps.bpf.o', { pinRootPath: '/sys/fs/bpf' });
objs.push(t);
t.load();
const target = BpfObject.open(FIX + 'subprogs.bpf.o');
objs.push(target);
target.load();
const ext = BpfObject.open(FIX + 'freplace.bpf.o');
objs.push(ext);
ext.programs.get('new_mix')!.setAttachTarget(target.programs.get('run_calls')!.fd);
try { ext.load(); } catch (e) { out.extError = (e as Error).message.slice(0, 200); }
setBpfTraceHook(undefined);
out.trace = { seen, carried: [...new Set(carried)].sort(), maps: t.maps.size };
for (const o of objs) o.close();

// No FD leak across 1,000 token open/load/close cycles.
const before = openFds();
for (let i = 0; i < 1000; i++) { const o = BpfObject.open(FIX + 'minimal.bpf.o'); o.load(); o.close(); }
out.leak = newFds(before);
console.log(JSON.stringify(out));
`,
      },
      {
        delegateCmds: 'any',
        delegateMaps: 'any',
        delegateProgs: 'any',
        delegateAttachs: 'any',
        timeoutMs: 120_000,
      },
    );
    expect(r.implicit).toMatchObject({ ok: true, mode: 'implicit' });
    expect(r.implicit.fd).toBeGreaterThan(2);
    expect(r.disabled).toMatchObject({ ok: false, code: 'EPERM', mode: 'disabled' });
    expect(r.disabled.message ?? '').toMatch(/CAP_BPF .* or a BPF token/);
    expect(r.envDisabled).toMatchObject({ ok: false, code: 'EPERM', mode: 'disabled' });
    expect(r.envPath).toMatchObject({ ok: true, mode: 'path' });
    expect(r.envOverridden).toMatchObject({ ok: false, code: 'EPERM', mode: 'disabled' });
    expect(r.explicitFd).toMatchObject({ mode: 'fd', loaded: true });
    expect(r.explicitFd.link).toMatch(/bpf-token/);
    expect(r.explicitFdOwned).toEqual({ differs: true, theirsClosed: true, keptOpen: true });
    expect(r.negativeFd).toMatchObject({ ok: false, code: 'EPERM', mode: 'disabled' });
    expect(r.conflictFdPath).toMatch(/^EINVAL: .*bpfTokenFd.*bpfTokenPath/);
    expect(r.conflictFdEmpty).toMatch(/^EINVAL: /);
    expect(r.conflictNegPath).toMatch(/^EINVAL: /);
    expect(r.notToken).toMatch(/not a BPF token/);
    expect(r.notOpen).toMatch(/^EBADF: /);
    expect(r.tooLong).toMatch(/^ENAMETOOLONG: /);
    expect(r.probes).toEqual({
      tokenMapName: true,
      tokenMmapable: true,
      tokenBtf: true,
      sharedMapName: false,
      sharedBtf: false,
      ownCaches: true,
      bothLoaded: true,
    });
    // MAP_CREATE (0), PROG_LOAD (5), BTF_LOAD (18) and BTF_GET_FD_BY_ID (19) carried it; nothing else did.
    expect(r.trace.carried).toEqual(['0', '18', '19', '5']);
    expect(r.trace.seen['2']).toBeGreaterThan(0); // element updates ran, without the token
    expect(r.leak).toBe(0);
  }, 180_000);

  it('explicit path at a custom directory; implicit finds nothing there', async () => {
    const r = await runInSandbox<Record<string, Attempt>>(
      {
        source: `${PRELUDE}
out.implicit = attempt('minimal.bpf.o');
out.path = attempt('minimal.bpf.o', { bpfTokenPath: '/run/bpfskel-delegated' });
out.notBpffs = attempt('minimal.bpf.o', { bpfTokenPath: '/tmp' });
console.log(JSON.stringify(out));
`,
      },
      {
        at: '/run/bpfskel-delegated',
        delegateCmds: 'any',
        delegateMaps: 'any',
        delegateProgs: 'any',
        delegateAttachs: 'any',
      },
    );
    expect(r.implicit).toMatchObject({ ok: false, code: 'EPERM', mode: 'implicit' });
    expect(r.implicit.message ?? '').toMatch(/no BPF token: .*\/sys\/fs\/bpf/);
    expect(r.path).toMatchObject({ ok: true, mode: 'path' });
    expect(r.notBpffs).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(r.notBpffs.message ?? '').toMatch(/not a BPF FS/);
  }, 60_000);

  it('a BPF FS without delegation: explicit path fails with ENOENT explained, implicit goes on without', async () => {
    const r = await runInSandbox<Record<string, Attempt>>({
      source: `${PRELUDE}
out.path = attempt('minimal.bpf.o', { bpfTokenPath: '/sys/fs/bpf' });
out.implicit = attempt('minimal.bpf.o');
console.log(JSON.stringify(out));
`,
    });
    expect(r.path).toMatchObject({ ok: false, code: 'ENOENT', mode: 'path' });
    expect(r.path.message ?? '').toMatch(/delegate_/);
    expect(r.implicit).toMatchObject({ ok: false, code: 'EPERM', mode: 'implicit' });
  }, 60_000);

  it('partial delegation names what is missing and leaves nothing behind', async () => {
    const r = await runInSandbox<{ noTracepoint: Attempt; noRingbuf: Attempt; leak: number }>(
      {
        source: `${PRELUDE}
const before = openFds();
out.noTracepoint = attempt('minimal.bpf.o');
out.noRingbuf = attempt('ringbuf.bpf.o');
out.leak = newFds(before);
console.log(JSON.stringify(out));
`,
      },
      {
        delegateCmds:
          'map_create:prog_load:btf_load:map_update_elem:map_freeze:obj_get_info_by_fd:prog_bind_map',
        delegateMaps: 'array:hash',
        delegateProgs: 'socket_filter',
        delegateAttachs: 'any',
      },
    );
    expect(r.noTracepoint).toMatchObject({ ok: false, code: 'EPERM', mode: 'implicit' });
    expect(r.noTracepoint.message ?? '').toMatch(
      /program 'handle_getpid'.*program type 'tracepoint' \(delegate_progs\)/s,
    );
    expect(r.noRingbuf).toMatchObject({ ok: false, code: 'EPERM' });
    expect(r.noRingbuf.message ?? '').toMatch(/map 'rb'.*map type 'ringbuf' \(delegate_maps\)/s);
    expect(r.leak).toBe(0);
  }, 60_000);

  it('without BTF_LOAD delegated, BTF-optional objects load without BTF and BTF-mandatory ones explain', async () => {
    const r = await runInSandbox<Record<string, Attempt>>(
      {
        source: `${PRELUDE}
out.optional = attempt('minimal.bpf.o');
out.mandatory = attempt('sections.bpf.o');
console.log(JSON.stringify(out));
`,
      },
      {
        delegateCmds: 'map_create:prog_load:map_update_elem:map_freeze:obj_get_info_by_fd:prog_bind_map',
        delegateMaps: 'any',
        delegateProgs: 'any',
        delegateAttachs: 'any',
      },
    );
    expect(r.optional).toMatchObject({ ok: true, mode: 'implicit' });
    expect(r.mandatory).toMatchObject({ ok: false, code: 'EPERM' });
    expect(r.mandatory.message ?? '').toMatch(
      /BTF, which its programs need.*command 'btf_load' \(delegate_cmds\)/s,
    );
  }, 60_000);
});

describe.runIf(canRun)('implicit mode with nothing there (host, as root)', () => {
  it('loads without a token and keeps the reason', () => {
    using obj = BpfObject.open(new URL('./fixtures/minimal.bpf.o', import.meta.url).pathname);
    obj.load();
    expect(obj.token.mode).toBe('implicit');
    expect(obj.tokenFd).toBe(-1);
    expect(obj.token.reason).toMatch(/BPF_TOKEN_CREATE/);
  });
});
