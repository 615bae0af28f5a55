/**
 * What a test opens (objects, ring and perf buffers, sockets, private BPF FS instances) released when that
 * test ends, pass or fail, in reverse order of opening, so that one failure does not leak into the next
 * test's FD counts or pins.
 *
 * @module
 */
import { afterEach } from 'vitest';
import { BpfObject } from '../../src/runtime/object.js';
import { tempBpffs } from './kernel.js';
import { FIXTURES } from './objects.js';

/** Something a test opened: closed or disposed when the test ends. */
export type Closable = { close(): void } | Disposable;

/** Options of {@link TestScope.load}. */
export interface ScopeLoadOptions {
  /** Pin the object's pin-by-name maps under a private BPF FS of this test ({@link TestScope.bpffs}). */
  pinned?: boolean;
  /** Pin them under this path instead. */
  pinRootPath?: string;
}

/** The resources of the running test; see {@link testScope}. */
export interface TestScope {
  /** Closes (or disposes) `x` when the test ends; returns `x`. */
  track<T extends Closable>(x: T): T;
  /** Runs `fn` when the test ends. */
  defer(fn: () => void): void;
  /** Mounts a private BPF FS for this test (see `tempBpffs`), unmounted when it ends; returns its path. */
  bpffs(): string;
  /** Opens fixture `file` (a name under test/fixtures/) and loads it; closed when the test ends. */
  load(file: string, opts?: ScopeLoadOptions): BpfObject;
}

/**
 * Registers an `afterEach` hook in the calling test file (call it once, at the top level) and returns the
 * scope whose resources that hook releases.
 */
export function testScope(): TestScope {
  const pending: Array<() => void> = [];
  afterEach(() => {
    for (const release of pending.splice(0).reverse()) release();
  });
  const defer = (fn: () => void): void => {
    pending.push(fn);
  };
  const track = <T extends Closable>(x: T): T => {
    defer(() => ('close' in x ? x.close() : x[Symbol.dispose]()));
    return x;
  };
  const bpffs = (): string => track(tempBpffs()).path;
  return {
    track,
    defer,
    bpffs,
    load(file, opts = {}) {
      const pinRootPath = opts.pinRootPath ?? (opts.pinned ? bpffs() : undefined);
      const obj = track(BpfObject.open(`${FIXTURES}${file}`, { pinRootPath }));
      obj.load();
      return obj;
    },
  };
}
