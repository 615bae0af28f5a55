/**
 * The `bpf-skel sandbox` command line: its help text, its options in the shape yargs' `.options()` takes,
 * and the mapping from parsed arguments to {@link runSandbox} options.
 *
 * @module
 */
import { constants } from 'node:os';
import { DEFAULT_BPFFS_DIR, type SandboxOptions, type SandboxResult } from './run.js';

/** One line for the command list. */
export const SANDBOX_SUMMARY = 'Run a command in a user namespace with a delegated BPF FS (for BPF tokens)';

/** Usage line. */
export const SANDBOX_USAGE = 'bpf-skel sandbox [options] -- <command> [args...]';

/** The options, as yargs takes them (`yargs.options(sandboxCliOptions)`). */
export const sandboxCliOptions = {
  'delegate-cmds': { type: 'string', describe: 'bpf() commands a token may run (delegate_cmds)' },
  'delegate-maps': { type: 'string', describe: 'map types a token may create (delegate_maps)' },
  'delegate-progs': { type: 'string', describe: 'program types a token may load (delegate_progs)' },
  'delegate-attachs': {
    type: 'string',
    describe: 'expected attach types a token may load (delegate_attachs)',
  },
  'delegate-all': { type: 'boolean', default: false, describe: "'any' for each delegate option not given" },
  at: {
    type: 'string',
    default: DEFAULT_BPFFS_DIR,
    describe: 'directory to mount the BPF FS on (made if missing)',
  },
  mount: { type: 'boolean', default: true, describe: 'mount a BPF FS (--no-mount: namespaces only)' },
  'user-namespace': {
    type: 'boolean',
    default: true,
    describe: 'new user namespace (--no-user-namespace: stay in the host one, where tokens fail)',
  },
} as const;

/** The full help text. */
export const SANDBOX_HELP = `${SANDBOX_USAGE}

${SANDBOX_SUMMARY}.

Starts <command> as root of new user and mount namespaces (mapped to you), with a BPF FS mounted at --at
(default ${DEFAULT_BPFFS_DIR}) whose delegate_* options let programs there create BPF tokens. Only root in
the initial user namespace can set delegation, so run this as root. The command inherits stdin, stdout and
stderr; the sandbox exits with its status. A BPF FS without any delegate option is mounted too (tokens from
it fail with ENOENT); --no-mount leaves ${DEFAULT_BPFFS_DIR} as it is.

Options:
${Object.entries(sandboxCliOptions)
  .map(([name, o]) => `  --${name.padEnd(18)} ${o.describe}`)
  .join('\n')}

A delegate value is 'any', names joined with ':' (map_create:prog_load; the kernel's enum names in lower
case without their prefix), or one number that is the mask itself. Attach type 0 (cgroup_inet_ingress) must
be delegated for program types without an attach type (tracepoint, kprobe, socket_filter, ...).

Examples:
  bpf-skel sandbox --delegate-all -- node app.js
  bpf-skel sandbox --delegate-cmds map_create:prog_load:btf_load --delegate-maps hash:ringbuf \\
      --delegate-progs tracepoint --delegate-attachs cgroup_inet_ingress -- node app.js
  bpf-skel sandbox --at /run/bpf --delegate-all -- env LIBBPF_BPF_TOKEN_PATH=/run/bpf node app.js
`;

/** The arguments yargs parses from {@link sandboxCliOptions} (camel-case keys). */
export interface SandboxCliArgs {
  delegateCmds?: string;
  delegateMaps?: string;
  delegateProgs?: string;
  delegateAttachs?: string;
  delegateAll?: boolean;
  at?: string;
  mount?: boolean;
  userNamespace?: boolean;
}

/** {@link runSandbox} options from the parsed arguments and the command after `--`. */
export function sandboxOptionsFromCli(args: SandboxCliArgs, command: readonly string[]): SandboxOptions {
  const all = args.delegateAll === true ? 'any' : undefined;
  return {
    delegateCmds: args.delegateCmds ?? all,
    delegateMaps: args.delegateMaps ?? all,
    delegateProgs: args.delegateProgs ?? all,
    delegateAttachs: args.delegateAttachs ?? all,
    at: args.at,
    mount: args.mount,
    userNamespace: args.userNamespace,
    command,
    stdio: 'inherit',
  };
}

/** The exit code a CLI should end with: the command's status, or 128 + the signal number (shell style). */
export function sandboxExitCode(result: SandboxResult): number {
  if (result.status !== null) return result.status;
  return 128 + (result.signal === null ? 0 : (constants.signals[result.signal] ?? 0));
}
