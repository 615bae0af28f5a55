/**
 * The `bpf-skel` command line.
 *
 * @module
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BpfError } from '../errors.js';
import {
  SANDBOX_HELP,
  type SandboxCliArgs,
  sandboxCliOptions,
  sandboxExitCode,
  sandboxOptionsFromCli,
} from '../sandbox/cli.js';
import { runSandbox } from '../sandbox/run.js';
import { formatInspect, inspectObject } from './inspect.js';
import { packageVersion } from './package.js';
import { formatTokenReport, tokenReport } from './token.js';

/** Prints `value` as JSON or as text. */
function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(`${json === true ? JSON.stringify(value, null, 2) : text()}\n`);
}

/** Runs the CLI with `argv` (without node and script). */
export async function main(argv: string[]): Promise<void> {
  const dashdash = argv.indexOf('--');
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const args = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  await yargs(args)
    .scriptName('bpf-skel')
    .usage('$0 <command> [options]\n\nTyped TypeScript skeletons for eBPF objects, loaded without libbpf.')
    .version(packageVersion())
    .strict()
    .demandCommand(1, 'Name a command; see --help.')
    .option('json', { type: 'boolean', describe: 'machine-readable output where a command has any' })
    .command(
      'inspect <object>',
      'Show the programs, maps and global variables of a .bpf.o as the loader sees them',
      (y) => y.positional('object', { type: 'string', demandOption: true, describe: 'compiled eBPF object' }),
      (a) => {
        const r = inspectObject(a.object);
        print(a.json, r, () => formatInspect(r));
      },
    )
    .command(
      'token [path]',
      'Diagnose BPF token support at a BPF FS: delegation options, whether a token can be made, what it allows',
      (y) => y.positional('path', { type: 'string', default: '/sys/fs/bpf', describe: 'BPF FS mount point' }),
      (a) => {
        const r = tokenReport(a.path);
        print(a.json, r, () => formatTokenReport(r));
        if (!r.token) process.exitCode = 1;
      },
    )
    .command(
      'sandbox',
      'Run a command (after --) in a user namespace with a delegated BPF FS, as a container manager would',
      (y) =>
        y.options(sandboxCliOptions).epilog(SANDBOX_HELP.slice(SANDBOX_HELP.indexOf('A delegate value'))),
      async (a) => {
        if (command.length === 0)
          throw new Error('give the command to run after --, e.g. bpf-skel sandbox -- node app.js');
        const result = await runSandbox(sandboxOptionsFromCli(a as SandboxCliArgs, command));
        process.exitCode = sandboxExitCode(result);
      },
    )
    .fail((msg, err) => {
      if (err !== undefined && err !== null) throw err;
      process.stderr.write(`bpf-skel: ${msg}\nRun bpf-skel --help for usage.\n`);
      process.exit(2);
    })
    .help()
    .parseAsync();
}

try {
  await main(hideBin(process.argv));
} catch (err) {
  // Expected failures get one line; anything else is a bug worth its stack.
  process.stderr.write(
    `bpf-skel: ${err instanceof BpfError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = err instanceof BpfError ? 1 : 2;
}
