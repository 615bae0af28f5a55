/**
 * The `bpf-skel` command line as a user runs it (`tsx src/cli/main.ts`, one process per call, calls in
 * parallel): help for every command, the version, exit statuses (0; 1 with one line for typed errors; 2 for
 * usage), the `--json` shapes of inspect, token, gen and init, byte-stable `gen` output, and terminal
 * behaviour (colour and the progress line only on a TTY, made with util-linux `script`; NO_COLOR).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  colorEnabled,
  errorMessage,
  exitCodeFor,
  progress,
  styleFor,
  UsageError,
} from '../src/cli/output.js';
import { BpfError } from '../src/errors.js';
import { commandExists } from './helpers/kernel.js';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const TMP = join(ROOT, 'test', 'tmp', 'cli');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const MINIMAL = 'test/fixtures/minimal.bpf.o';
const BOOTSTRAP = 'examples/bootstrap/bootstrap.bpf.o';
/** The escape character that starts terminal control sequences. */
const ESC = '\x1b';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with `args` from the repository root; stdout/stderr are pipes (not a TTY). */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return capture(TSX, [MAIN, ...args], env);
}

function capture(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`): stdout and stderr both arrive as `output`. */
async function onTty(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const quoted = [TSX, MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return capture('script', ['-qec', quoted, '/dev/null'], env);
}

const HELP: readonly (readonly [string[], RegExp])[] = [
  [[], /Typed TypeScript skeletons for eBPF objects/],
  [['gen'], /Write a typed skeleton/],
  [['gen', 'skeleton'], /Write a typed skeleton/],
  [['gen', 'types'], /only the TypeScript types and codecs/],
  [['inspect'], /programs, maps and global variables/],
  [['token'], /Diagnose BPF token support/],
  [['sandbox'], /delegated BPF FS/],
  [['demo'], /bundled example/],
  [['init'], /Create a ready bpf-skel project.*\n[\s\S]*Templates:\n {2}minimal/],
];

describe('help and version', () => {
  it('every command has its own --help, exit status 0', async () => {
    const runs = await Promise.all(HELP.map(([cmd]) => cli([...cmd, '--help'])));
    HELP.forEach(([cmd, text], i) => {
      const r = runs[i];
      expect(r.status, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(text);
      expect(r.stdout, cmd.join(' ')).toMatch(/Options:/);
      expect(r.stdout).toMatch(new RegExp(`^bpf-skel ${cmd.join(' ')}`));
    });
    // The top-level help lists every command.
    for (const c of ['gen', 'inspect', 'token', 'sandbox', 'demo', 'init']) {
      expect(runs[0].stdout).toMatch(new RegExp(`^ {2}bpf-skel ${c}\\b`, 'm'));
    }
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
  });
});

describe('exit statuses', () => {
  it('usage errors exit with 2 and point at --help', async () => {
    const cases = [
      [],
      ['frob'],
      ['inspect', MINIMAL, '--bogus'],
      ['init', join(TMP, 'x'), '--template', 'nope'],
      ['gen', 'skeleton', MINIMAL, '--json', '-o', '-'],
      ['sandbox'],
    ];
    const runs = await Promise.all(cases.map((c) => cli(c)));
    runs.forEach((r, i) => {
      expect(r.status, cases[i].join(' ')).toBe(2);
      expect(r.stdout, cases[i].join(' ')).toBe('');
      expect(r.stderr, cases[i].join(' ')).toMatch(/^bpf-skel: \S/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
    expect(runs[1].stderr).toMatch(/Unknown argument: frob\nRun bpf-skel --help for usage\.\n$/);
    expect(runs[4].stderr).toMatch(/--json cannot be combined with -o - or --watch/);
    expect(runs[5].stderr).toBe(
      'bpf-skel: give the command to run after --, e.g. bpf-skel sandbox -- node app.js\n',
    );
  });

  it('typed errors exit with 1 and one line saying what and where', async () => {
    mkdirSync(join(TMP, 'full'), { recursive: true });
    writeFileSync(join(TMP, 'full', 'x'), '');
    const cases = [
      ['inspect', 'test/no-such.bpf.o'],
      ['inspect', 'test/fixtures/vmlinux.h'],
      ['gen', 'skeleton', 'test/no-such.bpf.o'],
      ['init', join(TMP, 'full')],
    ];
    const runs = await Promise.all(cases.map((c) => cli(c)));
    runs.forEach((r, i) => {
      expect(r.status, cases[i].join(' ')).toBe(1);
      expect(r.stdout, cases[i].join(' ')).toBe('');
      expect(r.stderr, cases[i].join(' ')).toMatch(/^bpf-skel: [^\n]+\n$/);
    });
    expect(runs[0].stderr).toMatch(/test\/no-such\.bpf\.o: ENOENT/);
    expect(runs[1].stderr).toMatch(/vmlinux\.h, offset 0 .*not an ELF file/);
    expect(runs[2].stderr).toMatch(/cannot read test\/no-such\.bpf\.o: ENOENT/);
    expect(runs[3].stderr).toMatch(/is not empty; use --force/);
  });
});

describe('--json', () => {
  it('inspect: the report of programs and maps', async () => {
    const r = await cli(['inspect', MINIMAL, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ file: MINIMAL, name: 'minimal', btf: true });
    expect(j.programs.length).toBeGreaterThan(0);
    for (const p of j.programs) {
      expect(Object.keys(p).sort()).toEqual(
        ['attach', 'autoload', 'expectedAttachType', 'instructions', 'name', 'section', 'type'].sort(),
      );
    }
    for (const m of j.maps) {
      expect(m).toMatchObject({
        name: expect.any(String),
        type: expect.any(String),
        maxEntries: expect.any(Number),
      });
    }
  });

  it('inspect: struct_ops maps name their kernel struct and which program fills which member', async () => {
    const file = 'test/fixtures/struct_ops_link.bpf.o';
    const j = JSON.parse((await cli(['inspect', file, '--json'])).stdout);
    const cc = j.maps.find((m: { name: string }) => m.name === 'cc_link');
    expect(cc.structOps).toEqual({
      kernelType: 'tcp_congestion_ops',
      link: true,
      programs: [
        { member: 'init', program: 'link_init' },
        { member: 'undo_cwnd', program: 'link_undo_cwnd' },
        { member: 'cong_avoid', program: 'link_cong_avoid' },
        { member: 'ssthresh', program: 'link_ssthresh' },
      ],
    });
    const attach = Object.fromEntries(
      j.programs.map((p: { name: string; attach: string }) => [p.name, p.attach]),
    );
    expect(attach).toMatchObject({
      link_init: 'struct_ops map cc_link.init',
      dummy_sleepable: 'struct_ops map dummy_link.test_sleepable',
      dummy_unused: 'explicit',
    });
    const text = (await cli(['inspect', file])).stdout;
    expect(text).toContain('struct tcp_congestion_ops, registered through a link');
    expect(text).toContain('.ssthresh = link_ssthresh');
  });

  it('token: a diagnosis also when no token can be made (exit status 1)', async () => {
    const r = await cli(['token', TMP, '--json']);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ path: TMP, bpffs: false, token: false, delegate: {} });
    expect(j.reason).toMatch(/not a BPF FS/);
    expect(Object.keys(j).sort()).toEqual(['bpffs', 'delegate', 'filesystem', 'path', 'reason', 'token']);
  });

  it('gen: {output, bytes, sidecar}, sidecar null unless the object goes beside the skeleton', async () => {
    mkdirSync(TMP, { recursive: true });
    const [small, big] = await Promise.all([
      cli(['gen', 'skeleton', MINIMAL, '-o', join(TMP, 'small.skel.ts'), '--json']),
      cli(['gen', 'skeleton', BOOTSTRAP, '-o', join(TMP, 'big.skel.ts'), '--json', '--embed', 'file']),
    ]);
    expect(small.status, small.stderr).toBe(0);
    expect(JSON.parse(small.stdout)).toEqual({
      output: join(TMP, 'small.skel.ts'),
      bytes: statSync(join(TMP, 'small.skel.ts')).size,
      sidecar: null,
    });
    expect(small.stderr).toBe('');
    expect(JSON.parse(big.stdout)).toEqual({
      output: join(TMP, 'big.skel.ts'),
      bytes: statSync(join(TMP, 'big.skel.ts')).size,
      sidecar: join(TMP, 'bootstrap.bpf.o'),
    });
  });

  it('init: what was written', async () => {
    rmSync(join(TMP, 'proj'), { recursive: true, force: true });
    const r = await cli(['init', join(TMP, 'proj'), '--template', 'xdp', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      dir: join(TMP, 'proj'),
      name: 'proj',
      template: 'xdp',
      bpfSkelSpec: `file:${ROOT}`,
    });
    expect(j.files).toContain('src/xdpcount.bpf.c');
  });
});

describe('gen output is stable', () => {
  it('the same object gives the same bytes, to a file or to stdout, run after run', async () => {
    mkdirSync(TMP, { recursive: true });
    const runs = await Promise.all([
      cli(['gen', 'skeleton', BOOTSTRAP, '-o', join(TMP, 'a.skel.ts'), '--embed', 'inline']),
      cli(['gen', 'skeleton', BOOTSTRAP, '-o', join(TMP, 'b.skel.ts'), '--embed', 'inline']),
      cli(['gen', 'skeleton', BOOTSTRAP, '-o', '-', '--embed', 'inline']),
    ]);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const a = readFileSync(join(TMP, 'a.skel.ts'));
    expect(a.length).toBeGreaterThan(10_000);
    expect(readFileSync(join(TMP, 'b.skel.ts')).equals(a)).toBe(true);
    expect(Buffer.from(runs[2].stdout).equals(a)).toBe(true);
    expect(runs[0].stderr).toBe(`wrote ${join(TMP, 'a.skel.ts')}\n`);
    expect(runs[2].stderr).toBe('');
  });
});

describe.runIf(commandExists('script'))('on a terminal', () => {
  it('colours errors, shows a progress line while generating; NO_COLOR turns colour off', async () => {
    mkdirSync(TMP, { recursive: true });
    const out = join(TMP, 'tty.skel.ts');
    const [err, plain, gen] = await Promise.all([
      onTty(['inspect', 'test/no-such.bpf.o']),
      onTty(['inspect', 'test/no-such.bpf.o'], { NO_COLOR: '1' }),
      onTty(['gen', 'skeleton', BOOTSTRAP, '-o', out]),
    ]);
    expect(err.status).toBe(1);
    expect(err.stdout.startsWith(`${ESC}[31m${ESC}[1mbpf-skel:${ESC}[22m${ESC}[39m cannot read`)).toBe(true);
    expect(plain.stdout).toMatch(/^bpf-skel: cannot read/);
    expect(plain.stdout).not.toContain(ESC);
    expect(gen.status).toBe(0);
    // The status line, then carriage return and clear-to-end-of-line, then the result.
    expect(gen.stdout).toMatch(
      new RegExp(`^bpf-skel: generating the skeleton of ${BOOTSTRAP}\\.\\.\\.\\r\\x1b\\[K(wrote ${out})`),
    );
  });
});

describe('output.ts', () => {
  const tty = { isTTY: true, write: () => true };
  const pipe = { isTTY: false, write: () => true };

  it('colours only a TTY, never with NO_COLOR or TERM=dumb', () => {
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(styleFor(pipe, {}).red('x')).toBe('x');
    expect(styleFor(tty, {}).red('x')).toBe('\x1b[31mx\x1b[39m');
  });

  it('progress rewrites one line on a TTY and writes only final lines elsewhere', () => {
    const record = (isTTY: boolean) => {
      const chunks: string[] = [];
      const p = progress({ isTTY, write: (t: string) => chunks.push(t) });
      p.update('a');
      p.update('b');
      p.done('end');
      p.done();
      return chunks.join('');
    };
    expect(record(true)).toBe('a\r\x1b[Kb\r\x1b[Kend\n');
    expect(record(false)).toBe('end\n');
  });

  it('errors: one line and status 1 for typed errors, status 2 and the stack for bugs', () => {
    const s = styleFor(pipe, {});
    expect(errorMessage(new BpfError('map x: EPERM', { code: 'EPERM' }), s)).toBe('bpf-skel: map x: EPERM');
    expect(errorMessage(new UsageError('say what'), s)).toBe('bpf-skel: say what');
    expect(errorMessage(new TypeError('oops'), s)).toMatch(/^bpf-skel: TypeError: oops\n\s+at /);
    expect(exitCodeFor(new BpfError('x', { code: 'EIO' }))).toBe(1);
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new TypeError('x'))).toBe(2);
  });
});
