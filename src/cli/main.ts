/**
 * The `bpf-skel` command line.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readBtfFile } from '../btf/kernel.js';
import { minCoreBtf } from '../gen/min-core-btf.js';
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
import { initProject, TEMPLATE_SUMMARIES, TEMPLATES } from './init.js';
import { formatInspect, inspectObject } from './inspect.js';
import { errorMessage, exitCodeFor, progress, styleFor, UsageError, writeJson } from './output.js';
import { packageVersion } from './package.js';
import { formatTokenReport, tokenReport } from './token.js';

/** Prints `value` as JSON or as text. */
function print(json: boolean | undefined, value: unknown, text: () => string): void {
  if (json === true) writeJson(process.stdout, value);
  else process.stdout.write(`${text()}\n`);
}

/** `--json` describes one generation written to a file: it rules out `-o -` and `--watch`. */
function checkGenJson(a: { json?: boolean; output?: string; watch?: boolean }): true | string {
  return a.json === true && (a.output === '-' || a.watch === true)
    ? '--json cannot be combined with -o - or --watch'
    : true;
}

/** `gen min-core-btf`: returns the size written. */
function writeMinCoreBtf(kernelBtf: string, output: string, objects: readonly string[]): number {
  const btf = minCoreBtf(
    readBtfFile(kernelBtf),
    objects.map((f) => ({ bytes: new Uint8Array(readFileSync(f)), fileName: f })),
  );
  writeFileSync(output, btf);
  return btf.length;
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
  a: {
    object: string;
    output?: string;
    type?: string[];
    watch: boolean;
    name?: string;
    embed?: EmbedMode;
    json?: boolean;
  },
): void {
  const args = { object: a.object, output: a.output, types: a.type, name: a.name, embed: a.embed };
  if (a.watch) {
    watchGen(kind, args, (line) => process.stderr.write(`${line}\n`));
    return;
  }
  // A status line while a big object is turned into TypeScript (terminals only; replaced by the result).
  const status = progress(process.stderr);
  status.update(`bpf-skel: generating the ${kind} of ${a.object}...`);
  let r: ReturnType<typeof runGen>;
  try {
    r = runGen(kind, args);
  } finally {
    status.done();
  }
  if (a.json === true)
    writeJson(process.stdout, { output: r.output, bytes: r.bytes, sidecar: r.sidecar ?? null });
  else if (r.output !== '-')
    process.stderr.write(`wrote ${r.output}${r.sidecar ? ` and ${r.sidecar}` : ''}\n`);
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
              .check(checkGenJson)
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
          (g) => genOptions(g).check(checkGenJson),
          (a) => gen('types', a),
        )
        .command(
          'min-core-btf <kernel-btf> <output> <objects..>',
          'Write the smallest BTF the CO-RE relocations of the objects need, for kernels without built-in BTF',
          (g) =>
            g
              .positional('kernel-btf', {
                type: 'string',
                demandOption: true,
                describe: 'raw BTF or an ELF file with .BTF',
              })
              .positional('output', {
                type: 'string',
                demandOption: true,
                describe: 'where to write the raw BTF',
              })
              .positional('objects', {
                type: 'string',
                array: true,
                demandOption: true,
                describe: '.bpf.o files',
              }),
          (a) => {
            const bytes = writeMinCoreBtf(a.kernelBtf, a.output, a.objects);
            if (a.json === true) writeJson(process.stdout, { output: a.output, bytes });
            else process.stderr.write(`wrote ${a.output} (${bytes} bytes)\n`);
          },
        )
        .demandCommand(1, 'Name what to generate: skeleton, types or min-core-btf.'),
    )
    .command(
      'init <dir>',
      'Create a ready bpf-skel project in <dir> from a template (npm install && npm start runs it)',
      (y) =>
        y
          .positional('dir', {
            type: 'string',
            demandOption: true,
            describe: 'project directory (made if missing)',
          })
          .option('template', {
            alias: 't',
            choices: TEMPLATES,
            default: 'minimal' as const,
            describe: 'what the project starts from',
          })
          .option('name', { type: 'string', describe: 'npm package name (default: the directory name)' })
          .option('bpf-skel-spec', {
            type: 'string',
            describe:
              'the bpf-skel dependency in package.json (default: file:<this checkout>, or ^<version>)',
          })
          .option('force', { type: 'boolean', default: false, describe: 'write into a non-empty directory' })
          .epilog(
            `Templates:\n${TEMPLATES.map((t) => `  ${t.padEnd(8)} ${TEMPLATE_SUMMARIES[t]}`).join('\n')}`,
          ),
      (a) => {
        const r = initProject({
          dir: a.dir,
          template: a.template,
          name: a.name,
          bpfSkelSpec: a.bpfSkelSpec,
          force: a.force,
        });
        for (const w of r.warnings) process.stderr.write(`bpf-skel: warning: ${w}\n`);
        print(a.json, r, () => {
          const s = styleFor(process.stdout);
          return [
            `created ${s.bold(r.name)} (template ${r.template}) in ${r.dir}:`,
            ...r.files.map((f) => `  ${f}`),
            '',
            'next, as root (or with a BPF token):',
            s.cyan(`  cd ${a.dir} && npm install && npm start`),
          ].join('\n');
        });
      },
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
          throw new UsageError('give the command to run after --, e.g. bpf-skel sandbox -- node app.js');
        const result = await runSandbox(sandboxOptionsFromCli(a as SandboxCliArgs, command));
        process.exitCode = sandboxExitCode(result);
      },
    )
    .fail((msg, err) => {
      // yargs' own validation errors (YError) are usage errors; anything else comes from a handler.
      if (err instanceof Error && err.name !== 'YError') throw err;
      const s = styleFor(process.stderr);
      process.stderr.write(`${s.red(s.bold('bpf-skel:'))} ${msg}\nRun bpf-skel --help for usage.\n`);
      process.exit(2);
    })
    .help()
    .parseAsync();
}

try {
  await main(hideBin(process.argv));
} catch (err) {
  // Expected failures get one line; anything else is a bug worth its stack.
  process.stderr.write(`${errorMessage(err, styleFor(process.stderr))}\n`);
  process.exitCode = exitCodeFor(err);
}
