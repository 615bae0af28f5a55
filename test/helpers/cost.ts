/**
 * What code costs, measured in the test process: V8 heap bytes allocated per call (for the no-allocation
 * rule of hot paths) and CPU time spent while a promise settles (for waits that must block, not spin).
 *
 * @module
 */
import { GCProfiler } from 'node:v8';

/** Heap growth plus what each GC freed, per call, over one run of `calls` calls. */
function oneRun(fn: () => unknown, calls: number): number {
  const profiler = new GCProfiler();
  profiler.start();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) fn();
  const after = process.memoryUsage().heapUsed;
  const { statistics } = profiler.stop();
  let freed = 0;
  for (const s of statistics) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  }
  return (after - before + freed) / calls;
}

/**
 * V8 heap bytes allocated per call of `fn` (after a warm-up, so that the JIT has compiled the path): the
 * least of three runs of `calls` calls, because a GC during a run also frees garbage made before it. An
 * allocation per call shows in every run.
 */
export function bytesPerCall(fn: () => unknown, calls = 50_000): number {
  for (let i = 0; i < 5000; i++) fn();
  return Math.min(oneRun(fn, calls), oneRun(fn, calls), oneRun(fn, calls));
}

/** CPU time (user + system, in ms) of this process while `fn`'s promise settles. */
export async function cpuMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}
