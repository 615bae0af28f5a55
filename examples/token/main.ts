/**
 * token: loads and runs a BPF object inside a user namespace, where bpf() works only with a BPF token.
 * Starts itself twice under `bpf-skel sandbox` (which needs root on the host): once with the delegated BPF
 * FS on /sys/fs/bpf, where the skeleton finds it by itself (implicit token), and once with it on
 * /run/bpf-delegated, named with `bpfTokenPath` (explicit path).
 *
 *   npx tsx examples/token/main.ts                  both runs, from the host
 *   npx tsx examples/token/main.ts --inside [PATH]  one run, inside a sandbox (what the host run starts)
 *
 * Inside, it first shows that loading without the token fails, then loads with it, runs the task
 * iterator, and prints `obj.token` and what the iterator counted.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { attachIter, BpfError } from 'bpf-skel/runtime';
import { TokenSkel } from './token.skel.js';

const EXPLICIT_PATH = '/run/bpf-delegated';

/**
 * What the token must allow for this object: create its maps (hash, and array for .bss), load its BTF and
 * a tracing program whose expected attach type is trace_iter. Making the iterator link and reading it do
 * not take a token, so link_create and iter_create need no delegation.
 */
const DELEGATION = [
  '--delegate-cmds=map_create:prog_load:btf_load',
  '--delegate-maps=hash:array',
  '--delegate-progs=tracing',
  '--delegate-attachs=trace_iter',
];

/** Host side: runs this file under `bpf-skel sandbox` (the CLI from the sources, through tsx). */
function runSandboxed(label: string, sandboxArgs: string[], insideArgs: string[]): number {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const node = [process.execPath, '--import', tsx];
  const self = fileURLToPath(import.meta.url);
  const args = [
    ...node.slice(1),
    'src/cli/main.ts',
    'sandbox',
    ...sandboxArgs,
    '--',
    ...node,
    self,
    '--inside',
    ...insideArgs,
  ];
  console.log(
    `=== ${label}: bpf-skel sandbox ${sandboxArgs.join(' ')} -- ... --inside ${insideArgs.join(' ')}`.trimEnd(),
  );
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', timeout: 60_000 });
  return result.status ?? 1;
}

function host(): void {
  const implicit = runSandboxed('implicit token', [...DELEGATION], []);
  const explicit = runSandboxed('explicit path', [`--at=${EXPLICIT_PATH}`, ...DELEGATION], [EXPLICIT_PATH]);
  if (implicit !== 0 || explicit !== 0) process.exitCode = 1;
}

/** Inside the sandbox: without a token, then with one. */
function inside(path: string | undefined): void {
  const opts = path === undefined ? {} : { bpfTokenPath: path };
  try {
    using bare = TokenSkel.open({ bpfTokenPath: '' });
    bare.load();
    console.log('without a token: loaded (not in a user namespace?)');
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    // The first sentence says what failed; the rest (how to get the rights) is for users, not this demo.
    console.log(`without a token (bpfTokenPath: ''): ${err.message.split('. ')[0]}`);
  }

  using skel = TokenSkel.open(opts);
  skel.load();
  const { mode, fd } = skel.obj.token;
  console.log(
    `with ${path === undefined ? 'no token option' : `bpfTokenPath: '${path}'`}: loaded; obj.token = { mode: '${mode}', fd: ${fd} }`,
  );
  using iter = attachIter(skel.progs.count_tasks);
  console.log(`iterator says: ${iter.readText().trim()}`);
  const uids = [...skel.maps.per_uid].sort(([, a], [, b]) => b - a);
  console.log(`processes per uid: ${uids.map(([uid, n]) => `${uid}: ${n}`).join(', ')}`);
}

try {
  const i = process.argv.indexOf('--inside');
  if (i >= 0) inside(process.argv[i + 1]);
  else host();
} catch (err) {
  console.error(err instanceof BpfError ? `token: ${err.message}` : err);
  process.exitCode = 1;
}
