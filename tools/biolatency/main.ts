/**
 * biolatency: a histogram of block I/O latency, from issue to the driver (or, with -Q, from insertion
 * into the I/O scheduler) to completion, like the classic tool: printed every INTERVAL seconds, COUNT
 * times (default: once, on Ctrl-C).
 *
 *   npx tsx tools/biolatency/main.ts [-m] [-Q] [-D] [-F] [-d DISK] [-T] [INTERVAL [COUNT]]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { interval, intOption, parseCommandLine, reportFailure, UsageError } from '../lib/cli.js';
import { log2Histogram } from '../lib/hist.js';
import { BiolatencySkel, type hist_key } from './biolatency.skel.js';

const USAGE = `usage: biolatency [-m] [-Q] [-D] [-F] [-d DISK] [-T] [INTERVAL [COUNT]]
  -m, --milliseconds   histogram in milliseconds (default: microseconds)
  -Q, --queued         include the time queued in the I/O scheduler
  -D, --disks          one histogram per disk
  -F, --flags          one histogram per operation (Read, Write, Flush...)
  -d, --disk DISK      only this disk (a name under /sys/block, e.g. vda)
  -T, --timestamp      print the time with each output
  INTERVAL [COUNT]     print every INTERVAL seconds, COUNT times (default: once, on Ctrl-C)`;

/** The parsed command line (a bad one throws a UsageError). */
function commandLine() {
  return parseCommandLine(() =>
    parseArgs({
      allowPositionals: true,
      options: {
        milliseconds: { type: 'boolean', short: 'm', default: false },
        queued: { type: 'boolean', short: 'Q', default: false },
        disks: { type: 'boolean', short: 'D', default: false },
        flags: { type: 'boolean', short: 'F', default: false },
        disk: { type: 'string', short: 'd' },
        timestamp: { type: 'boolean', short: 'T', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
}

type Options = ReturnType<typeof commandLine>['values'];

/** The kernel's dev_t inside the kernel: major in the bits above the 20 of the minor. */
const MINOR_BITS = 20;

/** `enum req_op` (include/linux/blk_types.h) values to names. */
const OPS: Record<number, string> = {
  0: 'Read',
  1: 'Write',
  2: 'Flush',
  3: 'Discard',
  5: 'SecureErase',
  7: 'ZoneAppend',
  9: 'WriteZeroes',
  11: 'ZoneOpen',
  13: 'ZoneClose',
  15: 'ZoneFinish',
  17: 'ZoneReset',
  19: 'ZoneResetAll',
  34: 'DrvIn',
  35: 'DrvOut',
};

/** Whole disks by kernel dev_t, from /sys/block/<name>/dev ("major:minor"). */
function disks(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/sys/block')) {
    const [major, minor] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
    out.set(((major << MINOR_BITS) | minor) >>> 0, name);
  }
  return out;
}

function label(key: hist_key, names: Map<number, string>, opts: Options): string {
  const parts: string[] = [];
  if (opts.disks)
    parts.push(`disk = ${names.get(key.dev) ?? `${key.dev >>> MINOR_BITS}:${key.dev & 0xfffff}`}`);
  if (opts.flags) parts.push(`op = ${OPS[key.op] ?? `op ${key.op}`}`);
  return parts.join(', ');
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
  const names = disks();
  let targetDev: number | undefined;
  if (opts.disk !== undefined) {
    targetDev = [...names].find(([, name]) => name === opts.disk)?.[0];
    if (targetDev === undefined) throw new UsageError(`--disk: no disk '${opts.disk}' in /sys/block`);
  }

  using skel = BiolatencySkel.open();
  skel.rodata.per_disk = opts.disks;
  skel.rodata.per_op = opts.flags;
  skel.rodata.millis = opts.milliseconds;
  skel.rodata.queued = opts.queued;
  skel.rodata.filter_dev = targetDev !== undefined;
  skel.rodata.target_dev = targetDev ?? 0;
  skel.progs.on_insert.autoload = opts.queued;
  skel.load();
  skel.attach();

  console.log(`Tracing block device I/O... Hit Ctrl-C to end.`);
  const hists = skel.maps.hists;
  for (let round = 0; round < count; round++) {
    const wait = interval(seconds * 1000);
    await wait.done;
    console.log();
    if (opts.timestamp) console.log(new Date().toTimeString().slice(0, 8));
    const rows = [...hists.entries()].sort(([a], [b]) => a.dev - b.dev || a.op - b.op);
    for (const [key, h] of rows) {
      if (opts.disks || opts.flags) console.log(label(key, names, opts));
      for (const l of log2Histogram(h.slots, unit)) console.log(l);
      if (opts.disks || opts.flags) console.log();
    }
    if (rows.length === 0) console.log('(no block I/O completed)');
    hists.clear();
    if (wait.interrupted()) break;
  }
}

main().catch((err: unknown) => reportFailure('biolatency', USAGE, err));
