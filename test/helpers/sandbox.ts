/**
 * Runs a TypeScript script inside the delegated-BPF-FS sandbox and returns the JSON it printed, so token
 * tests can make their checks inside a user namespace and assert on the result here.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runSandbox, type SandboxOptions } from '../../src/sandbox/run.js';

/** The repository root: scripts run with it as their working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Where inline scripts are written. Relative imports in an inline script resolve from here, so the sources
 * are at `'../../src/...'`.
 */
export const SCRIPT_DIR = join(REPO_ROOT, 'test', 'tmp');

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Sandbox options for {@link runInSandbox}: everything but the command and stdio, which it sets. */
export type ScriptSandboxOptions = Omit<SandboxOptions, 'command' | 'stdio'>;

/**
 * Runs `script` (a path to a `.ts` file, or `{ source }` with the text of one) with Node and tsx inside the
 * sandbox described by `opts`, and parses the last non-empty line the script wrote to stdout as JSON.
 * Rejects with the script's output when it exits with a non-zero status or prints no JSON.
 */
export async function runInSandbox<T = unknown>(
  script: string | { source: string },
  opts: ScriptSandboxOptions = {},
): Promise<T> {
  let file: string;
  let temporary = false;
  if (typeof script === 'string') {
    file = script;
  } else {
    mkdirSync(SCRIPT_DIR, { recursive: true });
    file = join(SCRIPT_DIR, `sandbox-${process.pid}-${randomBytes(4).toString('hex')}.ts`);
    writeFileSync(file, script.source);
    temporary = true;
  }
  try {
    const result = await runSandbox({
      timeoutMs: 30_000,
      cwd: REPO_ROOT,
      ...opts,
      command: [process.execPath, '--import', TSX, file],
      stdio: 'pipe',
    });
    const stdout = result.stdout ?? '';
    const stderr = result.stderr ?? '';
    const show = `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
    if (result.status !== 0) {
      throw new Error(
        `sandbox script ${file} ended with status ${result.status}, signal ${result.signal}${show}`,
      );
    }
    const last = stdout.trimEnd().split('\n').at(-1) ?? '';
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`sandbox script ${file} printed no JSON on its last line${show}`);
    }
  } finally {
    if (temporary) rmSync(file, { force: true });
  }
}
