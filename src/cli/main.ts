/**
 * The `bpf-skel` command line.
 *
 * @module
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BpfError } from '../errors.js';
import type { EmbedMode } from '../gen/skeleton.js';
import {
  SANDBOX_HELP,
  type SandboxCliArgs,
  sandboxCliOptions,
  sandboxExitCode,
  sandboxOptionsFromCli,
} from '../sandbox/cli.js';
import { runSandbox } from '../sandbox/run.js';
import { runDemo } from './demo.js';
import { runGen, watchGen } from './gen.js';
import { formatInspect, inspectObject } from './inspect.js';
import { packageVersion } from './package.js';
import { formatTokenReport, tokenReport } from './token.js';

/** Prints `value` as JSON or as text. */
function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(`${json === true ? JSON.stringify(value, null, 2) : text()}\n`);
}

/** Options shared by the gen commands. */
function genOptions<T>(y: Argv<T>) {
  return y
    .positional('object', { type: 'string', demandOption: true, describe: 'compiled eBPF object (.bpf.o)' })
    .option('output', { alias: 'o', type: 'string', describe: 'output file, - for stdout' })
    .option('type', {
      type: 'string',
      array: true,
      describe:
        'also generate this C type (struct/union/enum/typedef name); MAP=TYPE also types ring buffer MAP',
    })
    .option('watch', { type: 'boolean', default: false, describe: 'regenerate whenever the object changes' });
}

function gen(
  kind: 'skeleton' | 'types',
  a: { object: string; output?: string; type?: string[]; watch: boolean; name?: string; embed?: EmbedMode },
): void {
  const args = { object: a.object, output: a.output, types: a.type, name: a.name, embed: a.embed };
  if (a.watch) {
    watchGen(kind, args, (line) => process.stderr.write(`${line}\n`));
    return;
  }
  const r = runGen(kind, args);
  if (r.output !== '-') process.stderr.write(`wrote ${r.output}${r.sidecar ? ` and ${r.sidecar}` : ''}\n`);
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
    .command('gen', 'Generate TypeScript from a compiled eBPF object', (y) =>
      y
        .command(
          'skeleton <object>',
          'Write a typed skeleton (<object>.skel.ts beside the object unless -o says otherwise)',
          (g) =>
            genOptions(g)
              .option('name', { type: 'string', describe: 'class name base (Minimal gives MinimalSkel)' })
              .option('embed', {
                choices: ['inline', 'file', 'auto'] as const,
                default: 'auto' as const,
                describe: 'object bytes: base64 in the module, a file beside it, or by size (256 KiB)',
              }),
          (a) => gen('skeleton', a),
        )
        .command(
          'types <object>',
          "Write only the TypeScript types and codecs of the object's BTF",
          (g) => genOptions(g),
          (a) => gen('types', a),
        )
        .demandCommand(1, 'Name what to generate: skeleton or types.'),
    )
    .command(
      'demo',
      'Generate, type-check, load and attach the bundled example and show a few seconds of live typed events',
      (y) => y.option('seconds', { type: 'number', default: 5, describe: 'how long to show events' }),
      async (a) => {
        process.exitCode = await runDemo({
          seconds: a.seconds,
          say: (line) => process.stdout.write(`${line}\n`),
        });
      },
    )
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
