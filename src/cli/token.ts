/**
 * `bpf-skel token [PATH]`: whether PATH is a BPF FS, with which delegate_* options, whether a BPF token can
 * be made from it here and why not, and what such a token allows.
 *
 * @module
 */
import { readFileSync, statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BpfError } from '../errors.js';
import { closeFd } from '../runtime/sys/fd.js';
import {
  BPF_ATTACH_TYPE_NAMES,
  BPF_CMD_NAMES,
  BPF_MAP_TYPE_NAMES,
  BPF_PROG_TYPE_NAMES,
  formatMask,
  tokenInfo,
} from '../runtime/sys/token.js';
import { createToken, IMPLICIT_TOKEN_PATH } from '../runtime/token.js';

/** `BPF_FS_MAGIC` of statfs(2). */
const BPF_FS_MAGIC = 0xcafe4a11;

/** What `bpf-skel token` found out. */
export interface TokenReport {
  readonly path: string;
  /** Whether PATH is (the root of) a BPF FS mount. */
  readonly bpffs: boolean;
  /** The filesystem at PATH when it is not a BPF FS (`'sysfs'`, `'tmpfs'`, ...), or why it could not be read. */
  readonly filesystem: string;
  /** `delegate_*` options of the mount, as mountinfo shows them. */
  readonly delegate: Readonly<Record<string, string>>;
  /** Whether a token could be made from here. */
  readonly token: boolean;
  /** Why not, in plain words, when it could not. */
  readonly reason: string | undefined;
  /** What the token allows (delegate_* syntax), when one was made. */
  readonly allows: Readonly<Record<'cmds' | 'maps' | 'progs' | 'attachs', string>> | undefined;
}

/** Examines `path` (default `/sys/fs/bpf`) and tries to make a token from it. */
export function tokenReport(path = IMPLICIT_TOKEN_PATH): TokenReport {
  const abs = resolve(path);
  const mount = mountAt(abs);
  let bpffs = false;
  let filesystem = mount?.fstype ?? 'no filesystem is mounted there';
  try {
    bpffs = Number(statfsSync(abs).type) === BPF_FS_MAGIC;
  } catch (err) {
    filesystem = `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const delegate: Record<string, string> = {};
  for (const opt of mount?.superOptions ?? []) {
    const m = /^(delegate_\w+)=(.*)$/.exec(opt);
    if (m !== null) delegate[m[1]] = m[2];
  }
  let reason: string | undefined;
  let allows: TokenReport['allows'];
  try {
    const made = createToken({ mode: 'path', path: abs, source: 'option' }, undefined);
    try {
      const info = tokenInfo(made.fd);
      allows = {
        cmds: formatMask(info.allowedCmds, BPF_CMD_NAMES),
        maps: formatMask(info.allowedMaps, BPF_MAP_TYPE_NAMES),
        progs: formatMask(info.allowedProgs, BPF_PROG_TYPE_NAMES),
        attachs: formatMask(info.allowedAttachs, BPF_ATTACH_TYPE_NAMES),
      };
    } finally {
      closeFd(made.fd);
    }
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    reason = err.message.replace(/\. The token is mandatory because .*$/, '');
  }
  return { path: abs, bpffs, filesystem, delegate, token: reason === undefined, reason, allows };
}

/** The report as lines for a terminal. */
export function formatTokenReport(r: TokenReport): string {
  const lines = [`${r.path}: ${r.bpffs ? 'a BPF FS' : `not a BPF FS (${r.filesystem})`}`];
  if (r.bpffs) {
    const keys = Object.keys(r.delegate);
    lines.push(
      keys.length === 0
        ? '  delegate options: none (mount it with delegate_cmds=..., delegate_maps=..., delegate_progs=..., delegate_attachs=...)'
        : `  delegate options: ${keys.map((k) => `${k}=${r.delegate[k]}`).join(' ')}`,
    );
  }
  if (r.token && r.allows !== undefined) {
    lines.push('  token: can be made here; it allows');
    for (const [k, v] of Object.entries(r.allows)) lines.push(`    ${k.padEnd(8)} ${v}`);
  } else {
    lines.push(`  token: cannot be made here: ${r.reason}`);
  }
  return lines.join('\n');
}

interface MountEntry {
  readonly fstype: string;
  readonly superOptions: readonly string[];
}

/** The mount whose mount point is exactly `path`, from /proc/self/mountinfo (the last one wins: it is on top). */
function mountAt(path: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right === undefined) continue;
    const point = left.split(' ')[4]?.replace(/\\040/g, ' ');
    if (point !== path) continue;
    const [fstype, , superOpts] = right.split(' ');
    found = { fstype, superOptions: (superOpts ?? '').split(',') };
  }
  return found;
}
