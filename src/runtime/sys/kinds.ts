/**
 * The kernel's kind enums as data: program types, map types, attach types and link types.
 *
 * Values are those of this kernel's BTF (`enum bpf_prog_type`, `enum bpf_map_type`, `enum bpf_attach_type`,
 * `enum bpf_link_type`); names are the enumerator names lower-cased with the prefix stripped, which is what
 * bpftool prints (`BPF_PROG_TYPE_SCHED_CLS` is `'sched_cls'`, `BPF_CGROUP_INET_INGRESS` is
 * `'cgroup_inet_ingress'`). Where the kernel keeps a deprecated alias of a value, only the current name is
 * listed, so every number has exactly one name.
 *
 * @module
 */

/** `enum bpf_prog_type`: program type name to number. */
export const ProgramTypes = {
  unspec: 0,
  socket_filter: 1,
  kprobe: 2,
  sched_cls: 3,
  sched_act: 4,
  tracepoint: 5,
  xdp: 6,
  perf_event: 7,
  cgroup_skb: 8,
  cgroup_sock: 9,
  lwt_in: 10,
  lwt_out: 11,
  lwt_xmit: 12,
  sock_ops: 13,
  sk_skb: 14,
  cgroup_device: 15,
  sk_msg: 16,
  raw_tracepoint: 17,
  cgroup_sock_addr: 18,
  lwt_seg6local: 19,
  lirc_mode2: 20,
  sk_reuseport: 21,
  flow_dissector: 22,
  cgroup_sysctl: 23,
  raw_tracepoint_writable: 24,
  cgroup_sockopt: 25,
  tracing: 26,
  struct_ops: 27,
  ext: 28,
  lsm: 29,
  sk_lookup: 30,
  syscall: 31,
  netfilter: 32,
} as const;

/** `enum bpf_map_type`: map type name to number. */
export const MapTypes = {
  unspec: 0,
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  cgroup_array: 8,
  lru_hash: 9,
  lru_percpu_hash: 10,
  lpm_trie: 11,
  array_of_maps: 12,
  hash_of_maps: 13,
  devmap: 14,
  sockmap: 15,
  cpumap: 16,
  xskmap: 17,
  sockhash: 18,
  cgroup_storage: 19,
  reuseport_sockarray: 20,
  percpu_cgroup_storage: 21,
  queue: 22,
  stack: 23,
  sk_storage: 24,
  devmap_hash: 25,
  struct_ops: 26,
  ringbuf: 27,
  inode_storage: 28,
  task_storage: 29,
  bloom_filter: 30,
  user_ringbuf: 31,
  cgrp_storage: 32,
  arena: 33,
} as const;

/** `enum bpf_attach_type`: attach type name to number (the enumerator without `BPF_`). */
export const AttachTypes = {
  cgroup_inet_ingress: 0,
  cgroup_inet_egress: 1,
  cgroup_inet_sock_create: 2,
  cgroup_sock_ops: 3,
  sk_skb_stream_parser: 4,
  sk_skb_stream_verdict: 5,
  cgroup_device: 6,
  sk_msg_verdict: 7,
  cgroup_inet4_bind: 8,
  cgroup_inet6_bind: 9,
  cgroup_inet4_connect: 10,
  cgroup_inet6_connect: 11,
  cgroup_inet4_post_bind: 12,
  cgroup_inet6_post_bind: 13,
  cgroup_udp4_sendmsg: 14,
  cgroup_udp6_sendmsg: 15,
  lirc_mode2: 16,
  flow_dissector: 17,
  cgroup_sysctl: 18,
  cgroup_udp4_recvmsg: 19,
  cgroup_udp6_recvmsg: 20,
  cgroup_getsockopt: 21,
  cgroup_setsockopt: 22,
  trace_raw_tp: 23,
  trace_fentry: 24,
  trace_fexit: 25,
  modify_return: 26,
  lsm_mac: 27,
  trace_iter: 28,
  cgroup_inet4_getpeername: 29,
  cgroup_inet6_getpeername: 30,
  cgroup_inet4_getsockname: 31,
  cgroup_inet6_getsockname: 32,
  xdp_devmap: 33,
  cgroup_inet_sock_release: 34,
  xdp_cpumap: 35,
  sk_lookup: 36,
  xdp: 37,
  sk_skb_verdict: 38,
  sk_reuseport_select: 39,
  sk_reuseport_select_or_migrate: 40,
  perf_event: 41,
  trace_kprobe_multi: 42,
  lsm_cgroup: 43,
  struct_ops: 44,
  netfilter: 45,
  tcx_ingress: 46,
  tcx_egress: 47,
  trace_uprobe_multi: 48,
  cgroup_unix_connect: 49,
  cgroup_unix_sendmsg: 50,
  cgroup_unix_recvmsg: 51,
  cgroup_unix_getpeername: 52,
  cgroup_unix_getsockname: 53,
  netkit_primary: 54,
  netkit_peer: 55,
  trace_kprobe_session: 56,
  trace_uprobe_session: 57,
} as const;

/** `enum bpf_link_type`: link type name to number. */
export const LinkTypes = {
  unspec: 0,
  raw_tracepoint: 1,
  tracing: 2,
  cgroup: 3,
  iter: 4,
  netns: 5,
  xdp: 6,
  perf_event: 7,
  kprobe_multi: 8,
  struct_ops: 9,
  netfilter: 10,
  tcx: 11,
  uprobe_multi: 12,
  netkit: 13,
  sockmap: 14,
} as const;

/** A program type name, e.g. `'xdp'`. */
export type ProgramType = keyof typeof ProgramTypes;
/** A map type name, e.g. `'ringbuf'`. */
export type MapType = keyof typeof MapTypes;
/** An attach type name, e.g. `'trace_fentry'`. */
export type AttachType = keyof typeof AttachTypes;
/** A link type name, e.g. `'tcx'`. */
export type LinkType = keyof typeof LinkTypes;

/** What a reverse lookup returns for a number this table does not know (a newer kernel's kind). */
export type UnknownKind = `unknown(${number})`;

function reverse<K extends string>(table: Readonly<Record<K, number>>): (value: number) => K | UnknownKind {
  const names: K[] = [];
  for (const name of Object.keys(table) as K[]) names[table[name]] = name;
  return (value) => names[value] ?? `unknown(${value})`;
}

/** The name of program type `value`, or `'unknown(N)'`. */
export const programTypeName: (value: number) => ProgramType | UnknownKind = reverse(ProgramTypes);
/** The name of map type `value`, or `'unknown(N)'`. */
export const mapTypeName: (value: number) => MapType | UnknownKind = reverse(MapTypes);
/** The name of attach type `value`, or `'unknown(N)'`. */
export const attachTypeName: (value: number) => AttachType | UnknownKind = reverse(AttachTypes);
/** The name of link type `value`, or `'unknown(N)'`. */
export const linkTypeName: (value: number) => LinkType | UnknownKind = reverse(LinkTypes);
