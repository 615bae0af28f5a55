/**
 * Our loader against libbpf on the same kernel: for every fixture libbpf 1.1 can load, every program must
 * get the same tag and the same translated size, and every map the same name, type, sizes and flags.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject } from '../src/runtime/object.js';
import { mapInfo, progInfo } from '../src/runtime/sys/info.js';
import { commandExists, isRoot, requireKernel, tempBpffs } from './helpers/kernel.js';
import { LibbpfReferenceError, libbpfReference } from './helpers/libbpf-ref.js';

const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

// Objects libbpf 1.1 cannot load at all, and why; everything else must match.
const NOT_COMPARABLE: Record<string, string> = {
  'bad_verifier.bpf.o': 'holds a program the verifier rejects (tested in loader-errors)',
  'sections_unloadable.bpf.o': 'kprobe/fentry/lsm programs this kernel refuses (parsing tests only)',
  'sections_new.bpf.o': 'section names newer than libbpf 1.1',
  'core_custom.bpf.o':
    'relocated against a custom target BTF built by test/core-custom.test.ts; the kernel has none of its types',
  'freplace.bpf.o': 'an extension program needs a loaded target program; bpftool loadall has none to give',
  'attach_net.bpf.o': 'tcx/ingress sections are newer than libbpf 1.1',
  'attach_trace.bpf.o': 'uprobe.multi sections are newer than libbpf 1.1',
  'externs_missing.bpf.o': 'a strong extern the kernel lacks: fails to load by design',
  'externs_missing_ksym.bpf.o': 'a strong __ksym the kernel lacks: fails to load by design',
  'externs_poison.bpf.o': 'reaches a poisoned weak kfunc call: fails to load by design',
  'externs_percpu.bpf.o': 'typed __ksym variables need CONFIG_KALLSYMS_ALL, which this kernel lacks',
  'externs_weak_kfunc.bpf.o':
    'libbpf 1.1 leaves a missing weak kfunc call as call 0; libbpf 1.2+ and bpf-skel poison it, so the tag differs from 1.1 only',
  'autoload.bpf.o': 'bpftool 7.1 loadall tries to pin the programs autoload left out, and fails',
  'struct_ops.bpf.o':
    'bpftool loadall frees struct_ops maps no program uses before the comparison reads them; struct-ops.test.ts compares tags and registration with bpftool struct_ops register',
  'struct_ops_link.bpf.o': '.struct_ops.link, struct_ops.s and ___ flavours are newer than libbpf 1.1',
};

const objects = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.bpf.o') && !(f in NOT_COMPARABLE))
  .sort();

const canRun = requireKernel(
  'bpf() and bpftool',
  isRoot() && commandExists('bpftool'),
  'needs root and bpftool',
);

describe.runIf(canRun)('programs and maps match libbpf', () => {
  // Mounted when the tests run, not when vitest collects them (`vitest list` runs no hooks).
  let bpffs: ReturnType<typeof tempBpffs> | undefined;
  beforeAll(() => {
    bpffs = tempBpffs();
  });
  afterAll(() => bpffs?.[Symbol.dispose]());

  it.each(objects)('%s', (file) => {
    let ref: ReturnType<typeof libbpfReference>;
    try {
      ref = libbpfReference(FIXTURES + file);
    } catch (err) {
      if (err instanceof LibbpfReferenceError)
        throw new Error(`libbpf cannot load ${file}; add it to NOT_COMPARABLE with a reason`);
      throw err;
    }
    using obj = BpfObject.open(FIXTURES + file, { pinRootPath: bpffs?.path, bpfTokenPath: '' });
    obj.load();

    const ours = new Map(
      [...obj.programs.values()].filter((p) => p.fd >= 0).map((p) => [p.name, progInfo(p.fd)]),
    );
    expect([...ours.keys()].sort()).toEqual([...ref.programs.keys()].sort());
    for (const [name, want] of ref.programs) {
      const got = ours.get(name)!;
      expect({ name, tag: got.tag, xlated: got.xlatedProgLen }).toEqual({
        name,
        tag: want.tag,
        xlated: want.xlatedLen,
      });
    }

    const ourMaps = [...obj.maps.values()].map((m) => {
      const info = mapInfo(m.fd);
      return {
        name: info.name,
        type: info.type,
        key: info.keySize,
        value: info.valueSize,
        max: info.maxEntries,
        flags: info.mapFlags,
      };
    });
    // bpftool lists every map of the system; other test files create maps meanwhile, and one of theirs can
    // share a BTF id the reference reads before it is reused. Compare the maps named as ours are, and each
    // of ours must be there.
    const ourNames = new Set(ourMaps.map((m) => m.name));
    const refMaps = ref.mapList
      .filter((m) => ourNames.has(m.name))
      .map((m) => ({
        name: m.name,
        type: m.typeId,
        key: m.keySize,
        value: m.valueSize,
        max: m.maxEntries,
        flags: m.flags,
      }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(ourMaps.sort(byName)).toEqual(refMaps.sort(byName));
  });
});
