/**
 * execsnoop: prints every exec() on the machine as it happens, with its parent, return value and
 * arguments, like the classic tool.
 *
 *   npx tsx tools/execsnoop/main.ts [-d SECONDS] [-c COUNT] [-x] [-u UID] [-T] [-U] [-q] [--max-args N]
 *
 * Stops after SECONDS, after COUNT execs, or on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { intOption, parseCommandLine, reportFailure } from '../lib/cli.js';
import { ExecsnoopSkel, type event } from './execsnoop.skel.js';

const USAGE = `usage: execsnoop [-d SECONDS] [-c COUNT] [-x] [-u UID] [-T] [-U] [-q] [--max-args N]
  -d, --duration SECONDS  stop after this long (default: on Ctrl-C)
  -c, --count COUNT       stop after this many execs
  -x, --fails             include failed execs (RET is then -errno)
  -u, --uid UID           only execs by this user
  -T, --time              print a time column
  -U, --print-uid         print a UID column
  -q, --quote             quote every argument
      --max-args N        arguments kept per exec, the file name included (1-20, default 20)`;

/** The BPF side's MAX_ARGS: room in each record. */
const MAX_ARGS = 20;

/** The parsed command line (a bad one throws a UsageError). */
function commandLine() {
  return parseCommandLine(() =>
    parseArgs({
      options: {
        duration: { type: 'string', short: 'd' },
        count: { type: 'string', short: 'c' },
        fails: { type: 'boolean', short: 'x', default: false },
        uid: { type: 'string', short: 'u' },
        time: { type: 'boolean', short: 'T', default: false },
        'print-uid': { type: 'boolean', short: 'U', default: false },
        quote: { type: 'boolean', short: 'q', default: false },
        'max-args': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
}

const utf8 = new TextDecoder();

/** The strings of args[] (file name, then argv[1] onwards), "..." when some were not kept. */
function argList(e: event): string[] {
  const out: string[] = [];
  let start = 0;
  const end = Math.min(e.args_size, e.args.length);
  for (let i = 0; i < end; i++) {
    if (e.args[i] !== 0) continue;
    out.push(utf8.decode(e.args.subarray(start, i)));
    start = i + 1;
  }
  if (e.args_count > out.length) out.push('...');
  return out;
}

function quoted(arg: string): string {
  return `"${arg.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

async function main(): Promise<void> {
  const { values: opts } = commandLine();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const seconds = intOption('--duration', opts.duration, 0, 0, 86_400);
  const limit = intOption('--count', opts.count, 0, 0, Number.MAX_SAFE_INTEGER);
  const uid = opts.uid === undefined ? undefined : intOption('--uid', opts.uid, 0, 0, 2 ** 32 - 1);
  const maxArgs = intOption('--max-args', opts['max-args'], MAX_ARGS, 1, MAX_ARGS);

  using skel = ExecsnoopSkel.open();
  skel.rodata.max_args = maxArgs;
  skel.rodata.include_failed = opts.fails;
  skel.rodata.filter_uid = uid !== undefined;
  skel.rodata.target_uid = uid ?? 0;
  skel.load();
  skel.attach();

  const ring = skel.maps.events;
  const stop = () => ring.close();
  process.once('SIGINT', stop);
  const timer = seconds > 0 ? setTimeout(stop, seconds * 1000) : undefined;

  const head = [
    ...(opts.time ? ['TIME    '] : []),
    ...(opts['print-uid'] ? ['UID   '] : []),
    'PCOMM           ',
    'PID    ',
    'PPID   ',
    'RET',
    'ARGS',
  ];
  console.log(head.join(' '));
  let seen = 0;
  for await (const e of ring) {
    const args = argList(e);
    const cols = [
      ...(opts.time ? [new Date().toTimeString().slice(0, 8)] : []),
      ...(opts['print-uid'] ? [String(e.uid).padEnd(6)] : []),
      e.comm.padEnd(16),
      String(e.pid).padEnd(7),
      String(e.ppid).padEnd(7),
      String(e.retval).padStart(3),
      (opts.quote ? args.map(quoted) : args).join(' '),
    ];
    console.log(cols.join(' '));
    if (limit > 0 && ++seen >= limit) break;
  }
  clearTimeout(timer);
  process.off('SIGINT', stop);
}

main().catch((err: unknown) => reportFailure('execsnoop', USAGE, err));
