/**
 * Figure 1: open + load + close of a small object (minimal) and of the largest fixture, bpf-skel's
 * `BpfObject` against libbpf's `bpf_object__open_file` + `bpf_object__load` + `bpf_object__close`.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BpfObject } from '../../src/runtime/object.js';
import { type BenchContext, cBin, fixture } from '../lib/context.js';
import { runJson } from '../lib/proc.js';
import type { Row } from '../lib/report.js';
import { alternate } from '../lib/rounds.js';
import { summarize } from '../lib/stats.js';

/** The big loadable fixtures; `maps` pins a map by name, so it needs a bpffs at the pin root. */
const CANDIDATES = ['sections', 'maps'];
const NEEDS_BPFFS = new Set(['maps']);

/** The largest of {@link CANDIDATES} by file size. */
export function largestFixture(ctx: BenchContext): string {
  const sized = CANDIDATES.map((n) => ({ n, size: statSync(fixture(ctx, n)).size }));
  sized.sort((a, b) => b.size - a.size);
  return sized[0].n;
}

function openLoadClose(path: string, pinRootPath: string | undefined): number {
  const t0 = process.hrtime.bigint();
  const obj = BpfObject.open(path, pinRootPath === undefined ? {} : { pinRootPath });
  try {
    obj.load();
  } finally {
    obj.close();
  }
  return Number(process.hrtime.bigint() - t0);
}

/** Measures one object: `rounds` alternations of `iterations` C loads and `iterations` of ours. */
function measure(ctx: BenchContext, name: string, iterations: number, rounds: number): Row {
  const path = fixture(ctx, name);
  const ours: number[] = [];
  const c: number[] = [];
  // libbpf pins under /sys/fs/bpf: give the C side a private bpffs there; ours gets its own mount.
  const pinRoot = NEEDS_BPFFS.has(name) ? join(ctx.tmp, 'bpffs') : undefined;
  const cArgs = [path, String(iterations), '3'];
  const cCmd: [string, string[]] =
    pinRoot === undefined
      ? [cBin(ctx, 'load'), cArgs]
      : [
          'unshare',
          [
            '-m',
            '--propagation',
            'private',
            'sh',
            '-c',
            'mount -t bpf bpf /sys/fs/bpf && exec "$0" "$@"',
            cBin(ctx, 'load'),
            ...cArgs,
          ],
        ];
  if (pinRoot !== undefined) {
    mkdirSync(pinRoot, { recursive: true });
    execFileSync('mount', ['-t', 'bpf', 'bpf', pinRoot]);
  }
  try {
    for (let i = 0; i < 3; i++) openLoadClose(path, pinRoot);
    alternate(
      rounds,
      () => c.push(...runJson<{ ns: number[] }>(cCmd[0], cCmd[1]).ns),
      () => {
        for (let i = 0; i < iterations; i++) ours.push(openLoadClose(path, pinRoot));
      },
    );
  } finally {
    if (pinRoot !== undefined) {
      execFileSync('umount', [pinRoot]);
      rmSync(pinRoot, { recursive: true, force: true });
    }
  }
  const size = statSync(path).size;
  return {
    id: `load/${name}`,
    label: `open+load+close ${basename(path)} (${Math.round(size / 1024)} KiB)`,
    unit: 'ms',
    ours: summarize(ours.map((ns) => ns / 1e6)),
    c: summarize(c.map((ns) => ns / 1e6)),
    goal: { kind: 'ratio-max', value: 1.2 },
  };
}

/** Figure 1 rows: minimal and the largest fixture. */
export function loadFigure(ctx: BenchContext): Row[] {
  const rounds = ctx.quick ? 2 : 8;
  const big = largestFixture(ctx);
  ctx.log(`load: minimal and ${big}, ${rounds} rounds`);
  return [measure(ctx, 'minimal', ctx.quick ? 10 : 25, rounds), measure(ctx, big, ctx.quick ? 3 : 8, rounds)];
}
