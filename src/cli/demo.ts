/**
 * `bpf-skel demo`: the quick start's main job on the bundled example (examples/bootstrap): generate its
 * skeleton, type-check and compile an app against it, then load, attach and print a few seconds of live,
 * typed exec/exit events. Without the rights to load BPF it still generates and type-checks, and says what
 * is missing.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGen } from './gen.js';
import { packageRoot } from './package.js';
import { tokenReport } from './token.js';

/** Options of the demo. */
export interface DemoOptions {
  /** How long to show events. */
  readonly seconds: number;
  /** Where progress goes. */
  readonly say: (line: string) => void;
}

const TRACEFS = '/sys/kernel/tracing';

/** Runs the demo; resolves to the exit status. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const root = packageRoot();
  // A scratch project that depends on this bpf-skel, as a user's app would.
  const work = mkdtempSync(join(tmpdir(), 'bpf-skel-demo-'));
  try {
    mkdirSync(join(work, 'js'));
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(root, join(work, 'node_modules', 'bpf-skel'), 'dir');
    writeFileSync(
      join(work, 'package.json'),
      '{ "name": "bpf-skel-demo", "private": true, "type": "module" }\n',
    );
    return await demoIn(work, root, opts);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function demoIn(work: string, root: string, opts: DemoOptions): Promise<number> {
  const { say } = opts;
  const example = join(root, 'examples', 'bootstrap');

  say('1/4 generate: bpf-skel gen skeleton examples/bootstrap/bootstrap.bpf.o');
  const gen = runGen('skeleton', {
    object: join(example, 'bootstrap.bpf.o'),
    output: join(work, 'bootstrap.skel.ts'),
  });
  say(
    `    wrote ${gen.bytes} bytes of TypeScript${gen.sidecar ? ' (the object is read from the file beside it)' : ''}`,
  );
  copyFileSync(join(example, 'main.ts'), join(work, 'main.ts'));
  copyFileSync(join(example, 'bootstrap.bpf.o'), join(work, 'js', 'bootstrap.bpf.o'));

  say('2/4 type-check and compile the app with tsc --strict');
  const tsc = tscPath(root);
  if (tsc === undefined) {
    say('    skipped: TypeScript is not installed here (npm install typescript)');
    return 0;
  }
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify(
      {
        extends: join(root, 'tsconfig.json'),
        // The app resolves bpf-skel/runtime as any user's would: through the package's exports (dist/).
        compilerOptions: {
          rootDir: '.',
          outDir: 'js',
          noEmit: false,
          declaration: false,
          paths: {},
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        include: ['*.ts'],
      },
      null,
      2,
    ),
  );
  const check = spawnSync(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], { encoding: 'utf8' });
  if (check.status !== 0) {
    say(`    tsc failed:\n${check.stdout}${check.stderr}`);
    return 1;
  }
  say('    no errors');

  say(`3/4 load and attach (needs root, or a BPF token)`);
  const canLoad = process.geteuid?.() === 0 || tokenReport().token;
  if (!canLoad) {
    say(
      '    cannot load here: loading BPF needs CAP_BPF in the initial user namespace (run as root), or a BPF token from a delegated BPF FS (bpf-skel token explains what /sys/fs/bpf offers). Generation and type-checking worked.',
    );
    return 0;
  }

  say(`4/4 run the app for ${opts.seconds} s and start a few processes so there is something to see`);
  const app = [process.execPath, join(work, 'js', 'main.js'), String(opts.seconds)];
  // Tracepoint ids live in tracefs; when it is not mounted, mount it privately for the app only.
  const command = existsSync(join(TRACEFS, 'events'))
    ? app
    : [
        'unshare',
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tracefs tracefs ${TRACEFS} && exec "$@"`,
        'sh',
        ...app,
      ];
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
  const traffic = setInterval(() => {
    spawnSync('ls', ['/'], { stdio: 'ignore' });
    spawnSync('sh', ['-c', 'exit 3'], { stdio: 'ignore' });
  }, 400);
  const status = await new Promise<number>((resolve) => {
    child.on('close', (code) => resolve(code ?? 1));
    child.on('error', () => resolve(1));
  });
  clearInterval(traffic);
  return status;
}

/** The TypeScript compiler's entry script, if TypeScript is installed. */
function tscPath(root: string): string | undefined {
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('typescript/package.json');
    const bin = (JSON.parse(readFileSync(pkg, 'utf8')) as { bin: { tsc: string } }).bin.tsc;
    return join(pkg, '..', bin);
  } catch {
    return undefined;
  }
}
