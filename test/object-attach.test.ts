/**
 * BpfObject.attach()/detach()/close() and the generated skeleton's attach(): the tracepoint of minimal.bpf.o
 * counts exactly the getpid() calls of a target process, through typed .rodata and .bss views.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSkeleton } from '../src/gen/skeleton.js';
import { BpfObject } from '../src/runtime/object.js';
import { linkInfo } from '../src/runtime/sys/info.js';
import { buildTarget, removeTargets, startTarget } from './bins/target.js';
import { countOpenFds, ensureTracefs, isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = join(import.meta.dirname, '..');
const MINIMAL = join(ROOT, 'test', 'fixtures', 'minimal.bpf.o');

interface MinimalSkel extends Disposable {
  readonly obj: BpfObject;
  readonly rodata: { target_pid: number };
  readonly bss: { hits: number; last_pid: number };
  readonly links: { handle_getpid: { detach(): void } | undefined };
  load(): void;
  attach(): void;
  detach(): void;
  destroy(): void;
}

describe.runIf(requireKernel('bpf() and tracepoints', isRoot(), 'needs root'))(
  'attach through the object and the skeleton',
  () => {
    let target = '';
    beforeAll(() => {
      ensureTracefs();
      target = buildTarget({ pie: true });
    });
    afterAll(() => removeTargets());

    it('BpfObject.attach() links every auto-attachable program; detach() and close() undo it', async () => {
      const fds = countOpenFds();
      const child = startTarget(target, 12);
      const obj = BpfObject.open(MINIMAL, { bpfTokenPath: '' });
      obj.maps.get('.rodata')!.dataView().setInt32(0, child.pid, true);
      expect(() => obj.attach()).toThrow(/not loaded/);
      obj.load();
      obj.attach();
      obj.attach(); // idempotent: already linked programs are left alone
      const link = obj.links.get('handle_getpid')!;
      expect(obj.links.size).toBe(1);
      const id = link.info().id;
      await child.go();
      const bss = obj.maps.get('.bss')!.dataView();
      expect(bss.getInt32(0, true)).toBe(12);
      obj.detach();
      expect(obj.links.size).toBe(0);
      expect(() => linkInfo(link.fd)).toThrow();
      expect(id).toBeGreaterThan(0);
      obj.attach();
      obj.close(); // detaches too
      expect(obj.links.size).toBe(0);
      expect(countOpenFds()).toBe(fds);
    });

    it('a generated skeleton sets .rodata, attaches, and reads .bss live', async () => {
      const dir = join(ROOT, 'test', 'tmp', 'object-attach');
      mkdirSync(dir, { recursive: true });
      const { code } = generateSkeleton(new Uint8Array(readFileSync(MINIMAL)), {
        embed: 'inline',
        fileName: 'minimal.bpf.o',
      });
      writeFileSync(join(dir, 'minimal.skel.ts'), code);
      const mod = (await import(join(dir, 'minimal.skel.ts'))) as {
        MinimalSkel: { open(o?: object): MinimalSkel };
      };
      const fds = countOpenFds();
      const child = startTarget(target, 7);
      {
        using skel = mod.MinimalSkel.open({ bpfTokenPath: '' });
        skel.rodata.target_pid = child.pid;
        skel.load();
        expect(() => {
          skel.rodata.target_pid = 1;
        }).toThrow(/read-only after load/);
        skel.attach();
        expect(skel.links.handle_getpid).toBeDefined();
        await child.go();
        expect(skel.bss.hits).toBe(7);
        expect(skel.bss.last_pid).toBe(child.pid);
        skel.bss.hits = 0;
        expect(skel.obj.maps.get('.bss')!.dataView().getInt32(0, true)).toBe(0);
        expect(skel.obj.maps.get('.rodata')!.kernelName).toBe('minimal.rodata');
      }
      expect(countOpenFds()).toBe(fds);
    });
  },
);
