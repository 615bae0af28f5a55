/**
 * Kernel constants the syscall layer and loader name: map, program, attach and link types (from the BTF
 * enums `bpf_map_type`, `bpf_prog_type`, `bpf_attach_type`, `bpf_link_type` of Linux 6.18) and the flag
 * bits of the bpf() commands (BTF enums where the kernel has them, else the UAPI `linux/bpf.h` defines).
 *
 * @module
 */

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
