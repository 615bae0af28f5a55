/**
 * `bpf-skel gen skeleton` and `bpf-skel gen types`: write the TypeScript for an object, once or on every
 * change of the object (`--watch`).
 *
 * @module
 */
import { copyFileSync, existsSync, readFileSync, realpathSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BpfError } from '../errors.js';
import { type EmbedMode, generateSkeleton, generateTypes } from '../gen/skeleton.js';

/** Options of `gen skeleton` / `gen types`. */
export interface GenArgs {
  readonly object: string;
  /** Output file; `-` for stdout; default `<object without .bpf.o>.skel.ts` (or `.types.ts`) beside it. */
  readonly output?: string;
  readonly name?: string;
  readonly embed?: EmbedMode;
  readonly types?: readonly string[];
}

/** What one generation wrote. */
export interface GenResult {
  readonly output: string;
  readonly bytes: number;
  /** The object copied next to the skeleton for `--embed file`, if any. */
  readonly sidecar?: string;
}

/** The default output path for `object`. */
export function defaultOutput(object: string, kind: 'skeleton' | 'types'): string {
  const file = basename(object).replace(/\.bpf\.o$|\.o$/, '');
  return join(dirname(object), `${file}.${kind === 'skeleton' ? 'skel' : 'types'}.ts`);
}

/** Generates once. */
export function runGen(kind: 'skeleton' | 'types', args: GenArgs): GenResult {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(args.object);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new BpfError(`cannot read ${args.object}: ${code}`, { code, command: `gen ${kind}` });
  }
  const fileName = basename(args.object);
  const output = args.output ?? defaultOutput(args.object, kind);
  if (kind === 'types') {
    const code = generateTypes(bytes, { fileName, types: args.types ? [...args.types] : undefined });
    return write(output, code);
  }
  const skel = generateSkeleton(bytes, {
    fileName,
    name: args.name,
    embed: args.embed ?? 'auto',
    types: args.types ? [...args.types] : undefined,
  });
  if (skel.sidecar !== undefined && output === '-') {
    throw new BpfError(
      'an object embedded as a file (--embed file, or auto for large objects) needs -o FILE',
      {
        code: 'EINVAL',
        command: 'gen skeleton',
      },
    );
  }
  const result = write(output, skel.code);
  if (skel.sidecar === undefined) return result;
  const sidecar = join(dirname(output), skel.sidecar.fileName);
  if (!existsSync(sidecar) || realpathSync(sidecar) !== realpathSync(args.object))
    copyFileSync(args.object, sidecar);
  return { ...result, sidecar };
}

function write(output: string, code: string): GenResult {
  if (output === '-') {
    process.stdout.write(code);
  } else {
    writeFileSync(output, code);
  }
  return { output, bytes: Buffer.byteLength(code) };
}

/**
 * Generates now and again whenever the object changes, until the process ends. Failures are reported and
 * watching goes on (the object may be half-written by the compiler).
 */
export function watchGen(kind: 'skeleton' | 'types', args: GenArgs, report: (line: string) => void): void {
  const once = () => {
    try {
      const r = runGen(kind, args);
      report(`wrote ${r.output} (${r.bytes} bytes)`);
    } catch (err) {
      report(`bpf-skel: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  once();
  let timer: NodeJS.Timeout | undefined;
  // Watch the directory: compilers replace the file, which ends a watch on the file itself.
  const target = basename(args.object);
  watch(resolve(dirname(args.object)), (_event, changed) => {
    if (changed !== target) return;
    clearTimeout(timer);
    timer = setTimeout(once, 100);
  });
  report(`watching ${args.object}; Ctrl-C ends`);
}
