/**
 * CI-sized fuzzing (fuzz/lib.ts; long runs with fuzz/run.ts, see docs/reliability.md): the skeleton
 * generator over mutated fixture objects must either generate or throw a typed error, quickly, and what it
 * generates from damaged objects must type-check; the verifier-log handling must survive random and hostile
 * log text. A failure message carries the seed and index that reproduce it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Crash, fixtureBytes, GEN_SEEDS, runGen, runLog, skeletonTsconfig } from '../fuzz/lib.js';
import { generateSkeleton } from '../src/gen/skeleton.js';
import { describePoison } from '../src/runtime/core/poison.js';
import { verifierMessage } from '../src/runtime/load/programs.js';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'test', 'tmp', 'fuzz-gen');
/** Fixed seeds: CI runs the same inputs every time; fuzz/run.ts explores new ones. */
const GEN_SEED = 20240601;
const LOG_SEED = 777;
const GEN_INPUTS = 1200;
const LOG_INPUTS = 3000;
const TSC_SAMPLE = 12;

const show = (c: Crash) =>
  `${c.input}\n${c.error}\nreproduce: npx tsx fuzz/run.ts --target ${c.target} --seed ${c.seed} --index ${c.index}`;

describe('generator fuzz', () => {
  it(`${GEN_INPUTS} mutated objects: typed errors only, and damaged survivors type-check`, () => {
    const objects = new Map(GEN_SEEDS.map((n) => [n, fixtureBytes(n, join(ROOT, 'test', 'fixtures'))]));
    const baseline = new Map<string, string>(
      [...objects].map(([n, b]) => [
        n,
        generateSkeleton(b, { embed: 'inline', fileName: `${n}.bpf.o` }).code,
      ]),
    );
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const crashes: Crash[] = [];
    let generated = 0;
    let rejected = 0;
    let sampled = 0;
    for (let index = 0; index < GEN_INPUTS; index++) {
      const r = runGen(GEN_SEED, index, objects);
      if (r.kind === 'crash') crashes.push(r.crash);
      else if (r.kind === 'rejected') rejected++;
      else {
        generated++;
        if (sampled < TSC_SAMPLE && r.code !== baseline.get(r.object)) {
          writeFileSync(join(DIR, `s${sampled++}_${index}.skel.ts`), r.code);
        }
      }
    }
    expect(crashes.map(show)).toEqual([]);
    // The mutations reach both outcomes, or the fuzz is not fuzzing.
    expect(generated).toBeGreaterThan(GEN_INPUTS / 10);
    expect(rejected).toBeGreaterThan(GEN_INPUTS / 10);
    expect(sampled).toBe(TSC_SAMPLE);
    writeFileSync(join(DIR, 'tsconfig.json'), skeletonTsconfig(ROOT));
    const tsc = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(DIR, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    expect(`${tsc.stdout}${tsc.stderr}`.trim()).toBe('');
  }, 60_000);
});

describe('verifier log fuzz', () => {
  it(`${LOG_INPUTS} random and hostile logs: no throw, bounded message, quick`, () => {
    const crashes: Crash[] = [];
    for (let index = 0; index < LOG_INPUTS; index++) {
      const c = runLog(LOG_SEED, index);
      if (c !== undefined) crashes.push(c);
    }
    expect(crashes.map(show)).toEqual([]);
  });

  it('huge logs are handled in linear time', () => {
    const line = '12: (85) call unknown#195896080\n';
    const log = `${line.repeat(200_000)}invalid func unknown#195896080\n${'9'.repeat(1_000_000)}`;
    const t0 = performance.now();
    const message = verifierMessage('p', 13, log, true);
    const poison = describePoison(log, []);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(message.split('\n').length).toBeLessThanOrEqual(10);
    expect(message).toContain('(log truncated)');
    expect(poison).toMatch(/instruction 12/);
  });
});
