/**
 * `bpf-skel init`: every template is laid down into test/tmp/init-<template> and built and run for real, as a
 * user would: `npm install` (from the registry, cache first) and `npm start` for minimal and ringbuf; xdp
 * and token share minimal's node_modules through a symlink (a second and third install would prove nothing
 * new and cost seconds), are built with `npm run build` and run: xdp on lo in a network namespace of its
 * own, token inside `bpf-skel sandbox` with exactly the delegation its README names. The projects depend on
 * this checkout (`file:`), whose package exports point at dist/: `npm test` builds it first; when dist/ is
 * missing this file builds it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultBpfSkelSpec,
  initProject,
  renderTemplate,
  TEMPLATES,
  type TemplateName,
  validateProjectName,
} from '../src/cli/init.js';
import { OptionError } from '../src/errors.js';
import { commandExists, isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const TMP = join(ROOT, 'test', 'tmp');

const tools = ['clang', 'llvm-strip', 'bpftool', 'npm', 'unshare', 'ip', 'bash'];
const canBuild = requireKernel(
  'clang, llvm-strip, bpftool, npm, unshare, ip, bash',
  tools.every(commandExists),
  `missing: ${tools.filter((t) => !commandExists(t)).join(', ')}`,
);
const canRun = requireKernel(
  'bpf() as root',
  isRoot(),
  'running the generated projects loads BPF: needs root',
);

function projectDir(template: TemplateName): string {
  return join(TMP, `init-${template}`);
}

function fresh(template: TemplateName): string {
  const dir = projectDir(template);
  rmSync(dir, { recursive: true, force: true });
  initProject({ dir, template });
  return dir;
}

/** Runs `cmd` in `cwd`; returns stdout and stderr, failing the test with both when it fails. */
function run(
  cwd: string,
  cmd: string,
  args: string[],
  timeout = 120_000,
): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} in ${cwd} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`,
    );
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

const npmInstall = (dir: string) =>
  run(dir, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund']);

describe('init: laying down files', () => {
  it('writes every template with its placeholders filled and nothing left over', () => {
    for (const template of TEMPLATES) {
      const dir = fresh(template);
      const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
      expect(files).toEqual(
        expect.arrayContaining(['.gitignore', 'README.md', 'package.json', 'src/main.ts', 'tsconfig.json']),
      );
      expect(files.some((f) => f.endsWith('.bpf.c'))).toBe(true);
      for (const f of files.filter((f) => statSync(join(dir, f)).isFile())) {
        expect(readFileSync(join(dir, f), 'utf8'), `${template}/${f}`).not.toMatch(/\{\{\w+\}\}/);
      }
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(pkg.name).toBe(`init-${template}`);
      expect(pkg.dependencies['bpf-skel']).toBe(`file:${ROOT}`);
      expect(Object.keys(pkg.scripts)).toEqual(
        expect.arrayContaining(['vmlinux', 'build:bpf', 'gen', 'build', 'start']),
      );
      expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(new RegExp(`^# init-${template}\\n`));
    }
  });

  it('takes --name and --bpf-skel-spec, escaping the spec for JSON', () => {
    const dir = join(TMP, 'init-options');
    rmSync(dir, { recursive: true, force: true });
    const spec = 'npm:bpf-skel@">=0.1 <2" \\ x';
    const r = initProject({ dir, name: '@acme/probe', bpfSkelSpec: spec, template: 'token' });
    expect(r).toMatchObject({ name: '@acme/probe', bpfSkelSpec: spec, template: 'token', warnings: [] });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('@acme/probe');
    expect(pkg.dependencies['bpf-skel']).toBe(spec);
  });

  it('refuses a non-empty directory unless forced, a file, a bad name and a bad spec', () => {
    const dir = join(TMP, 'init-refuse');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    expect(() => initProject({ dir })).toThrow(OptionError);
    expect(() => initProject({ dir })).toThrow(/not empty; use --force/);
    initProject({ dir, force: true });
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'src', 'minimal.bpf.c'))).toBe(true);
    expect(() => initProject({ dir: join(dir, 'keep.txt') })).toThrow(/not a directory/);
    expect(() => initProject({ dir: join(TMP, 'Init-Upper') })).toThrow(/not a valid npm package name/);
    expect(existsSync(join(TMP, 'Init-Upper'))).toBe(false);
    expect(() => initProject({ dir: join(TMP, 'init-x'), bpfSkelSpec: 'a\nb' })).toThrow(/one line/);
    expect(() => initProject({ dir: join(TMP, 'init-x'), template: 'nope' as TemplateName })).toThrow(
      /unknown template 'nope'/,
    );
  });

  it('validates names as npm does and renders placeholders in one pass', () => {
    for (const ok of ['a', 'my-app', 'x.y_z~1', '@s/p']) expect(() => validateProjectName(ok)).not.toThrow();
    for (const bad of [
      '',
      'A',
      '.hidden',
      '_x',
      'a b',
      'a/b',
      '@s/',
      '../x',
      'node_modules',
      'x'.repeat(215),
    ]) {
      expect(() => validateProjectName(bad), bad).toThrow(OptionError);
    }
    // A value holding a placeholder is not expanded again; unknown placeholders are template bugs.
    expect(renderTemplate('{{a}}-{{b}}', { a: '{{b}}', b: '"q"' })).toBe('{{b}}-"q"');
    expect(renderTemplate('"{{b}}"', { b: '"q"\n' }, { json: true })).toBe('"\\"q\\"\\n"');
    expect(() => renderTemplate('{{constructor}}', {})).toThrow(/unknown placeholder/);
    expect(defaultBpfSkelSpec(ROOT)).toBe(`file:${ROOT}`);
    expect(defaultBpfSkelSpec('/srv/app/node_modules/bpf-skel')).toMatch(/^\^\d+\.\d+\.\d+/);
  });
});

describe.runIf(canBuild && canRun)('init: npm install && npm start, for real', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'runtime', 'index.js'))) run(ROOT, 'npm', ['run', 'build']);
  }, 120_000);

  it('minimal: installs, builds and counts its own system calls', () => {
    const dir = fresh('minimal');
    npmInstall(dir);
    const { stdout } = run(dir, 'npm', ['start', '--', '2']);
    const counts = [...stdout.matchAll(/^(\d) s: (\d+) system calls/gm)].map((m) => Number(m[2]));
    expect(counts, stdout).toHaveLength(2);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThanOrEqual(counts[0]);
    // The build wrote what .gitignore leaves out, and tsc compiled into dist/.
    for (const f of ['src/vmlinux.h', 'src/minimal.bpf.o', 'src/minimal.skel.ts', 'dist/main.js']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
  });

  it('ringbuf: installs, builds with npm start and reports the execs happening meanwhile', async () => {
    const dir = fresh('ringbuf');
    npmInstall(dir);
    const child = spawn('npm', ['start', '--', '2'], { cwd: dir });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Exec something until the end: the build takes a while, and only the last seconds are watched.
    const traffic = setInterval(() => spawnSync('/usr/bin/true'), 100);
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(traffic);
    expect(status, stderr).toBe(0);
    expect(stdout).toMatch(/^TIME +PID +PPID +UID COMM +FILE$/m);
    expect(stdout).toMatch(/ true +\/usr\/bin\/true$/m);
    expect(stdout).toMatch(/^\d+ execs, 0 dropped$/m);
  });

  /** A project sharing minimal's node_modules (installed by the first test). */
  function shared(template: TemplateName): string {
    const dir = fresh(template);
    const modules = join(projectDir('minimal'), 'node_modules');
    if (!existsSync(modules)) npmInstall(projectDir('minimal'));
    symlinkSync(modules, join(dir, 'node_modules'), 'dir');
    run(dir, 'npm', ['run', 'build']);
    return dir;
  }

  it('xdp: builds, type-checks and counts UDP packets on lo in its own network namespace', () => {
    const dir = shared('xdp');
    const script = [
      'ip link set lo up',
      '(sleep 1.5; for i in 1 2 3 4; do echo x > /dev/udp/127.0.0.1/9; done) &',
      'node dist/main.js lo 3',
    ].join('\n');
    const { stdout } = run(dir, 'unshare', ['-n', 'bash', '-c', script]);
    expect(stdout).toMatch(/^counting packets arriving on lo/m);
    expect(stdout).toMatch(/^3 s: .*udp: [1-9]\d* packets/m);
  });

  it('token: builds and loads with a BPF token inside bpf-skel sandbox, with only what its README names', () => {
    const dir = shared('token');
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const named =
      /--delegate-cmds (\S+) --delegate-maps (\S+) \\\n\s+--delegate-progs (\S+) --delegate-attachs (\S+)/.exec(
        readme,
      );
    expect(named).not.toBeNull();
    const [, cmds, maps, progs, attachs] = named!;
    const sandbox = [
      join(dir, 'node_modules', '.bin', 'bpf-skel'),
      'sandbox',
      ...[
        '--delegate-cmds',
        cmds,
        '--delegate-maps',
        maps,
        '--delegate-progs',
        progs,
        '--delegate-attachs',
        attachs,
      ],
      '--',
      'node',
      'dist/main.js',
      '1',
    ];
    const { stdout } = run(dir, sandbox[0], sandbox.slice(1));
    expect(stdout).toMatch(/^loaded with a BPF token \(implicit mode, fd \d+\)$/m);
    expect(stdout).toMatch(/^\d+ processes/m);
    // One delegation fewer and load() names what is missing.
    const r = spawnSync(
      sandbox[0],
      sandbox.slice(1).map((a) => (a === maps ? 'array' : a)),
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does not allow map type 'hash' \(delegate_maps\)/);
  });

  it('leaves the bpf-skel checkout untouched: node_modules/bpf-skel is a link to it', () => {
    const link = execFileSync('readlink', ['-f', join(projectDir('minimal'), 'node_modules', 'bpf-skel')], {
      encoding: 'utf8',
    }).trim();
    expect(link).toBe(ROOT);
  });
});
