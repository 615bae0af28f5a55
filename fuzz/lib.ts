/**
 * Fuzz targets shared by test/fuzz-gen.test.ts (a CI-sized run) and fuzz/run.ts (long runs): the skeleton
 * generator over mutated fixture objects, and the verifier-log handling over random and hostile log text.
 * Every input derives from (seed, index), so a crash is reproduced by running that one index again.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../src/errors.js';
import { generateSkeleton } from '../src/gen/skeleton.js';
import { CORE_POISON_IMM } from '../src/runtime/core/patch.js';
import { describePoison } from '../src/runtime/core/poison.js';
import { verifierMessage } from '../src/runtime/load/programs.js';
import { makeRng, mutate, type Rng } from '../test/helpers/mutate.js';

/** Fixtures the generator fuzz starts from: small, and between them every kind of section and type. */
export const GEN_SEEDS = [
  'minimal',
  'globals',
  'hostile',
  'maps',
  'ringbuf',
  'mapinmap',
  'struct_ops',
  'record_views',
] as const;

/** A failure the fuzz found: what to run again to see it. */
export interface Crash {
  target: 'gen' | 'log';
  seed: number;
  index: number;
  input: string;
  error: string;
}

/** Longest one input may take (ms) before it counts as a hang. */
export const SLOW_MS = 2000;

function describeError(e: unknown): string {
  return e instanceof Error
    ? `${e.name}: ${e.message.slice(0, 300)}\n${e.stack?.split('\n').slice(1, 4).join('\n')}`
    : String(e);
}

/** Reads a fixture object. */
export function fixtureBytes(name: string, root = 'test/fixtures'): Uint8Array {
  return new Uint8Array(readFileSync(join(root, `${name}.bpf.o`)));
}

/** Input `index` of the generator fuzz for `seed`: which fixture and how it was damaged. */
export function genInput(
  seed: number,
  index: number,
  objects: ReadonlyMap<string, Uint8Array>,
): { object: string; bytes: Uint8Array; description: string } {
  const rng = makeRng((seed * 0x9e3779b1 + index) >>> 0);
  const names = [...objects.keys()];
  const object = names[rng() % names.length];
  const m = mutate(objects.get(object) as Uint8Array, rng);
  return { object, bytes: m.bytes, description: `${object}: ${m.description}` };
}

/** Outcome of one generator input. */
export type GenOutcome =
  | { kind: 'generated'; object: string; code: string }
  | { kind: 'rejected'; error: BpfError }
  | { kind: 'crash'; crash: Crash };

/** Runs the generator on input `index`: only typed errors (BpfError and subclasses) may come out, quickly. */
export function runGen(seed: number, index: number, objects: ReadonlyMap<string, Uint8Array>): GenOutcome {
  const input = genInput(seed, index, objects);
  const t0 = performance.now();
  let outcome: GenOutcome;
  try {
    const { code } = generateSkeleton(input.bytes, { embed: 'inline', fileName: `${input.object}.bpf.o` });
    outcome = { kind: 'generated', object: input.object, code };
  } catch (e) {
    outcome =
      e instanceof BpfError
        ? { kind: 'rejected', error: e }
        : {
            kind: 'crash',
            crash: { target: 'gen', seed, index, input: input.description, error: describeError(e) },
          };
  }
  const ms = performance.now() - t0;
  if (outcome.kind !== 'crash' && ms > SLOW_MS) {
    const error = `took ${ms.toFixed(0)} ms`;
    return { kind: 'crash', crash: { target: 'gen', seed, index, input: input.description, error } };
  }
  return outcome;
}

const POISON = `unknown#${CORE_POISON_IMM}`;

/** Pieces hostile verifier logs are made of: real log shapes, poison lines, control bytes, huge lines. */
function logPiece(rng: Rng): string {
  const n = rng();
  switch (n % 12) {
    case 0:
      return `${n % 5000}: (85) call ${POISON}`;
    case 1:
      return `invalid func ${POISON}`;
    case 2:
      return `processed ${n % 100000} insns (limit 1000000) max_states_per_insn 0`;
    case 3:
      return "R1 invalid mem access 'scalar'";
    case 4:
      return '\x1b[2J\x00\x07\r\u202e';
    case 5:
      return '9'.repeat(1 + (n % 20000));
    case 6:
      return ' '.repeat(n % 3000);
    case 7:
      return `${'('.repeat(n % 200)}${'a'.repeat(n % 500)}`;
    case 8:
      return `${n % 99}: (85) call ${'unknown#'.repeat(1 + (n % 50))}${n}`;
    case 9:
      return String.fromCharCode(...Array.from({ length: 1 + (n % 64) }, () => (rng() % 0x110000) % 0xd800));
    case 10:
      return '\n'.repeat(1 + (n % 50));
    default:
      return `func#${n % 10} @${n % 1000}\nlast_idx ${n % 100} first_idx ${n % 7}`;
  }
}

/** Log `index` of the verifier-log fuzz for `seed`. */
export function logInput(seed: number, index: number): string {
  const rng = makeRng((seed * 0x85ebca6b + index) >>> 0);
  const parts: string[] = [];
  const count = 1 + (rng() % 40);
  for (let i = 0; i < count; i++) parts.push(logPiece(rng));
  return parts.join(rng() % 2 === 0 ? '\n' : '');
}

/**
 * Runs verifierMessage and describePoison on log `index`: they must not throw, must be quick, and the
 * message must stay bounded (a header, at most 8 log lines, a footer).
 */
export function runLog(seed: number, index: number): Crash | undefined {
  const log = logInput(seed, index);
  const input = `log of ${log.length} chars`;
  const t0 = performance.now();
  try {
    const message = verifierMessage('prog', 13, log, index % 2 === 0);
    const lines = message.split('\n').length;
    if (lines > 10) throw new Error(`message has ${lines} lines`);
    describePoison(log, []);
    describePoison(log, [], () => undefined);
  } catch (e) {
    return { target: 'log', seed, index, input, error: describeError(e) };
  }
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) return { target: 'log', seed, index, input, error: `took ${ms.toFixed(0)} ms` };
  return undefined;
}

/** A tsconfig (JSON text) that type-checks `*.skel.ts` in its directory strictly against the runtime sources. */
export function skeletonTsconfig(repoRoot: string): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'es2022',
      lib: ['es2023', 'esnext.disposable'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      types: ['node'],
      typeRoots: [join(repoRoot, 'node_modules', '@types')],
      paths: { 'bpf-skel/runtime': [join(repoRoot, 'src', 'runtime', 'index.ts')] },
    },
    include: ['*.skel.ts'],
  });
}
