/**
 * One soak run: `cycles` rounds of open, load, attach, use, detach and close, sampling the process's open
 * FDs and RSS after each. Prints one JSON line. Used by test/reliability-soak.test.ts (in-process and inside
 * the token sandbox) and runnable alone for a long run:
 *
 *   BPF_SKEL_SOAK_CYCLES=10000 npx tsx fuzz/soak.ts                       # as root, tracefs mounted
 *   BPF_SKEL_SOAK_TOKEN=1 ...                                              # with a token (inside a sandbox)
 *
 * Each round: `minimal.bpf.o` is loaded, and every {@link TRACEPOINT_EVERY}th round its tracepoint program is
 * attached with `attach()` and detached (not with a token: a user namespace cannot open tracepoint perf
 * events; and not every round, because a tracepoint detach waits for an RCU grace period, ~70 ms here); `ringdiscard.bpf.o` is loaded, a ring buffer
 * opened on `rb`, `emit` run with BPF_PROG_TEST_RUN and its three kept records consumed; `autoload.bpf.o` is
 * loaded and its socket filter attached to and detached from a socket. Everything is closed each round.
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { attachSocketFilter } from '../src/runtime/attach/net.js';
import { BpfObject } from '../src/runtime/object.js';
import { RingBuffer } from '../src/runtime/ringbuf.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { AF_UNIX, SOCK_DGRAM, socketPair } from '../src/runtime/sys/socket.js';

/** Rounds between two tracepoint attach/detach pairs. */
export const TRACEPOINT_EVERY = 20;

/** What a soak run reports. */
export interface SoakReport {
  cycles: number;
  token: boolean;
  /** Open FDs after each cycle. */
  fds: number[];
  /** RSS in bytes after each cycle (every tenth after a full GC). */
  rss: number[];
  /** Wall time in milliseconds. */
  ms: number;
  /** V8 heap in use after each cycle, bytes (tells a JS leak from a native one). */
  heap: number[];
  /** Token FD numbers seen (a token run must see one per cycle). */
  tokens: number;
}

function mustGet<T>(m: ReadonlyMap<string, T>, name: string): T {
  const v = m.get(name);
  if (v === undefined) throw new Error(`no '${name}'`);
  return v;
}

/** Runs the soak in this process, yielding to the event loop every ten rounds. */
export async function soak(cycles: number, token: boolean, fixtures = 'test/fixtures'): Promise<SoakReport> {
  const opts = token ? { bpfTokenPath: '/sys/fs/bpf' } : { bpfTokenPath: '' };
  const fdCount = () => readdirSync('/proc/self/fd').length;
  // A full GC before sampling takes garbage out of the RSS figures; --expose-gc is not needed for it.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const [s0, s1] = socketPair(AF_UNIX, SOCK_DGRAM);
  const ctx = Buffer.alloc(8);
  ctx.writeUInt32LE(4, 0);
  const report: SoakReport = { cycles, token, fds: [], rss: [], heap: [], ms: 0, tokens: 0 };
  const t0 = performance.now();
  try {
    for (let i = 0; i < cycles; i++) {
      const tp = BpfObject.open(`${fixtures}/minimal.bpf.o`, opts);
      try {
        tp.load();
        if (tp.tokenFd >= 0) report.tokens++;
        if (!token && i % TRACEPOINT_EVERY === 0) {
          tp.attach();
          if (tp.links.size !== 1) throw new Error(`cycle ${i}: ${tp.links.size} links`);
        }
        tp.detach();
      } finally {
        tp.close();
      }
      const ring = BpfObject.open(`${fixtures}/ringdiscard.bpf.o`, opts);
      try {
        ring.load();
        const rb = new RingBuffer(mustGet(ring.maps, 'rb'));
        try {
          ctx.writeUInt32LE(1000 + i, 4);
          progTestRun(mustGet(ring.programs, 'emit').fd, { ctxIn: ctx });
          let seen = 0;
          rb.consume(() => {
            seen++;
          });
          // Records 0, 2 and 3 are submitted; record 1 is discarded.
          if (seen !== 3) throw new Error(`cycle ${i}: ${seen} records, not 3`);
        } finally {
          rb.close();
        }
      } finally {
        ring.close();
      }
      const sock = BpfObject.open(`${fixtures}/autoload.bpf.o`, opts);
      try {
        sock.load();
        attachSocketFilter(mustGet(sock.programs, 'sock_on'), s0).detach();
      } finally {
        sock.close();
      }
      if (i % 10 === 9) {
        // Map memory is unmapped by a FinalizationRegistry, whose callbacks run only when the event loop
        // turns: an application does that all the time, a tight loop never would.
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        gc();
      }
      report.fds.push(fdCount());
      const mem = process.memoryUsage();
      report.rss.push(mem.rss);
      report.heap.push(mem.heapUsed);
    }
  } finally {
    closeFd(s0);
    closeFd(s1);
  }
  report.ms = performance.now() - t0;
  return report;
}

if (process.argv[1]?.endsWith('soak.ts')) {
  const cycles = Number(process.env.BPF_SKEL_SOAK_CYCLES ?? 1000);
  const r = await soak(cycles, process.env.BPF_SKEL_SOAK_TOKEN === '1');
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
