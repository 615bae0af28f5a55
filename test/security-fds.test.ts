/**
 * FD hygiene and pins: every FD the loader makes is close-on-exec (a child process sees none of them, with
 * and without a token), pins get the kernel's default owner-only mode, and error messages carry nothing
 * from a hostile object that could act on a terminal.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpfError, VerifierError } from '../src/errors.js';
import { BpfObject } from '../src/runtime/object.js';
import { RingBuffer } from '../src/runtime/ringbuf.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { mapCreate, objPin } from '../src/runtime/sys/map.js';
import { ensureTracefs, isRoot, openFds, requireKernel, tempBpffs } from './helpers/kernel.js';
import { runInSandbox } from './helpers/sandbox.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', `${name}.bpf.o`);
const O_CLOEXEC = 0o2000000;

/** Whether `text` has C0 control characters other than tab and newline, or DEL. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}

/** `flags:` of /proc/self/fdinfo/<fd>, octal. */
function fdFlags(fd: number): number {
  const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (m === null) throw new Error(`no flags for fd ${fd}`);
  return Number.parseInt(m[1], 8);
}

/** What a child process sees in its own /proc/self/fd, one link target per FD. */
function childFds(): string[] {
  const r = spawnSync('ls', ['-l', '/proc/self/fd'], { encoding: 'utf8', stdio: 'pipe' });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').flatMap((l) => (l.includes(' -> ') ? [l.split(' -> ')[1]] : []));
}

const canRun = requireKernel('bpf()', isRoot(), 'loading needs root (or a token)');

describe.runIf(canRun)('FDs are close-on-exec', () => {
  it('maps, programs, BTF, links, perf events and ring buffer epoll: O_CLOEXEC, and a child sees none', async () => {
    ensureTracefs();
    const before = openFds();
    using obj = BpfObject.open(fixture('ringbuf'), { bpfTokenPath: '' });
    obj.load();
    obj.attach();
    using rb = new RingBuffer(obj.maps.get('rb') as NonNullable<ReturnType<typeof obj.maps.get>>);
    rb.consume(() => {});
    // A poll that finds a ring empty makes its epoll FD; the exec/exit ring above may never be empty.
    using quiet = BpfObject.open(fixture('ringdiscard'), { bpfTokenPath: '' });
    quiet.load();
    using qrb = new RingBuffer(quiet.maps.get('rb') as NonNullable<ReturnType<typeof quiet.maps.get>>);
    const got: unknown[] = [];
    expect(await qrb.poll(1, (r) => got.push(r)), JSON.stringify(got)).toBe(0);
    const made = [...openFds()].filter(([fd]) => !before.has(fd));
    const kinds = new Set(made.map(([, what]) => what));
    // The object's own kinds must all be there, or the check below proves nothing.
    for (const k of ['anon_inode:bpf-map', 'anon_inode:bpf-prog', 'anon_inode:btf', 'anon_inode:[eventpoll]'])
      expect(kinds, [...kinds].join(', ')).toContain(k);
    expect([...kinds].some((k) => /perf_event|bpf_link|bpf-link/.test(k))).toBe(true);
    for (const [fd, what] of made) expect(fdFlags(fd) & O_CLOEXEC, `fd ${fd} (${what})`).toBe(O_CLOEXEC);
    const seen = childFds();
    // The child gets stdio and whatever the test runner itself passes down (its IPC socket), nothing of ours.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(
      seen.filter((l) => l.startsWith('anon_inode:')),
      seen.join(', '),
    ).toEqual([]);
  });

  it('with a token in a user namespace: the token and everything made with it stay out of a child', async () => {
    const r = await runInSandbox<{ tokenFd: number; flags: Record<string, number>; child: string[] }>(
      {
        source: `
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { BpfObject } from '../../src/runtime/object.js';
import { RingBuffer } from '../../src/runtime/ringbuf.js';
const list = () => new Map(readdirSync('/proc/self/fd').map((f) => { try { return [f, readlinkSync('/proc/self/fd/' + f)]; } catch { return [f, '']; } }));
const before = list();
const obj = BpfObject.open('test/fixtures/ringdiscard.bpf.o', { bpfTokenPath: '/sys/fs/bpf' });
obj.load();
const rb = new RingBuffer(obj.maps.get('rb')!);
const flags: Record<string, number> = {};
for (const [fd, what] of list()) {
  if (before.has(fd) || what === '') continue;
  const m = /^flags:\\s+([0-7]+)$/m.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8'));
  flags[fd + ' ' + what] = m === null ? -1 : Number.parseInt(m[1], 8);
}
const out = spawnSync('ls', ['-l', '/proc/self/fd'], { encoding: 'utf8', stdio: 'pipe' });
const child = out.stdout.split('\\n').flatMap((l) => (l.includes(' -> ') ? [l.split(' -> ')[1]] : []));
if (child.length < 3) throw new Error('child listing: ' + out.stdout + out.stderr);
const tokenFd = obj.tokenFd;
rb.close();
obj.close();
console.log(JSON.stringify({ tokenFd, flags, child }));
`,
      },
      { delegateCmds: 'any', delegateMaps: 'any', delegateProgs: 'any', delegateAttachs: 'any' },
    );
    expect(r.tokenFd).toBeGreaterThan(2);
    const names = Object.keys(r.flags);
    expect(names.some((n) => n.includes('bpf-token'))).toBe(true);
    expect(names.some((n) => n.includes('bpf-map'))).toBe(true);
    for (const [what, flags] of Object.entries(r.flags)) expect(flags & O_CLOEXEC, what).toBe(O_CLOEXEC);
    expect(r.child.filter((l) => l.startsWith('anon_inode:'))).toEqual([]);
  });
});

describe.runIf(canRun)('pins', () => {
  it("map pins by the loader and link pins get the kernel's default mode: 0600 less the umask", () => {
    ensureTracefs();
    using fs = tempBpffs();
    const umask = process.umask();
    const expected = 0o600 & ~umask;
    // The kernel's default, for comparison: a map pinned with the bare syscall.
    const raw = mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 });
    objPin(raw, join(fs.path, 'raw'));
    closeFd(raw);
    const rawMode = statSync(join(fs.path, 'raw')).mode & 0o7777;
    expect(rawMode).toBe(expected);
    using maps = BpfObject.open(fixture('maps'), { bpfTokenPath: '', pinRootPath: fs.path });
    maps.load();
    expect(statSync(join(fs.path, 'pinned_hash')).mode & 0o7777).toBe(rawMode);
    using min = BpfObject.open(fixture('minimal'), { bpfTokenPath: '' });
    min.load();
    min.attach();
    const link = min.links.get('handle_getpid');
    expect(link).toBeDefined();
    link?.pin(join(fs.path, 'link'));
    expect(statSync(join(fs.path, 'link')).mode & 0o7777).toBe(rawMode);
    // Nobody but the owner may open them.
    expect(rawMode & 0o077).toBe(0);
  });
});

describe('what error messages carry', () => {
  it('terminal control characters from a section name are not passed through raw', () => {
    const bytes = Buffer.from(readFileSync(fixture('minimal')));
    const from = 'tp/syscalls/sys_enter_getpid';
    const to = 'zz\x1b[2J\x1b]0;pwned\x07enter_getpid';
    expect(to.length).toBe(from.length);
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1))
      bytes.write(to, at, 'latin1');
    let message = '';
    try {
      BpfObject.open(new Uint8Array(bytes));
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/unknown program section name/);
    // ESC and BEL would clear the screen and set the terminal title when the message is printed.
    expect(hasControl(message), JSON.stringify(message)).toBe(false);
  });

  it.runIf(canRun)('a verifier rejection says which program and why, and not more than the log', () => {
    const obj = BpfObject.open(fixture('bad_verifier'), { bpfTokenPath: '' });
    try {
      obj.load();
      expect.unreachable('bad_prog must be rejected');
    } catch (e) {
      expect(e).toBeInstanceOf(VerifierError);
      const v = e as VerifierError;
      const lines = v.message.split('\n');
      // A header, at most 8 lines of the log's end, and where the whole log is.
      expect(lines.length).toBeLessThanOrEqual(10);
      for (const l of lines.slice(1, -1)) expect(v.log).toContain(l.trim());
      expect(hasControl(v.message)).toBe(false);
      // No kernel addresses (the verifier prints none at log level 1 for an unprivileged-safe log).
      expect(v.message).not.toMatch(/ffff[0-9a-f]{12}/);
    } finally {
      obj.close();
    }
  });
});
