/**
 * Options of {@link BpfObject.open}, forwarded unchanged by every generated skeleton's `open(opts)`.
 *
 * @module
 */

/** What `BpfObject.open()` and a skeleton's `open()` accept. Every field is optional. */
export interface OpenOptions {
  /**
   * Name of the object (kernel-visible prefix of internal map names). Default: the file name up to its first
   * dot (`minimal.bpf.o` gives `minimal`), or `'bpf'` for bytes.
   */
  objectName?: string;
  /**
   * BPF FS to create a BPF token from. `''` disables tokens; a non-empty path is mandatory: `load()` fails when
   * no token can be made there. Unset (and `bpfTokenFd` unset): the `LIBBPF_BPF_TOKEN_PATH` environment
   * variable decides, else an implicit, best-effort token from `/sys/fs/bpf`.
   */
  bpfTokenPath?: string;
  /**
   * A BPF token FD to use (`>= 0`; duplicated at `open()`, so the caller may close its own copy), or a negative
   * number to disable tokens. Conflicts with `bpfTokenPath`.
   */
  bpfTokenFd?: number;
  /** Directory (on a BPF FS) where maps with `pinning = LIBBPF_PIN_BY_NAME` are pinned. Default `/sys/fs/bpf`. */
  pinRootPath?: string;
  /** Kernel BTF to relocate against instead of `/sys/kernel/btf/vmlinux` (raw BTF or an ELF file with `.BTF`). */
  btfCustomPath?: string;
  /** Extra `CONFIG_*=value` lines for `__kconfig` externs, overriding the running kernel's config. */
  kconfig?: string;
  /** Verifier log level for every program load (1 or 2); the log is kept on the program. Default: 0. */
  kernelLogLevel?: number;
}
