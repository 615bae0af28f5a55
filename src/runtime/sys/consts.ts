/**
 * Kernel constants the syscall layer and loader name: map, program, attach and link types (from the BTF
 * enums `bpf_map_type`, `bpf_prog_type`, `bpf_attach_type`, `bpf_link_type` of Linux 6.18) and the flag
 * bits of the bpf() commands (BTF enums where the kernel has them, else the UAPI `linux/bpf.h` defines).
 *
 * @module
 */

/** Map types (`enum bpf_map_type`). */
export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;

/** A value of {@link MapType}. */
export type MapTypeValue = (typeof MapType)[keyof typeof MapType];

/** Program types (`enum bpf_prog_type`). */
export const ProgType = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;

/** A value of {@link ProgType}. */
export type ProgTypeValue = (typeof ProgType)[keyof typeof ProgType];

/** Attach types (`enum bpf_attach_type`). */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
  STRUCT_OPS: 44,
  NETFILTER: 45,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
  TRACE_UPROBE_MULTI: 48,
  CGROUP_UNIX_CONNECT: 49,
  CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51,
  CGROUP_UNIX_GETPEERNAME: 52,
  CGROUP_UNIX_GETSOCKNAME: 53,
  NETKIT_PRIMARY: 54,
  NETKIT_PEER: 55,
  TRACE_KPROBE_SESSION: 56,
  TRACE_UPROBE_SESSION: 57,
} as const;

/** A value of {@link AttachType}. */
export type AttachTypeValue = (typeof AttachType)[keyof typeof AttachType];

/** Link types (`enum bpf_link_type`). */
export const LinkType = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;

/** A value of {@link LinkType}. */
export type LinkTypeValue = (typeof LinkType)[keyof typeof LinkType];

/** Flags of map element updates and lookups (`BPF_ANY`, ...). */
export const ElemFlag = {
  ANY: 0,
  NOEXIST: 1,
  EXIST: 2,
  LOCK: 4,
} as const;

/** `map_flags` bits of `BPF_MAP_CREATE`, and the `file_flags` of `BPF_OBJ_GET`. */
export const MapFlag = {
  NO_PREALLOC: 0x1,
  NO_COMMON_LRU: 0x2,
  NUMA_NODE: 0x4,
  RDONLY: 0x8,
  WRONLY: 0x10,
  STACK_BUILD_ID: 0x20,
  ZERO_SEED: 0x40,
  RDONLY_PROG: 0x80,
  WRONLY_PROG: 0x100,
  CLONE: 0x200,
  MMAPABLE: 0x400,
  PRESERVE_ELEMS: 0x800,
  INNER_MAP: 0x1000,
  LINK: 0x2000,
  PATH_FD: 0x4000,
  VTYPE_BTF_OBJ_FD: 0x8000,
  TOKEN_FD: 0x10000,
  SEGV_ON_FAULT: 0x20000,
  NO_USER_CONV: 0x40000,
} as const;

/** The flag that says a command's token field holds a BPF token FD (same bit for every command). */
export const BPF_F_TOKEN_FD = 0x10000;

/** `prog_flags` bits of `BPF_PROG_LOAD`. */
export const ProgFlag = {
  STRICT_ALIGNMENT: 0x1,
  ANY_ALIGNMENT: 0x2,
  TEST_RND_HI32: 0x4,
  TEST_STATE_FREQ: 0x8,
  SLEEPABLE: 0x10,
  XDP_HAS_FRAGS: 0x20,
  XDP_DEV_BOUND_ONLY: 0x40,
  TEST_REG_INVARIANTS: 0x80,
  TOKEN_FD: 0x10000,
} as const;

/** `attach_flags` of `BPF_PROG_ATTACH`, and the relative-position flags of tcx/netkit/cgroup links. */
export const AttachFlag = {
  ALLOW_OVERRIDE: 0x1,
  ALLOW_MULTI: 0x2,
  REPLACE: 0x4,
  BEFORE: 0x8,
  AFTER: 0x10,
  ID: 0x20,
  LINK: 0x2000,
} as const;

/** `flags` of `BPF_PROG_TEST_RUN`. */
export const TestRunFlag = {
  RUN_ON_CPU: 0x1,
  XDP_LIVE_FRAMES: 0x2,
  SKB_CHECKSUM_COMPLETE: 0x4,
} as const;

/** `query_flags` of `BPF_PROG_QUERY`. */
export const QUERY_EFFECTIVE = 0x1;

/** Length of the `char[]` name fields of maps and programs, NUL included (`BPF_OBJ_NAME_LEN`). */
export const BPF_OBJ_NAME_LEN = 16;

/** Bytes of one BPF instruction (`struct bpf_insn`). */
export const BPF_INSN_SIZE = 8;
