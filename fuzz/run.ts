/**
 * Long fuzz runs (see docs/reliability.md). Each input is a pure function of (seed, index), so a crash
 * prints the command that reproduces it alone.
 *
 *   npx tsx fuzz/run.ts                                  # both targets, 20,000 inputs each, seed from the clock
 *   npx tsx fuzz/run.ts --target gen --count 100000 --seed 7 --tsc 50
 *   npx tsx fuzz/run.ts --target gen --seed 7 --index 4242     # reproduce one input
 *
 * Run from the repository root. `--tsc N` type-checks N generated skeletons that differ from their fixture's (written to test/tmp/fuzz).
 * Exit status 1 when anything crashed.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSkeleton } from '../src/gen/skeleton.js';
import { type Crash, fixtureBytes, GEN_SEEDS, runGen, runLog, skeletonTsconfig } from './lib.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    count: { type: 'string', default: '20000' },
    seed: { type: 'string' },
    index: { type: 'string' },
    tsc: { type: 'string', default: '0' },
  },
});
const seed = values.seed === undefined ? Date.now() >>> 0 : Number(values.seed);
const only = values.index === undefined ? undefined : Number(values.index);
const count = Number(values.count);
const targets = values.target === 'all' ? ['gen', 'log'] : [values.target as string];
const objects = new Map(GEN_SEEDS.map((n) => [n, fixtureBytes(n)]));
const crashes: Crash[] = [];
const indices = only === undefined ? Array.from({ length: count }, (_, i) => i) : [only];
const tscDir = join('test', 'tmp', 'fuzz');
const wantTsc = Number(values.tsc);
let toCheck = 0;
/** What each fixture generates undamaged: survivors equal to it add nothing to type-check. */
const baseline = new Map<string, string>(
  [...objects].map(([n, b]) => [n, generateSkeleton(b, { embed: 'inline', fileName: `${n}.bpf.o` }).code]),
);

if (wantTsc > 0) {
  rmSync(tscDir, { recursive: true, force: true });
  mkdirSync(tscDir, { recursive: true });
}

for (const target of targets) {
  const t0 = performance.now();
  let generated = 0;
  let rejected = 0;
  for (const index of indices) {
    if (target === 'gen') {
      const r = runGen(seed, index, objects);
      if (r.kind === 'crash') crashes.push(r.crash);
      else if (r.kind === 'rejected') rejected++;
      else {
        generated++;
        if (toCheck < wantTsc && r.code !== baseline.get(r.object))
          writeFileSync(join(tscDir, `s${toCheck++}_${index}.skel.ts`), r.code);
      }
    } else {
      const c = runLog(seed, index);
      if (c !== undefined) crashes.push(c);
    }
  }
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`${target}: seed ${seed}, ${indices.length} inputs in ${s} s`);
  process.stdout.write(target === 'gen' ? `, ${generated} generated, ${rejected} rejected\n` : '\n');
}

if (toCheck > 0) {
  writeFileSync(join(tscDir, 'tsconfig.json'), skeletonTsconfig(process.cwd()));
  const tsc = join('node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', join(tscDir, 'tsconfig.json')], { encoding: 'utf8' });
  process.stdout.write(`tsc on ${toCheck} generated skeletons: exit ${r.status}\n${r.stdout}${r.stderr}`);
  if (r.status !== 0) process.exitCode = 1;
}

for (const c of crashes) {
  process.stdout.write(
    `\nCRASH (${c.target}) ${c.input}\n${c.error}\nreproduce: npx tsx fuzz/run.ts --target ${c.target} --seed ${c.seed} --index ${c.index}\n`,
  );
}
if (crashes.length > 0) process.exitCode = 1;
