import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  commandExists,
  countOpenFds,
  isRoot,
  KernelFeatureRequiredError,
  REQUIRE_KERNEL,
  requireKernel,
  runPrivileged,
  tempBpffs,
} from './helpers/kernel.js';
import { LibbpfReferenceError, libbpfReference } from './helpers/libbpf-ref.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = `${ROOT}test/fixtures`;
const fixture = (name: string) => `${FIXTURES}/${name}.bpf.o`;

/** Fixtures bpftool 7.1 (libbpf 1.1) loads whole; see test/fixtures/README.md for the others. */
const LIBBPF_LOADABLE = [
  'minimal',
  'globals',
  'subprogs',
  'tailcall',
  'mapinmap',
  'maps',
  'ringbuf',
  'sections',
  'core',
  'hostile',
];

describe('fixture objects', () => {
  it('are committed for every source and built from it byte for byte', () => {
    const sources = readdirSync(`${FIXTURES}/src`).filter((f) => f.endsWith('.bpf.c'));
    const objects = readdirSync(FIXTURES).filter((f) => f.endsWith('.bpf.o'));
    expect(objects.sort()).toEqual(sources.map((s) => s.replace(/\.c$/, '.o')).sort());
    if (!requireKernel('clang', commandExists('clang'), 'clang is not installed; cannot rebuild fixtures'))
      return;
    const check = spawnSync('bash', [`${FIXTURES}/build.sh`, '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout).toContain(`ok: ${sources.length} fixture objects match`);
  }, 30_000);

  it('are little-endian eBPF ELF relocatables with BTF', () => {
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.bpf.o'))) {
      const b = readFileSync(`${FIXTURES}/${f}`);
      expect(b.subarray(0, 4).toString('latin1'), f).toBe('\x7fELF');
      expect(b[4], `${f} ELFCLASS64`).toBe(2);
      expect(b[5], `${f} ELFDATA2LSB`).toBe(1);
      expect(b.readUInt16LE(16), `${f} ET_REL`).toBe(1);
      expect(b.readUInt16LE(18), `${f} EM_BPF`).toBe(247);
      expect(b.includes('.BTF.ext\0'), `${f} has .BTF.ext`).toBe(true);
    }
  });
});

describe('kernel helpers', () => {
  it('requireKernel passes when available and skips, or fails under BPF_SKEL_REQUIRE_KERNEL=1', () => {
    expect(requireKernel('present', true, 'unused')).toBe(true);
    if (REQUIRE_KERNEL) {
      expect(() => requireKernel('absent', false, 'for the test')).toThrow(KernelFeatureRequiredError);
    } else {
      expect(requireKernel('absent (expected in this test)', false, 'for the test')).toBe(false);
    }
  });

  it('countOpenFds sees a descriptor open and close', () => {
    const before = countOpenFds();
    const fd = openSync(`${FIXTURES}/README.md`, 'r');
    expect(countOpenFds()).toBe(before + 1);
    closeSync(fd);
    expect(countOpenFds()).toBe(before);
  });

  describe.runIf(requireKernel('root', isRoot(), 'mount namespaces and bpf() need root'))('as root', () => {
    it('runPrivileged mounts a private bpffs that the host does not see', () => {
      const fsType = (path: string) =>
        execFileSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8' }).trim();
      const hostBefore = fsType('/sys/fs/bpf');
      const r = runPrivileged('stat -f -c %T /sys/fs/bpf && mkdir /sys/fs/bpf/probe && ls /sys/fs/bpf');
      expect(r.stdout.split('\n')[0]).toBe('bpf_fs');
      expect(r.stdout).toContain('probe');
      expect(fsType('/sys/fs/bpf')).toBe(hostBefore);
      expect(() => runPrivileged('exit 7')).toThrow(/status 7/);
      expect(runPrivileged('echo "$FOO"; exit 2', { env: { FOO: 'a b' }, check: false })).toMatchObject({
        status: 2,
        stdout: 'a b\n',
      });
    });

    it('tempBpffs mounts its own instance and removes it on dispose', () => {
      let path: string;
      {
        using fs = tempBpffs();
        path = fs.path;
        expect(execFileSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8' }).trim()).toBe('bpf_fs');
      }
      expect(existsSync(path)).toBe(false);
    });
  });
});

const bpftoolReady = isRoot() && commandExists('bpftool') && commandExists('unshare');
describe.runIf(requireKernel('bpftool reference', bpftoolReady, 'needs root, bpftool and unshare'))(
  'libbpfReference',
  () => {
    it('reports minimal.bpf.o as the kernel holds it', () => {
      const ref = libbpfReference(fixture('minimal'));
      expect([...ref.programs.keys()]).toEqual(['handle_getpid']);
      const prog = ref.programs.get('handle_getpid')!;
      expect(prog.tag).toMatch(/^[0-9a-f]{16}$/);
      expect(prog).toMatchObject({
        type: 'tracepoint',
        typeId: 5,
        gplCompatible: true,
        kernelName: 'handle_getpid',
      });
      expect(prog.xlatedLen % 8).toBe(0);
      expect(prog.xlatedLen).toBeGreaterThan(0);
      expect(prog.jitedLen).toBeGreaterThan(0);
      expect(prog.mapNames.sort()).toEqual(['minimal.bss', 'minimal.rodata']);
      expect(ref.maps.get('minimal.bss')).toMatchObject({
        type: 'array',
        typeId: 2,
        keySize: 4,
        valueSize: 8, // hits, last_pid
        maxEntries: 1,
        flags: 1 << 10, // BPF_F_MMAPABLE
        frozen: false,
        btfId: ref.btfId,
      });
      // BPF_F_MMAPABLE | BPF_F_RDONLY_PROG, frozen after libbpf wrote the initial value.
      expect(ref.maps.get('minimal.rodata')).toMatchObject({
        valueSize: 4,
        flags: (1 << 10) | (1 << 7),
        frozen: true,
      });
      expect(ref.mapList).toHaveLength(2);
      expect(libbpfReference(fixture('minimal'))).toBe(ref);
    });

    it('finds every map of maps.bpf.o, including unused-by-BTF and pinned ones', () => {
      const ref = libbpfReference(fixture('maps'));
      const types = Object.fromEntries(ref.mapList.map((m) => [m.name, m.type]));
      expect(types).toMatchObject({
        flows: 'hash',
        lpm: 'lpm_trie',
        bloom: 'bloom_filter',
        perf_events: 'perf_event_array',
        cgroups: 'cgroup_array',
        stacks: 'stack_trace',
        user_ringbuf: 'user_ringbuf',
        sk_store: 'sk_storage',
        task_store: 'task_storage',
      });
      expect(ref.mapList).toHaveLength(25);
      expect(ref.maps.get('pinned_hash')?.pinnedAs).toBe('pinned_hash');
      expect(ref.maps.get('lpm')?.flags).toBe(1); // BPF_F_NO_PREALLOC
      expect(ref.programs.size).toBe(5);
    });

    it('keeps maps whose 15-character kernel names collide out of the by-name view', () => {
      const ref = libbpfReference(fixture('hostile'));
      expect(ref.mapList.filter((m) => m.name === 'a_map_with_a_lo')).toHaveLength(2);
      expect(ref.maps.has('a_map_with_a_lo')).toBe(false);
      expect(ref.programs.get('a_program_with_a_long_name_two')?.kernelName).toBe('a_program_with_');
    });

    it('loads every fixture marked loadable', () => {
      for (const name of LIBBPF_LOADABLE) {
        const ref = libbpfReference(fixture(name));
        expect(ref.programs.size, name).toBeGreaterThan(0);
        for (const p of ref.programs.values()) expect(p.tag, `${name}/${p.name}`).toMatch(/^[0-9a-f]{16}$/);
      }
    });

    it('reports a verifier rejection with libbpf log', () => {
      expect(() => libbpfReference(fixture('bad_verifier'))).toThrow(LibbpfReferenceError);
      try {
        libbpfReference(fixture('bad_verifier'));
      } catch (err) {
        expect((err as LibbpfReferenceError).log).toMatch(
          /prog 'bad_prog'.*\n(.*\n)*invalid access to map value/,
        );
      }
    });
  },
);
