/**
 * runqlat: a histogram of run-queue latency, the time runnable tasks wait for a CPU, like the classic
 * tool: printed every INTERVAL seconds, COUNT times (default: once, on Ctrl-C).
 *
 *   npx tsx tools/runqlat/main.ts [-m] [-P] [-p PID] [-T] [INTERVAL [COUNT]]
 */
import { parseArgs } from 'node:util';
import { interval, intOption, parseCommandLine, reportFailure } from '../lib/cli.js';
import { log2Histogram } from '../lib/hist.js';
import { RunqlatSkel } from './runqlat.skel.js';

const USAGE = `usage: runqlat [-m] [-P] [-p PID] [-T] [INTERVAL [COUNT]]
  -m, --milliseconds   histogram in milliseconds (default: microseconds)
  -P, --pids           one histogram per process
  -p, --pid PID        only this process (filtered in the kernel)
  -T, --timestamp      print the time with each output
  INTERVAL [COUNT]     print every INTERVAL seconds, COUNT times (default: once, on Ctrl-C)`;

/** The parsed command line (a bad one throws a UsageError). */
function commandLine() {
  return parseCommandLine(() =>
    parseArgs({
      allowPositionals: true,
      options: {
        milliseconds: { type: 'boolean', short: 'm', default: false },
        pids: { type: 'boolean', short: 'P', default: false },
        pid: { type: 'string', short: 'p' },
        timestamp: { type: 'boolean', short: 'T', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
}

async function main(): Promise<void> {
  const { values: opts, positionals } = commandLine();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const seconds = intOption('INTERVAL', positionals[0], 0, 1, 86_400);
  const count = intOption(
    'COUNT',
    positionals[1],
    seconds > 0 ? Number.MAX_SAFE_INTEGER : 1,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const unit = opts.milliseconds ? 'msecs' : 'usecs';

  using skel = RunqlatSkel.open();
  skel.rodata.target_tgid = intOption('--pid', opts.pid, 0, 1, 2 ** 31 - 1);
  skel.rodata.per_process = opts.pids;
  skel.rodata.millis = opts.milliseconds;
  skel.load();
  skel.attach();

  console.log(`Tracing run queue latency... Hit Ctrl-C to end.`);
  const hists = skel.maps.hists;
  for (let round = 0; round < count; round++) {
    const wait = interval(seconds * 1000);
    await wait.done;
    console.log();
    if (opts.timestamp) console.log(new Date().toTimeString().slice(0, 8));
    // Sorted by key, so per-process output comes in pid order.
    const rows = [...hists.entries()].sort(([a], [b]) => a - b);
    for (const [pid, h] of rows) {
      if (opts.pids) console.log(`pid = ${pid} ${h.comm}`);
      for (const l of log2Histogram(h.slots, unit)) console.log(l);
      if (opts.pids) console.log();
    }
    if (rows.length === 0) console.log('(no run-queue waits seen)');
    hists.clear();
    if (wait.interrupted()) break;
  }
}

main().catch((err: unknown) => reportFailure('runqlat', USAGE, err));
