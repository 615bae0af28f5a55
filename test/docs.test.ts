/**
 * Every ```ts block of README.md and docs/*.md compiles under `tsc --strict`, in one tsc run. Each block is
 * its own module in test/tmp/docs/ (named after its file and line), beside the skeletons it may import:
 * those of the examples (`./bootstrap.skel.js`) and of the init templates (`./minimal.skel.js`,
 * `./execsnoop.skel.js`, `./xdpcount.skel.js`, `./syscount.skel.js`, built here with clang from
 * templates/ as `bpf-skel init` projects build them). `bpf-skel/runtime` resolves to the sources. A block
 * marked ```ts no-check is deliberately partial; only a few may be.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGen } from '../src/cli/gen.js';
import { commandExists, requireKernel } from './helpers/kernel.js';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const OUT = join(ROOT, 'test', 'tmp', 'docs');
/** At most this many blocks may opt out of type-checking. */
const MAX_NO_CHECK = 4;
/** The guides the docs must have (the issue's list). */
const GUIDES = ['getting-started', 'skeleton-api', 'types', 'tokens', 'core', 'troubleshooting'];
/** BPF C of the templates, by the skeleton name docs import. */
const TEMPLATE_OBJECTS: Record<string, string> = {
  minimal: 'templates/minimal/src/minimal.bpf.c',
  execsnoop: 'templates/ringbuf/src/execsnoop.bpf.c',
  xdpcount: 'templates/xdp/src/xdpcount.bpf.c',
  syscount: 'templates/token/src/syscount.bpf.c',
};

interface Block {
  readonly doc: string;
  readonly line: number;
  readonly info: string;
  readonly code: string;
}

/** The fenced blocks of a Markdown file whose info string starts with `ts`. */
function tsBlocks(doc: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const fence = open[2];
    const info = open[3].trim();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++]);
    if (/^ts(\s|$)/.test(info)) blocks.push({ doc, line: i + 2, info, code: body.join('\n') });
    i = j;
  }
  return blocks;
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

const canBuild = requireKernel(
  'clang',
  commandExists('clang'),
  'clang builds the template objects docs import',
);

describe('docs', () => {
  it('has every guide', () => {
    for (const g of GUIDES) expect(markdownFiles()).toContain(`docs/${g}.md`);
  });

  it('extracts blocks with their lines and info strings', () => {
    const md = 'x\n```ts\na;\n```\n```sh\nb\n```\n````ts no-check\nc\n```\n````\n';
    expect(tsBlocks('m.md', md)).toEqual([
      { doc: 'm.md', line: 3, info: 'ts', code: 'a;' },
      { doc: 'm.md', line: 9, info: 'ts no-check', code: 'c\n```' },
    ]);
  });

  it.runIf(canBuild)('every ts block type-checks with tsc --strict, in one run', () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    for (const dir of readdirSync(join(ROOT, 'examples'), { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      for (const f of readdirSync(join(ROOT, 'examples', dir.name))) {
        if (f.endsWith('.skel.ts')) copyFileSync(join(ROOT, 'examples', dir.name, f), join(OUT, f));
      }
    }
    for (const [name, source] of Object.entries(TEMPLATE_OBJECTS)) {
      const object = join(OUT, `${name}.bpf.o`);
      const cc = spawnSync(
        'clang',
        ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', join(ROOT, 'test', 'fixtures')].concat([
          '-I/usr/include/x86_64-linux-gnu',
          '-c',
          join(ROOT, source),
          '-o',
          object,
        ]),
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      runGen('skeleton', { object, output: join(OUT, `${name}.skel.ts`), embed: 'inline' });
    }

    const all = markdownFiles().flatMap((doc) => tsBlocks(doc, readFileSync(join(ROOT, doc), 'utf8')));
    const skipped = all.filter((b) => /\bno-check\b/.test(b.info));
    const checked = all.filter((b) => !/\bno-check\b/.test(b.info));
    expect(skipped.length, skipped.map((b) => `${b.doc}:${b.line}`).join(', ')).toBeLessThanOrEqual(
      MAX_NO_CHECK,
    );
    // Guards against an extraction that silently finds nothing.
    expect(checked.length).toBeGreaterThanOrEqual(15);

    const origin = new Map<string, Block>();
    for (const b of checked) {
      const file = `${basename(b.doc, '.md')}-${b.line}.ts`;
      origin.set(file, b);
      // `export {}` makes every block a module, so blocks do not share a global scope.
      writeFileSync(join(OUT, file), `${b.code}\nexport {};\n`);
    }
    writeFileSync(
      join(OUT, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../tsconfig.json',
        compilerOptions: { noEmit: true },
        include: ['*.ts'],
        exclude: [],
      }),
    );
    const tsc = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(OUT, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    // Point each error at its Markdown file and line.
    const errors = `${tsc.stdout}${tsc.stderr}`.replace(
      /^(?:.*\/)?([\w.-]+\.ts)\((\d+),(\d+)\)/gm,
      (m, f, l, c) => {
        const b = origin.get(f);
        return b === undefined ? m : `${b.doc}:${b.line + Number(l) - 1}:${c}`;
      },
    );
    expect(errors).toBe('');
    expect(tsc.status).toBe(0);
  });
});
