/**
 * The examples gallery on the real kernel: the committed objects and skeletons are what the sources build
 * (`examples/build.sh --check`), and each example's main.ts, run as a child exactly as its README says,
 * prints what it claims. The examples run concurrently: each makes its own namespace, interfaces, cgroup
 * and temporary files, named after its pid, and removes them; the checks below also look for leftovers.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadKernelBtf } from '../src/btf/kernel.js';
import { commandExists, ensureTracefs, isRoot, requireKernel, skipUnlessKernel } from './helpers/kernel.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs = 40_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/** `npx tsx examples/<name>/main.ts ARGS`, without npx's start-up cost; fails the test on a non-zero exit. */
async function example(name: string, ...args: string[]): Promise<string> {
  const r = await run(process.execPath, ['--import', TSX, `examples/${name}/main.ts`, ...args]);
  if (r.status !== 0) {
    throw new Error(
      `examples/${name}/main.ts exited with ${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
    );
  }
  return r.stdout;
}

/** The first capture group of `re` in `text`, or a failure that shows the text. */
function grab(text: string, re: RegExp): string {
  const m = re.exec(text);
  if (m === null) throw new Error(`output does not match ${re}:\n${text}`);
  return m[1];
}

const root = requireKernel('bpf() as root', isRoot(), 'the examples load BPF programs and need root');
const clang = requireKernel(
  'clang',
  commandExists('clang'),
  'clang is not installed: cannot rebuild the examples',
);

describe.concurrent('examples', () => {
  it.runIf(clang)(
    'examples/build.sh --check: committed objects and skeletons are what the sources build',
    async () => {
      const r = await run('bash', ['examples/build.sh', '--check'], 55_000);
      expect(r.stdout + r.stderr).not.toMatch(/DIFFERS|FAILED/);
      expect(r.status).toBe(0);
    },
  );

  it.runIf(root)('minimal counts its own write() calls through .bss', async () => {
    ensureTracefs();
    const out = await example('minimal', '4');
    expect(out.match(/^line \d of 4 from pid \d+$/gm)).toHaveLength(4);
    const writes = Number(grab(out, /write\(\) calls seen by the kernel: (\d+) \(\d+ bytes\)/));
    // Each printed line is one write(2) of this process; other writes of it would only add.
    expect(writes).toBeGreaterThanOrEqual(4);
    expect(writes).toBeLessThan(40);
  });

  it.runIf(root)('task-iter lists the machine, its own pid included, and keeps totals in .bss', async () => {
    const out = await example('task-iter', '5');
    expect(out.split('\n')[0]).toMatch(/^\s+PID\s+TID\s+PPID COMM/);
    // main.ts exits 1 when its pid is missing; the row shows pid == tid and a parent.
    expect(out).toMatch(/^own row: (\d+)\s+\1\s+\d+ node/m);
    const [processes, threads] = grab(out, /iterator said: (\d+ processes, \d+ threads)/)
      .match(/\d+/g)!
      .map(Number);
    expect(processes).toBeGreaterThan(5);
    expect(out).toContain(`.bss after the pass: processes=${processes} threads=${threads}`);
  });

  it.runIf(root)(
    'xdp-counter counts the UDP datagrams sent across the veth pair and removes what it made',
    async (ctx) => {
      skipUnlessKernel(
        ctx,
        'iproute2 and bash',
        commandExists('ip') && commandExists('bash'),
        'ip or bash missing',
      );
      const out = await example('xdp-counter', '7');
      expect(out).toMatch(/sent 7 UDP datagrams from 10\.250\.\d+\.2; XDP counted 7$/m);
      expect(out).toMatch(/^10\.250\.\d+\.2\s+IPv4\/UDP\s+7\s+\d+$/m);
      expect(out).toMatch(/^10\.250\.\d+\.2\s+IPv4\/TCP\s+[1-9]/m);
      const [, hostIf, ns] = /^detached; removed (\S+)\/\S+ and netns (\S+)$/m.exec(out) ?? [];
      expect(existsSync(`/sys/class/net/${hostIf}`)).toBe(false);
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    },
  );

  it.runIf(root)('uprobe times every call of the target function into a histogram', async (ctx) => {
    skipUnlessKernel(ctx, 'gcc', commandExists('gcc'), 'gcc builds the uprobe target');
    const out = await example('uprobe', '64');
    expect(out).toContain('target: 64 calls of work()');
    expect(out).toMatch(/^work\(\) returned 64 times while attached; mean \d+ ns$/m);
    const buckets = [...out.matchAll(/^\s+\S+ -> \S+ :\s+(\d+) \|/gm)].map((m) => Number(m[1]));
    expect(buckets.reduce((a, b) => a + b, 0)).toBe(64);
  });

  it.runIf(root)('profile samples this CPU-burning process and prints symbolised stacks', async () => {
    // 499 Hz for 2 s: enough samples of this process even when the other test files share the two CPUs.
    const out = await example('profile', '2', '499', '3');
    const [total, own] = grab(out, /^(\d+ samples, \d+) of them in this process/m)
      .split(' samples, ')
      .map(Number);
    // About 499 a second per CPU while it runs; far fewer when the other examples share the CPUs.
    expect(own).toBeGreaterThan(5);
    expect(total).toBeGreaterThanOrEqual(own);
    expect(out).toMatch(/^\d+ samples {2}node \(pid \d+\)$/m);
    expect(out).toMatch(/^ {4}\[u\] 0x[0-9a-f]+ node`\w+/m);
    if (out.includes('[k]')) expect(out).toMatch(/^ {4}\[k\] \w+\+0x[0-9a-f]+$/m);
  });

  it.runIf(root)(
    'cgroup-skb counts the traffic of a child in a test cgroup, both ways, and removes the cgroup',
    async (ctx) => {
      const hasCgroup2 = readFileSync('/proc/self/mountinfo', 'utf8').includes(' - cgroup2 ');
      skipUnlessKernel(ctx, 'cgroup v2', hasCgroup2, 'no cgroup2 mount');
      const out = await example('cgroup-skb', '3');
      expect(out).toContain('child in the cgroup got: pong ping 1 | pong ping 2 | pong ping 3');
      // A TCP exchange of three requests: at least SYN, three requests, FIN out; SYN-ACK, three answers in.
      const egress = Number(grab(out, /^\d+\s+egress\s+(\d+)\s+\d+ \(the test cgroup\)$/m));
      const ingress = Number(grab(out, /^\d+\s+ingress\s+(\d+)\s+\d+ \(the test cgroup\)$/m));
      expect(egress).toBeGreaterThanOrEqual(5);
      expect(ingress).toBeGreaterThanOrEqual(4);
      expect(existsSync(grab(out, /^detached; removed (\S+)$/m))).toBe(false);
    },
  );

  it.runIf(root)(
    'tcp-cc registers a BPF congestion control, runs TCP through it in a namespace, and unregisters it',
    async (ctx) => {
      const struct = 'bpf_struct_ops_tcp_congestion_ops';
      skipUnlessKernel(
        ctx,
        'struct_ops tcp_congestion_ops',
        loadKernelBtf().findByName(struct, 'struct') !== undefined,
        `kernel BTF has no ${struct}`,
      );
      skipUnlessKernel(
        ctx,
        'util-linux unshare and iproute2',
        commandExists('unshare') && commandExists('ip'),
        'unshare or ip missing',
      );
      const out = await example('tcp-cc', '2');
      expect(out).toMatch(/^registered bpfskel_reno; available: .*\bbpfskel_reno\b/m);
      expect(out).toContain(
        'network namespace with default bpfskel_reno: 2 connections sent 8388608 bytes over loopback',
      );
      expect(out).toMatch(/^host default congestion control: \S+ \(unchanged\)$/m);
      const counter = (name: string) => Number(grab(out, new RegExp(`^${name}\\s+(\\d+)$`, 'm')));
      // Both ends of each connection select it.
      expect(counter('sockets initialised')).toBe(4);
      expect(counter('cong_avoid calls')).toBeGreaterThan(0);
      // The window starts at 10 segments and the threshold at 16: at most 6 of slow start per connection.
      const slowStart = counter('segments acked in slow start');
      expect(slowStart).toBeGreaterThan(0);
      expect(slowStart).toBeLessThanOrEqual(12);
      expect(counter('segments acked in cong\\. avoidance')).toBeGreaterThan(0);
      expect(counter('largest cwnd \\(segments\\)')).toBeGreaterThan(10);
      expect(grab(out, /^unregistered; available: (.*)$/m)).not.toMatch(/\bbpfskel_reno\b/);
      const left = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8');
      expect(left).not.toMatch(/\bbpfskel_reno\b/);
    },
  );

  it.runIf(root)(
    'token loads in a user namespace only with a token: implicit, then from an explicit path',
    async () => {
      const out = await example('token');
      const [implicit, explicit] = out.split(/^=== explicit path: /m);
      expect(explicit).toBeDefined();
      for (const part of [implicit, explicit]) {
        expect(part).toMatch(/^without a token \(bpfTokenPath: ''\): .*EPERM/m);
        expect(part).toMatch(/^iterator says: \d+ processes, \d+ threads$/m);
        expect(part).toMatch(/^processes per uid: \d+: \d+/m);
      }
      expect(implicit).toMatch(
        /^with no token option: loaded; obj\.token = \{ mode: 'implicit', fd: ([3-9]|\d\d+) \}$/m,
      );
      expect(explicit).toMatch(
        /^with bpfTokenPath: '\/run\/bpf-delegated': loaded; obj\.token = \{ mode: 'path', fd: ([3-9]|\d\d+) \}$/m,
      );
    },
  );

  it.runIf(root)('bootstrap reports an exec and exit it did not start itself', async () => {
    ensureTracefs();
    let done = false;
    const running = example('bootstrap', '3').finally(() => {
      done = true;
    });
    // The example needs a moment to start and attach (longer while the other examples run): keep
    // starting short processes until it ends.
    while (!done) {
      await run('sh', ['-c', 'exec /bin/true']);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const out = await running;
    expect(out.split('\n')[0]).toMatch(/^TIME\s+EVENT COMM\s+PID\s+PPID FILENAME\/EXIT CODE$/);
    expect(out).toMatch(/^\S+ EXEC {2}true\s+\d+\s+\d+ \/bin\/true$/m);
    expect(out).toMatch(/^\d+ events; \d+ processes seen starting are still running$/m);
  });
});
