/**
 * The tools (tools/<name>/, classic tracing tools written once against vmlinux.h with CO-RE) on the real
 * kernel: the committed objects and skeletons are what the sources build; our loader leaves every program
 * exactly as libbpf does (same tag and translated length, so CO-RE relocated them the same way); and each
 * tool, run as a child exactly as its README says, reports the activity this test makes while it runs:
 * an exec with known arguments, opens of a known path with known flags, run-queue waits of a known
 * process, and direct writes to the disk behind /var/tmp.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBtf, parseBtfExt } from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { progInfo } from '../src/runtime/sys/info.js';
import { commandExists, ensureTracefs, isRoot, requireKernel, skipUnlessKernel } from './helpers/kernel.js';
import { libbpfReference } from './helpers/libbpf-ref.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const TOOLS = ['execsnoop', 'opensnoop', 'runqlat', 'biolatency'] as const;

const root = requireKernel('bpf() as root', isRoot(), 'the tools load BPF programs and need root');
const clang = requireKernel(
  'clang',
  commandExists('clang'),
  'clang is not installed: cannot rebuild the tools',
);

interface Exit {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A tool running as a child: `npx tsx tools/<name>/main.ts ARGS`, without npx's start-up cost. */
interface ToolRun {
  /** Resolves with the first match of `re` in the output so far or to come; rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Ctrl-C (unless it ended already), then its exit; fails when it exits non-zero. */
  stop(): Promise<string>;
  /** Its exit, by itself; fails when it exits non-zero. */
  finished(ms?: number): Promise<string>;
}

const children = new Set<ChildProcessWithoutNullStreams>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

function startTool(name: string, args: string[]): ToolRun {
  const child = spawn(process.execPath, ['--import', TSX, `tools/${name}/main.ts`, ...args], { cwd: ROOT });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of waiters) w();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<Exit>((resolve) => {
    child.on('close', (status) => {
      children.delete(child);
      for (const w of waiters) w();
      resolve({ status, stdout, stderr });
    });
  });
  const describeRun = () =>
    `tools/${name}/main.ts ${args.join(' ')}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  const checked = async (): Promise<string> => {
    const r = await exit;
    if (r.status !== 0) throw new Error(`exited with ${r.status}: ${describeRun()}`);
    return r.stdout;
  };
  return {
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(stdout);
          if (m !== null) done(() => resolve(m));
          else if (child.exitCode !== null || child.signalCode !== null)
            done(() => reject(new Error(`ended before printing ${re}: ${describeRun()}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no ${re} after ${ms} ms: ${describeRun()}`))),
          ms,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return checked();
    },
    async finished(ms = 20_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      try {
        return await checked();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function run(file: string, args: string[], timeoutMs = 30_000): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

interface HistRow {
  low: number;
  high: number;
  count: number;
  stars: number;
}

/** The histograms of a tool's output, each under the label line above it ('' when there is none). */
function histograms(out: string): Map<string, HistRow[]> {
  const result = new Map<string, HistRow[]>();
  let label = '';
  let rows: HistRow[] | undefined;
  for (const line of out.split('\n')) {
    const row = /^\s+(\d+) -> (\d+)\s+: (\d+)\s+\|(\**) *\|$/.exec(line);
    if (row !== null && rows !== undefined) {
      rows.push({ low: Number(row[1]), high: Number(row[2]), count: Number(row[3]), stars: row[4].length });
    } else if (/^\s+[um]secs\s+: count\s+distribution$/.test(line)) {
      rows = [];
      result.set(label, rows);
    } else if (line.trim() !== '') {
      label = line.trim();
      rows = undefined;
    }
  }
  return result;
}

/** Checks the shape of a log2 histogram and returns its total count. */
function checkHistogram(rows: readonly HistRow[]): number {
  expect(rows.length).toBeGreaterThan(0);
  const max = Math.max(...rows.map((r) => r.count));
  rows.forEach((r, i) => {
    expect([r.low, r.high]).toEqual([i === 0 ? 0 : 2 ** i, 2 ** (i + 1) - 1]);
    expect(r.stars).toBe(Math.floor((r.count * 40) / max));
  });
  // The table ends at the last non-empty bucket.
  expect(rows[rows.length - 1].count).toBeGreaterThan(0);
  return rows.reduce((sum, r) => sum + r.count, 0);
}

/** The whole disk under the filesystem of `path`, by its name in /sys/block, if it is on a block device. */
function diskOf(path: string): string | undefined {
  const dev = statSync(path).dev;
  // glibc's dev_t: minor in bits 0-7 and 20-31, major in bits 8-19 (and above 32, unused here).
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 2 ** 20) & 0xfff00);
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(sys)) return undefined;
  // The link leads to the device's sysfs directory; a partition's sits inside its disk's.
  const real = realpathSync(sys);
  return basename(existsSync(join(real, 'partition')) ? dirname(real) : real);
}

describe.runIf(clang)('tools: build', () => {
  it('tools/build.sh --check: the committed objects and skeletons are what the sources build', async () => {
    const r = await run('bash', ['tools/build.sh', '--check'], 60_000);
    expect(r.stdout + r.stderr).not.toMatch(/DIFFERS|FAILED|no \.bpf\.c/);
    expect(r.status).toBe(0);
  });
});

/**
 * The CO-RE relocations clang recorded in each object (kind and local type), which the tag comparison
 * below then proves were applied as libbpf applies them. The `___pre*` flavors name fields this kernel
 * lacks: their reads sit in branches that bpf_core_field_exists() turns off, and are poisoned.
 */
const CORE_RELOCATIONS: Record<(typeof TOOLS)[number], string[]> = {
  execsnoop: [
    'field_byte_offset task_struct',
    'field_byte_offset trace_event_raw_sys_enter',
    'field_byte_offset trace_event_raw_sys_exit',
  ],
  opensnoop: ['field_byte_offset trace_event_raw_sys_enter', 'field_byte_offset trace_event_raw_sys_exit'],
  runqlat: [
    'field_byte_offset task_struct',
    'field_byte_offset task_struct___pre514',
    'field_exists task_struct',
  ],
  biolatency: [
    'field_byte_offset gendisk',
    'field_byte_offset request',
    'field_byte_offset request___pre517',
    'field_byte_offset request_queue',
    'field_exists request___pre517',
  ],
};

function coreRelocations(path: string): string[] {
  const elf = parseElf(new Uint8Array(readFileSync(path)), path);
  const btf = parseBtf(elf.sectionByName('.BTF')!.data, { file: path });
  const ext = parseBtfExt(elf.sectionByName('.BTF.ext')!.data, btf);
  const kinds = new Set<string>();
  for (const s of ext.coreRelo)
    for (const r of s.records) kinds.add(`${r.kind} ${btf.typeById(r.typeId).name}`);
  return [...kinds].sort();
}

describe.runIf(root)('tools: our loader and libbpf load the same programs', () => {
  it.each(TOOLS)(
    '%s: every program has libbpf’s tag and translated length (CO-RE relocated alike)',
    (name) => {
      const path = join(ROOT, 'tools', name, `${name}.bpf.o`);
      expect(coreRelocations(path)).toEqual(CORE_RELOCATIONS[name]);
      const ref = libbpfReference(path);
      using obj = BpfObject.open(path);
      obj.load();
      expect([...obj.programs.keys()].sort()).toEqual([...ref.programs.keys()].sort());
      for (const [progName, prog] of obj.programs) {
        const info = progInfo(prog.fd);
        const want = ref.programs.get(progName)!;
        expect({ prog: progName, tag: info.tag, xlated: info.xlatedProgLen }).toEqual({
          prog: progName,
          tag: want.tag,
          xlated: want.xlatedLen,
        });
      }
    },
  );
});

describe.runIf(root).concurrent('tools: each reports the activity made while it runs', () => {
  it('a bad command line gets a message naming the option, the usage and status 2, before any load', async () => {
    const [badPid, unknown] = await Promise.all([
      run(process.execPath, ['--import', TSX, 'tools/opensnoop/main.ts', '-p', 'x']),
      run(process.execPath, ['--import', TSX, 'tools/runqlat/main.ts', '--bogus']),
    ]);
    expect(badPid.status).toBe(2);
    expect(badPid.stderr).toMatch(
      /^opensnoop: --pid must be an integer in 1\.\.2147483647, not 'x'\nusage: opensnoop /,
    );
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^runqlat: Unknown option '--bogus'.*\nusage: runqlat /s);
  });

  it('execsnoop prints an exec with its exact arguments, a failed one with -x, and "..." past max args', async () => {
    ensureTracefs();
    const tool = startTool('execsnoop', ['-x', '-q', '-U']);
    await tool.waitFor(/^UID\s+PCOMM\s+PID\s+PPID\s+RET ARGS$/m);
    const marker = `execsnoop-test-${process.pid}`;
    const ok = spawn('/bin/sh', ['-c', 'exit 0', marker, 'two words', 'quote"d']);
    const many = spawn('/bin/true', [marker, ...Array.from({ length: 24 }, (_, i) => `a${i + 1}`)]);
    const missing = `/nonexistent/${marker}`;
    spawn(missing, ['x']).on('error', () => {});
    const uid = process.getuid!();
    await Promise.all([ok, many].map((c) => new Promise((resolve) => c.on('close', resolve))));

    await tool.waitFor(
      new RegExp(
        `^${uid}\\s+sh\\s+${ok.pid}\\s+${process.pid}\\s+0 "/bin/sh" "-c" "exit 0" "${marker}" "two words" "quote\\\\"d"$`,
        'm',
      ),
    );
    // The file name and argv[1..19] are kept; the rest shows as "...".
    const kept = [marker, ...Array.from({ length: 18 }, (_, i) => `a${i + 1}`)]
      .map((a) => `"${a}"`)
      .join(' ');
    await tool.waitFor(
      new RegExp(
        `^${uid}\\s+true\\s+${many.pid}\\s+${process.pid}\\s+0 "/bin/true" ${kept} "\\.\\.\\."$`,
        'm',
      ),
    );
    // A failed exec keeps the forking process's comm and returns -ENOENT.
    await tool.waitFor(new RegExp(`^${uid}\\s+\\S+\\s+\\d+\\s+${process.pid}\\s+-2 "${missing}" "x"$`, 'm'));
    await tool.stop();
  });

  it('opensnoop shows this process opening a known path with its flags and result, and nothing of others', async () => {
    ensureTracefs();
    const tool = startTool('opensnoop', ['-p', String(process.pid)]);
    await tool.waitFor(/^PID\s+COMM\s+FD ERR FLAGS\s+PATH$/m);
    const path = join(tmpdir(), `bpf-skel-opensnoop-${process.pid}`);
    rmSync(path, { force: true });
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    closeSync(fd);
    rmSync(path);
    const missing = `${path}.missing`;
    expect(() => openSync(missing, constants.O_RDONLY)).toThrow(/ENOENT/);

    // libuv adds O_CLOEXEC (02000000) to every open.
    const flags = (constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | 0o2000000)
      .toString(8)
      .padStart(8, '0');
    expect(flags).toBe('02000301');
    const pid = String(process.pid);
    await tool.waitFor(new RegExp(`^${pid}\\s+\\S+\\s+${fd}\\s+0 ${flags} ${path}$`, 'm'));
    await tool.waitFor(new RegExp(`^${pid}\\s+\\S+\\s+-1\\s+2 02000000 ${missing}$`, 'm'));
    const out = await tool.stop();
    const lines = out.trim().split('\n').slice(1);
    expect(lines.every((l) => l.startsWith(`${pid} `))).toBe(true);
  });

  it('runqlat: one histogram for the machine, and with -P -p only the chosen busy process', async () => {
    ensureTracefs();
    // Sleeps about a millisecond between 0.2 ms bursts of work: each wakeup is a wait on the run queue.
    const busy = spawn(process.execPath, [
      '-e',
      'setInterval(() => { const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < 200000n); }, 1);' +
        ' setTimeout(() => process.exit(0), 15000);',
    ]);
    children.add(busy);
    try {
      const all = startTool('runqlat', ['1', '1']);
      const one = startTool('runqlat', ['-P', '-p', String(busy.pid), '2', '1']);
      const [allOut, oneOut] = await Promise.all([all.finished(), one.finished()]);

      const machine = histograms(allOut);
      expect([...machine.keys()]).toEqual(['Tracing run queue latency... Hit Ctrl-C to end.']);
      const total = checkHistogram([...machine.values()][0]);
      expect(total).toBeGreaterThan(10);

      const perPid = histograms(oneOut);
      expect([...perPid.keys()]).toEqual([`pid = ${busy.pid} node`]);
      const rows = perPid.get(`pid = ${busy.pid} node`)!;
      expect(checkHistogram(rows)).toBeGreaterThan(50);
      // Waits are in microseconds and none can outlast the 2 s interval.
      expect(rows[rows.length - 1].low).toBeLessThan(2_000_000);
    } finally {
      busy.kill('SIGKILL');
    }
  });

  it('biolatency counts every O_DIRECT write to the disk behind /var/tmp, per disk and operation', async (ctx) => {
    ensureTracefs();
    const disk = diskOf('/var/tmp');
    skipUnlessKernel(
      ctx,
      'a block device under /var/tmp',
      disk !== undefined,
      '/var/tmp is not on a block device',
    );
    const tool = startTool('biolatency', ['-D', '-F', '-d', disk!, '2', '1']);
    await tool.waitFor(/^Tracing block device I\/O\.\.\. Hit Ctrl-C to end\.$/m);
    const file = `/var/tmp/bpf-skel-biolatency-${process.pid}`;
    const BLOCKS = 64;
    try {
      // Each synchronous 4 KiB direct write is one request of its own: no page cache, nothing to merge.
      const dd = await run('dd', [
        'if=/dev/zero',
        `of=${file}`,
        'bs=4k',
        `count=${BLOCKS}`,
        'oflag=direct',
        'conv=fsync',
      ]);
      expect(dd.status, dd.stderr).toBe(0);
    } finally {
      rmSync(file, { force: true });
    }
    const out = await tool.finished();
    const hists = histograms(out);
    const labels = [...hists.keys()];
    expect(labels.length).toBeGreaterThan(0);
    for (const label of labels) expect(label).toMatch(new RegExp(`^disk = ${disk}, op = \\w+$`));
    const writes = hists.get(`disk = ${disk}, op = Write`);
    expect(writes, out).toBeDefined();
    expect(checkHistogram(writes!)).toBeGreaterThanOrEqual(BLOCKS);
    for (const rows of hists.values()) checkHistogram(rows);
  });
});
