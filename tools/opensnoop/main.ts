/**
 * opensnoop: prints every open() and openat() on the machine with the caller, the result (file descriptor
 * or error), the flags in octal and the path, like the classic tool with its extended (`-e`) columns.
 *
 *   npx tsx tools/opensnoop/main.ts [-d SECONDS] [-c COUNT] [-p PID] [-t TID] [-u UID] [-x] [-n NAME] [-T] [-U]
 *
 * Stops after SECONDS, after COUNT opens, or on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { intOption, parseCommandLine, reportFailure } from '../lib/cli.js';
import { type event, OpensnoopSkel } from './opensnoop.skel.js';

const USAGE = `usage: opensnoop [-d SECONDS] [-c COUNT] [-p PID] [-t TID] [-u UID] [-x] [-n NAME] [-T] [-U]
  -d, --duration SECONDS  stop after this long (default: on Ctrl-C)
  -c, --count COUNT       stop after this many opens
  -p, --pid PID           only this process (filtered in the kernel)
  -t, --tid TID           only this thread (filtered in the kernel)
  -u, --uid UID           only this user (filtered in the kernel)
  -x, --failed            only failed opens
  -n, --name NAME         only commands whose name contains NAME
  -T, --timestamp         print seconds since the start
  -U, --print-uid         print a UID column`;

/** The parsed command line (a bad one throws a UsageError). */
function commandLine() {
  return parseCommandLine(() =>
    parseArgs({
      options: {
        duration: { type: 'string', short: 'd' },
        count: { type: 'string', short: 'c' },
        pid: { type: 'string', short: 'p' },
        tid: { type: 'string', short: 't' },
        uid: { type: 'string', short: 'u' },
        failed: { type: 'boolean', short: 'x', default: false },
        name: { type: 'string', short: 'n' },
        timestamp: { type: 'boolean', short: 'T', default: false },
        'print-uid': { type: 'boolean', short: 'U', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
}

type Options = ReturnType<typeof commandLine>['values'];

function line(e: event, startNs: bigint, opts: Options): string {
  // A negative result is -errno: the classic tool shows FD -1 and the error number.
  const fd = e.ret >= 0 ? e.ret : -1;
  const err = e.ret >= 0 ? 0 : -e.ret;
  const cols = [
    ...(opts.timestamp ? [(Number(e.ts_ns - startNs) / 1e9).toFixed(6).padEnd(12)] : []),
    ...(opts['print-uid'] ? [String(e.uid).padEnd(6)] : []),
    String(e.pid).padEnd(7),
    e.comm.padEnd(16),
    String(fd).padStart(3),
    String(err).padStart(3),
    (e.flags >>> 0).toString(8).padStart(8, '0'),
    e.path,
  ];
  return cols.join(' ');
}

async function main(): Promise<void> {
  const { values: opts } = commandLine();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const seconds = intOption('--duration', opts.duration, 0, 0, 86_400);
  const limit = intOption('--count', opts.count, 0, 0, Number.MAX_SAFE_INTEGER);
  const maxId = 2 ** 31 - 1;

  using skel = OpensnoopSkel.open();
  skel.rodata.target_pid = intOption('--pid', opts.pid, 0, 1, maxId);
  skel.rodata.target_tid = intOption('--tid', opts.tid, 0, 1, maxId);
  skel.rodata.filter_uid = opts.uid !== undefined;
  skel.rodata.target_uid = intOption('--uid', opts.uid, 0, 0, 2 ** 32 - 1);
  skel.rodata.failed_only = opts.failed;
  skel.load();
  // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(); taken before attaching, so no event predates it.
  const startNs = process.hrtime.bigint();
  skel.attach();

  const ring = skel.maps.events;
  const stop = () => ring.close();
  process.once('SIGINT', stop);
  const timer = seconds > 0 ? setTimeout(stop, seconds * 1000) : undefined;

  console.log(
    [
      ...(opts.timestamp ? ['TIME(s)     '] : []),
      ...(opts['print-uid'] ? ['UID   '] : []),
      'PID    ',
      'COMM            ',
      ' FD',
      'ERR',
      'FLAGS   ',
      'PATH',
    ].join(' '),
  );
  let seen = 0;
  for await (const e of ring) {
    if (opts.name !== undefined && !e.comm.includes(opts.name)) continue;
    console.log(line(e, startNs, opts));
    if (limit > 0 && ++seen >= limit) break;
  }
  clearTimeout(timer);
  process.off('SIGINT', stop);
}

main().catch((err: unknown) => reportFailure('opensnoop', USAGE, err));
