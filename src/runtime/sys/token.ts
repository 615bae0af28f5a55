/**
 * BPF tokens at the syscall level: `BPF_TOKEN_CREATE`, what a token allows, and the names the kernel uses
 * for the bits of a token's four masks (the same names the BPF FS `delegate_*` mount options accept).
 *
 * @module
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { BpfError } from '../../errors.js';
import { BpfCmd, bpfFailure, bpfRaw } from './bpf.js';
import { Errno, errnoName } from './errno.js';
import { addressOf } from './libc.js';

/**
 * `enum bpf_cmd` names by value, lowercase without the `BPF_` prefix (`delegate_cmds` vocabulary). Value 10
 * also goes by `prog_run`.
 */
export const BPF_CMD_NAMES: readonly string[] = [
  'map_create',
  'map_lookup_elem',
  'map_update_elem',
  'map_delete_elem',
  'map_get_next_key',
  'prog_load',
  'obj_pin',
  'obj_get',
  'prog_attach',
  'prog_detach',
  'prog_test_run',
  'prog_get_next_id',
  'map_get_next_id',
  'prog_get_fd_by_id',
  'map_get_fd_by_id',
  'obj_get_info_by_fd',
  'prog_query',
  'raw_tracepoint_open',
  'btf_load',
  'btf_get_fd_by_id',
  'task_fd_query',
  'map_lookup_and_delete_elem',
  'map_freeze',
  'btf_get_next_id',
  'map_lookup_batch',
  'map_lookup_and_delete_batch',
  'map_update_batch',
  'map_delete_batch',
  'link_create',
  'link_update',
  'link_get_fd_by_id',
  'link_get_next_id',
  'enable_stats',
  'iter_create',
  'link_detach',
  'prog_bind_map',
  'token_create',
  'prog_stream_read_by_fd',
];

/** `enum bpf_map_type` names by value, without `BPF_MAP_TYPE_` (`delegate_maps` vocabulary). */
export const BPF_MAP_TYPE_NAMES: readonly string[] = [
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'sockmap',
  'cpumap',
  'xskmap',
  'sockhash',
  'cgroup_storage',
  'reuseport_sockarray',
  'percpu_cgroup_storage',
  'queue',
  'stack',
  'sk_storage',
  'devmap_hash',
  'struct_ops',
  'ringbuf',
  'inode_storage',
  'task_storage',
  'bloom_filter',
  'user_ringbuf',
  'cgrp_storage',
  'arena',
];

/** `enum bpf_prog_type` names by value, without `BPF_PROG_TYPE_` (`delegate_progs` vocabulary). */
export const BPF_PROG_TYPE_NAMES: readonly string[] = [
  'unspec',
  'socket_filter',
  'kprobe',
  'sched_cls',
  'sched_act',
  'tracepoint',
  'xdp',
  'perf_event',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'raw_tracepoint',
  'cgroup_sock_addr',
  'lwt_seg6local',
  'lirc_mode2',
  'sk_reuseport',
  'flow_dissector',
  'cgroup_sysctl',
  'raw_tracepoint_writable',
  'cgroup_sockopt',
  'tracing',
  'struct_ops',
  'ext',
  'lsm',
  'sk_lookup',
  'syscall',
  'netfilter',
];

/** `enum bpf_attach_type` names by value, without `BPF_` (`delegate_attachs` vocabulary). */
export const BPF_ATTACH_TYPE_NAMES: readonly string[] = [
  'cgroup_inet_ingress',
  'cgroup_inet_egress',
  'cgroup_inet_sock_create',
  'cgroup_sock_ops',
  'sk_skb_stream_parser',
  'sk_skb_stream_verdict',
  'cgroup_device',
  'sk_msg_verdict',
  'cgroup_inet4_bind',
  'cgroup_inet6_bind',
  'cgroup_inet4_connect',
  'cgroup_inet6_connect',
  'cgroup_inet4_post_bind',
  'cgroup_inet6_post_bind',
  'cgroup_udp4_sendmsg',
  'cgroup_udp6_sendmsg',
  'lirc_mode2',
  'flow_dissector',
  'cgroup_sysctl',
  'cgroup_udp4_recvmsg',
  'cgroup_udp6_recvmsg',
  'cgroup_getsockopt',
  'cgroup_setsockopt',
  'trace_raw_tp',
  'trace_fentry',
  'trace_fexit',
  'modify_return',
  'lsm_mac',
  'trace_iter',
  'cgroup_inet4_getpeername',
  'cgroup_inet6_getpeername',
  'cgroup_inet4_getsockname',
  'cgroup_inet6_getsockname',
  'xdp_devmap',
  'cgroup_inet_sock_release',
  'xdp_cpumap',
  'sk_lookup',
  'xdp',
  'sk_skb_verdict',
  'sk_reuseport_select',
  'sk_reuseport_select_or_migrate',
  'perf_event',
  'trace_kprobe_multi',
  'lsm_cgroup',
  'struct_ops',
  'netfilter',
  'tcx_ingress',
  'tcx_egress',
  'trace_uprobe_multi',
  'cgroup_unix_connect',
  'cgroup_unix_sendmsg',
  'cgroup_unix_recvmsg',
  'cgroup_unix_getpeername',
  'cgroup_unix_getsockname',
  'netkit_primary',
  'netkit_peer',
  'trace_kprobe_session',
  'trace_uprobe_session',
];

/** The four masks of what a token allows: bit `n` set allows value `n` of the matching kernel enum. */
export interface TokenMasks {
  readonly allowedCmds: bigint;
  readonly allowedMaps: bigint;
  readonly allowedProgs: bigint;
  readonly allowedAttachs: bigint;
}

/** What a token allows, and where that was read from. */
export interface TokenInfo extends TokenMasks {
  /** `'info'`: `BPF_OBJ_GET_INFO_BY_FD` (kernel 6.17+); `'fdinfo'`: `/proc/self/fdinfo/<fd>` (6.9+). */
  readonly source: 'info' | 'fdinfo';
}

/** The value a mask has when the BPF FS option was `any`: every bit set. */
export const ALL_ALLOWED = 0xffff_ffff_ffff_ffffn;

/** `sizeof(struct bpf_token_info)`: four u64 masks. */
const TOKEN_INFO_SIZE = 32;
/** Size of the `info` member of `union bpf_attr`: bpf_fd u32 @0, info_len u32 @4, info u64 @8. */
const INFO_ATTR_SIZE = 16;
/** Size of the `token_create` member of `union bpf_attr`: flags u32 @0, bpffs_fd u32 @4. */
const TOKEN_CREATE_ATTR_SIZE = 8;

/**
 * `bpf(BPF_TOKEN_CREATE, { flags: 0, bpffs_fd })`: a token FD from an open directory FD of the root of a
 * BPF FS mount. Throws {@link BpfError} (`command: 'BPF_TOKEN_CREATE'`) with the kernel's errno.
 */
export function tokenCreate(bpffsFd: number): number {
  const ret = tokenCreateRaw(bpffsFd);
  if (ret < 0) throw bpfFailure(BpfCmd.TOKEN_CREATE, -ret, `BPF FS fd ${bpffsFd}`);
  return ret;
}

/** {@link tokenCreate} that returns `-errno` instead of throwing. */
export function tokenCreateRaw(bpffsFd: number): number {
  const attr = Buffer.alloc(TOKEN_CREATE_ATTR_SIZE);
  attr.writeUInt32LE(0, 0);
  attr.writeUInt32LE(bpffsFd, 4);
  return bpfRaw(BpfCmd.TOKEN_CREATE, attr, TOKEN_CREATE_ATTR_SIZE);
}

/**
 * Parses the token lines of an fdinfo text (`allowed_cmds:\tany` or `allowed_maps:\t0x4`). Returns
 * `undefined` when the text has none of them, which means the FD is not a BPF token.
 */
export function parseTokenFdinfo(text: string): TokenMasks | undefined {
  const values = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^(allowed_(?:cmds|maps|progs|attachs)):\s*(\S+)\s*$/.exec(line);
    if (m === null) continue;
    const raw = m[2];
    if (raw === 'any') values.set(m[1], ALL_ALLOWED);
    else if (/^(0x[0-9a-f]+|\d+)$/i.test(raw)) values.set(m[1], BigInt(raw));
  }
  const cmds = values.get('allowed_cmds');
  const maps = values.get('allowed_maps');
  const progs = values.get('allowed_progs');
  const attachs = values.get('allowed_attachs');
  if (cmds === undefined || maps === undefined || progs === undefined || attachs === undefined)
    return undefined;
  return { allowedCmds: cmds, allowedMaps: maps, allowedProgs: progs, allowedAttachs: attachs };
}

type FdinfoRead = { kind: 'text'; text: string } | { kind: 'closed' } | { kind: 'no-proc' };

function readFdinfo(fd: number): FdinfoRead {
  try {
    return { kind: 'text', text: readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // ENOENT for the FD's entry means the FD is not open, unless /proc itself is missing.
    return existsSync('/proc/self/fdinfo') ? { kind: 'closed' } : { kind: 'no-proc' };
  }
}

/**
 * Whether `fd` is a BPF token: `true`/`false`, or `undefined` when this cannot be told because `/proc` is
 * not mounted.
 *
 * The test is the FD's `/proc/self/fdinfo` entry: the kernel writes `allowed_cmds:` ... lines there for token
 * files and for nothing else, on every kernel that has tokens (6.9+). The alternatives are weaker:
 * `BPF_OBJ_GET_INFO_BY_FD` also succeeds on maps, programs, links and BTF (a `struct bpf_btf_info` is 32
 * bytes too, so even the returned length does not tell), and only knows tokens from 6.17 on; the
 * `/proc/self/fd` link name of a token is that of a pseudo file on the BPF FS, which a user can imitate with a
 * real file of the same name.
 */
export function isBpfToken(fd: number): boolean | undefined {
  const read = readFdinfo(fd);
  if (read.kind === 'no-proc') return undefined;
  return read.kind === 'text' && parseTokenFdinfo(read.text) !== undefined;
}

/** What `fd` is, as `/proc/self/fd/<fd>` names it (`'anon_inode:bpf-map'`), or `undefined`. */
export function describeFd(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * What the token `fd` allows. Checks first that `fd` is a token (see {@link isBpfToken}), then asks the
 * kernel with `BPF_OBJ_GET_INFO_BY_FD` (exact masks; 6.17+) and falls back to the fdinfo lines on kernels
 * that reject that call for tokens (`EINVAL`). Throws {@link BpfError} `EBADF` for a closed FD and `EINVAL`
 * for an FD that is not a token. Without `/proc` the FD cannot be checked and is taken to be a token.
 */
export function tokenInfo(fd: number): TokenInfo {
  const command = 'BPF_OBJ_GET_INFO_BY_FD';
  const read = readFdinfo(fd);
  if (read.kind === 'closed') {
    throw new BpfError(`fd ${fd} is not open`, { code: 'EBADF', errno: Errno.EBADF, command });
  }
  const fromFdinfo = read.kind === 'text' ? parseTokenFdinfo(read.text) : undefined;
  if (read.kind === 'text' && fromFdinfo === undefined) {
    const what = describeFd(fd);
    throw new BpfError(`fd ${fd} is not a BPF token${what === undefined ? '' : ` (it is ${what})`}`, {
      code: 'EINVAL',
      errno: Errno.EINVAL,
      command,
    });
  }
  const info = Buffer.alloc(TOKEN_INFO_SIZE);
  const attr = Buffer.alloc(INFO_ATTR_SIZE);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(TOKEN_INFO_SIZE, 4);
  attr.writeBigUInt64LE(addressOf(info), 8);
  const ret = bpfRaw(BpfCmd.OBJ_GET_INFO_BY_FD, attr, INFO_ATTR_SIZE);
  if (ret >= 0) {
    return {
      allowedCmds: info.readBigUInt64LE(0),
      allowedMaps: info.readBigUInt64LE(8),
      allowedProgs: info.readBigUInt64LE(16),
      allowedAttachs: info.readBigUInt64LE(24),
      source: 'info',
    };
  }
  if (-ret === Errno.EINVAL && fromFdinfo !== undefined) return { ...fromFdinfo, source: 'fdinfo' };
  const code = errnoName(-ret);
  throw new BpfError(`${command} (token fd ${fd}) failed: ${code}`, { code, errno: -ret, command });
}

/** Whether bit `value` of `mask` is set. */
export function maskAllows(mask: bigint, value: number): boolean {
  return value >= 0 && value < 64 && ((mask >> BigInt(value)) & 1n) === 1n;
}

/** The name of `value` in one of the tables above, or the number as text when the table has no name. */
export function enumName(names: readonly string[], value: number): string {
  return names[value] ?? String(value);
}

/**
 * A mask in the syntax of the `delegate_*` options: `'any'` when every named value is allowed, `'none'` when
 * none is, else the names joined with `':'` (values without a name as numbers).
 */
export function formatMask(mask: bigint, names: readonly string[]): string {
  const set: string[] = [];
  let all = true;
  for (let v = 0; v < 64; v++) {
    const allowed = maskAllows(mask, v);
    if (v < names.length && !allowed) all = false;
    if (allowed) set.push(enumName(names, v));
  }
  if (all) return 'any';
  return set.length === 0 ? 'none' : set.join(':');
}
