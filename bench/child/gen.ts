/**
 * Generator benchmark child, run with plain `node` from bench/out/dist so that a fresh process is timed as
 * a CLI run would be: reads an object, generates its skeleton, writes it (and the sidecar object file for
 * big objects) into a directory, and prints how long the generation itself took.
 *
 *   node bench/out/dist/bench/child/gen.js OBJECT OUTDIR
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { generateSkeleton } from '../../src/gen/skeleton.js';

const [object, outDir] = process.argv.slice(2);
if (object === undefined || outDir === undefined) throw new Error('usage: gen.js OBJECT OUTDIR');
const t0 = process.hrtime.bigint();
const name = basename(object);
const out = generateSkeleton(new Uint8Array(readFileSync(object)), { embed: 'auto', fileName: name });
writeFileSync(join(outDir, name.replace(/\.bpf\.o$/, '.skel.ts')), out.code);
if (out.sidecar !== undefined) writeFileSync(join(outDir, out.sidecar.fileName), out.sidecar.bytes);
process.stdout.write(`${JSON.stringify({ ns: Number(process.hrtime.bigint() - t0) })}\n`);
