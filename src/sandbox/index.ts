/**
 * The delegated-BPF-FS sandbox: run a command where BPF tokens can be made (`bpf-skel sandbox`, tests,
 * demos).
 *
 * @module
 */
export {
  SANDBOX_HELP,
  SANDBOX_SUMMARY,
  SANDBOX_USAGE,
  type SandboxCliArgs,
  sandboxCliOptions,
  sandboxExitCode,
  sandboxOptionsFromCli,
} from './cli.js';
export { DEFAULT_BPFFS_DIR, runSandbox, type SandboxOptions, type SandboxResult } from './run.js';
