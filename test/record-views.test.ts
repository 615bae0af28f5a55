/**
 * In-place record views (issue 6): the view class the generator emits for each struct and union, handed out
 * by `RingBuffer.consumeInPlace` and `PerfBuffer.consumeInPlace`.
 *
 * - the generated skeleton of record_views.bpf.o (nested structs, a union, arrays, tuples of structs and
 *   strings, `char[]`, bitfields, an enum, an anonymous union and struct, a pointer) type-checks with
 *   `tsc --strict` against the real runtime, `consumeInPlace` typed by the record type;
 * - on random bytes at any offset, the view of every struct and union of a C file with every kind of member
 *   the type mapping knows (int128, floats, pointers, tuples over 16, packed) reads what `decode` reads;
 *   view names avoid other type names and runtime imports;
 * - for records the kernel wrote, every field read through the view (nested views included) equals what the
 *   codec's `decode` returns for the same bytes, on the ring buffer and on the perf buffer (whose samples
 *   wrap around a one-page ring, so some are read from the scratch copy);
 * - one view per ring, re-aimed at each record: nested views are reused, a view kept past its callback
 *   reads the record it was last aimed at (the documented hazard);
 * - short records are skipped with EMSGSIZE exactly as `consume` skips them; a ring without an `inPlace`
 *   codec gets an OptionError;
 * - consuming in place allocates nothing per record (V8 heap measured with a control that decodes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GCProfiler } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, OptionError } from '../src/errors.js';
import { generateSkeleton, generateTypes } from '../src/gen/skeleton.js';
import type { Codec } from '../src/runtime/codec.js';
import type { BpfObject } from '../src/runtime/object.js';
import { PerfBuffer } from '../src/runtime/perfbuf.js';
import { RingBuffer } from '../src/runtime/ringbuf.js';
import { TestRunFlag } from '../src/runtime/sys/consts.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { isRoot, requireKernel } from './helpers/kernel.js';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'test', 'tmp', 'record-views');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
/** sizeof(struct rv_record). */
const RECORD_SIZE = 152;

/** The parts of the generated module this test uses; records are compared structurally. */
interface Rec {
  hdr: { seq: bigint; origin: { x: number; y: number }; kind: number };
  lo: number;
  word: number;
}
interface ViewsSkel {
  readonly obj: BpfObject;
  readonly maps: { rb: RingBuffer<Rec> };
  readonly progs: { emit: { fd: number } };
  destroy(): void;
}
interface ViewsModule {
  RecordViewsSkel: { openAndLoad(opts?: object): ViewsSkel };
  rv_record: Codec<Rec>;
  rv_recordView: new (view: DataView, offset: number) => Rec;
}

/** Consumer code the strict compile checks: consumeInPlace is typed by the record type. */
const USAGE = `
import { PerfBuffer } from 'bpf-skel/runtime';
import { RecordViewsSkel, rv_record, rv_recordView, type rv_point } from './record_views.skel.js';

export function use(skel: RecordViewsSkel): number {
  let sum = 0;
  skel.maps.rb.consumeInPlace((r: rv_record, length: number) => {
    const origin: rv_point = r.hdr.origin;
    sum += origin.x + r.lo + r.value.d + length + r.path[1].y + r.names[0].length;
    return r.hdr.kind !== 2;
  });
  skel.maps.rb.consumeInPlace((r) => {
    // @ts-expect-error a view reads the record where it lies: its fields are read-only
    r.lo = 1;
  });
  const view: rv_record = new rv_recordView(new DataView(new ArrayBuffer(rv_record.size)), 0);
  rv_record.inPlace?.point(view, new DataView(new ArrayBuffer(rv_record.size)), 0);
  const events = skel.obj.maps.get('events');
  if (events !== undefined) {
    using perf = new PerfBuffer(events, rv_record);
    perf.consumeInPlace((s, cpu) => {
      sum += s.counts[0] ?? 0 + cpu;
    });
  }
  return sum + view.hdr.kind;
}
`;

/**
 * Every kind of member the type mapping knows (as in gen-codecs.test.ts), and type names whose view names
 * collide: with another type (`event` and `eventView`) and with a runtime import (`writable`/`writableView`).
 */
const TYPES_SOURCE = `
enum small { S_NEG = -1, S_SEVEN = 7 };
enum big64 { B_HUGE = 0x100000000ULL, B_ONE = 1 };
struct inner { unsigned short a; unsigned char b; };
union u { unsigned int w; unsigned char b[4]; struct inner in; };
struct all {
	char c; signed char sc; unsigned char uc; short s; unsigned short us; int i; unsigned int ui;
	long l; unsigned long ul; long long ll; _Bool flag; float f; double d;
	__int128 big; unsigned __int128 ubig;
	void *ptr; struct all *self;
	char name[16]; char names[3][8];
	int ints[5]; unsigned long long u64s[2]; double ds[3]; float fs[2]; short ss[3]; signed char scs[3];
	struct inner inners[3]; struct inner many[20]; int grid[2][3];
	enum small e; enum big64 e64; union u un;
	struct { int x; union { int y; char z; }; } anon;
	union { unsigned int flat_a; unsigned short flat_b; };
	unsigned int bf1 : 3; int bf2 : 5; unsigned long long bf3 : 40; long long bf4 : 33; _Bool bfb : 1;
	unsigned int : 2; unsigned int bf5 : 7;
	_Bool bools[3]; struct inner *ptrs[2];
};
struct __attribute__((packed)) packed { char a; int b; short c; };
struct event { int view; int offset; struct inner point; };
struct eventView { int constructor; };
struct writable { struct event event; };
struct empty {};
struct all g_all; struct packed g_packed; union u g_u; struct eventView g_ev; struct writable g_w; struct empty g_e;
`;

let mod: ViewsModule;
let types: Record<string, unknown>;

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'record_views.bpf.o')));
  const { code } = generateSkeleton(bytes, { embed: 'inline', fileName: 'record_views.bpf.o' });
  writeFileSync(join(DIR, 'record_views.skel.ts'), code);
  writeFileSync(join(DIR, 'usage.ts'), USAGE);
  mod = (await import(join(DIR, 'record_views.skel.ts'))) as ViewsModule;
  writeFileSync(join(DIR, 'types.bpf.c'), TYPES_SOURCE);
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', 'types.bpf.c', '-o', 'types.bpf.o'], {
    cwd: DIR,
  });
  const typesCode = generateTypes(readFileSync(join(DIR, 'types.bpf.o')), { fileName: 'types.bpf.o' });
  writeFileSync(join(DIR, 'types.ts'), typesCode);
  types = (await import(join(DIR, 'types.ts'))) as Record<string, unknown>;
});

describe('generated views', () => {
  it('type-check under tsc --strict against the runtime, consumeInPlace typed by the record', () => {
    writeFileSync(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          lib: ['es2023', 'esnext.disposable'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          // Unused private fields or parameters (the codec of an empty struct) would show here.
          noUnusedLocals: true,
          noUnusedParameters: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          paths: { 'bpf-skel/runtime': [join(ROOT, 'src', 'runtime', 'index.ts')] },
        },
        include: ['*.ts'],
      }),
    );
    const r = spawnSync(TSC, ['-p', DIR], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('read every kind of member as decode does, at any offset of random bytes', () => {
    const checked: string[] = [];
    for (const [name, value] of Object.entries(types)) {
      const codec = value as Codec<unknown>;
      if (typeof codec !== 'object' || codec.inPlace === undefined) continue;
      let view: unknown;
      for (let round = 0; round < 20; round++) {
        const offset = round % 9;
        const bytes = new DataView(randomBytes(codec.size + offset).buffer);
        if (view === undefined) view = codec.inPlace.create(bytes, offset);
        else codec.inPlace.point(view, bytes, offset);
        const decoded = codec.decode(bytes, offset);
        expect(snapshot(view, decoded)).toEqual(decoded);
      }
      checked.push(name);
    }
    // Every struct and union but the empty one (no member reads bytes, so it gets no view).
    expect(checked.sort()).toEqual(['all', 'event', 'eventView', 'inner', 'packed', 'u', 'writable']);
    expect((types.empty as Codec<unknown>).inPlace).toBeUndefined();
  });

  it('get names that collide neither with types nor with runtime imports', () => {
    const views = Object.keys(types).filter((n) => typeof types[n] === 'function');
    expect(views.sort()).toEqual([
      'allView',
      'eventViewView',
      'eventView_',
      'innerView',
      'packedView',
      'uView',
      'writableView_',
    ]);
    expect(readFileSync(join(DIR, 'types.ts'), 'utf8')).toContain(
      'export class eventView_ implements event {',
    );
  });

  it('are emitted for structs and unions, with no name a C member can take', () => {
    const code = readFileSync(join(DIR, 'record_views.skel.ts'), 'utf8');
    for (const v of ['rv_recordView', 'rv_headerView', 'rv_pointView', 'rv_valueView']) {
      expect(code).toContain(`export class ${v} implements ${v.slice(0, -4)} {`);
      expect(code).toContain(`point: ${v}.point },`);
    }
    // State is private and re-aiming static: the instance has only the C members' getters.
    const names = Object.getOwnPropertyNames(mod.rv_recordView.prototype).sort();
    const decoded = mod.rv_record.decode(new DataView(new ArrayBuffer(RECORD_SIZE)), 0);
    expect(names).toEqual(['constructor', ...Object.keys(decoded)].sort());
  });
});

const canRun = requireKernel('bpf() as root', isRoot(), 'record view tests need root');

/** Every field of `view`, read through its getters, in the shape of `like` (a decoded record). */
function snapshot(view: unknown, like: unknown): unknown {
  if (typeof like !== 'object' || like === null || ArrayBuffer.isView(like)) return view;
  if (Array.isArray(like)) return (view as unknown[]).map((v, i) => snapshot(v, like[i]));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(like)) {
    out[key] = snapshot((view as Record<string, unknown>)[key], (like as Record<string, unknown>)[key]);
  }
  return out;
}

describe.runIf(canRun)('records written by the kernel', () => {
  let skel: ViewsSkel;
  let emitArgs: DataView;

  beforeAll(() => {
    skel = mod.RecordViewsSkel.openAndLoad({ bpfTokenPath: '' });
    emitArgs = new DataView(new ArrayBuffer(24));
  });
  afterAll(() => skel?.destroy());

  function emit(count: number, seed: number, shorts: boolean): void {
    emitArgs.setBigUint64(0, BigInt(count), true);
    emitArgs.setBigUint64(8, BigInt(seed), true);
    emitArgs.setBigUint64(16, shorts ? 1n : 0n, true);
    progTestRun(skel.progs.emit.fd, {
      ctxIn: new Uint8Array(emitArgs.buffer),
      flags: TestRunFlag.RUN_ON_CPU,
      cpu: 0,
    });
  }

  it('the ring view reads every field as decode does, nested views included', () => {
    const rb = skel.maps.rb;
    rb.consumeRaw(() => {});
    emit(200, 1000, false);
    const decoded: Rec[] = [];
    rb.consumeRaw((view, offset) => {
      decoded.push(mod.rv_record.decode(view, offset));
    });
    expect(decoded).toHaveLength(200);
    emit(200, 1000, false);
    const seen: unknown[] = [];
    const lengths = new Set<number>();
    let first: Rec | undefined;
    let sameObjects = true;
    expect(
      rb.consumeInPlace((r, length) => {
        first ??= r;
        sameObjects &&= r === first && r.hdr === first.hdr && r.hdr.origin === first.hdr.origin;
        lengths.add(length);
        seen.push(snapshot(r, decoded[seen.length]));
      }),
    ).toBe(200);
    expect(first).toBeInstanceOf(mod.rv_recordView);
    expect(sameObjects).toBe(true);
    expect([...lengths]).toEqual([RECORD_SIZE]);
    expect(seen).toEqual(decoded);
    // The fields vary: the comparison is not of zeros.
    expect(new Set(decoded.map((d) => d.word)).size).toBeGreaterThan(150);
    expect(new Set(decoded.map((d) => d.hdr.origin.x)).size).toBeGreaterThan(150);
  });

  it('a view kept past its callback reads the record it was last aimed at', () => {
    const rb = skel.maps.rb;
    rb.consumeRaw(() => {});
    emit(3, 5000, false);
    let kept: Rec | undefined;
    let keptSeq = -1n;
    const seqs: bigint[] = [];
    rb.consumeInPlace((r) => {
      kept ??= r;
      if (keptSeq < 0n) keptSeq = r.hdr.seq;
      seqs.push(r.hdr.seq);
    });
    expect(seqs).toEqual([5000n, 5001n, 5002n]);
    expect(keptSeq).toBe(5000n);
    expect(kept?.hdr.seq).toBe(5002n);
    // Stopping early: the view stays on the record the handler stopped at.
    emit(3, 6000, false);
    expect(rb.consumeInPlace((r) => r.hdr.seq !== 6001n)).toBe(2);
    expect(kept?.hdr.seq).toBe(6001n);
    expect(rb.consumeInPlace(() => {})).toBe(1);
    expect(kept?.hdr.seq).toBe(6002n);
  });

  it('short records are skipped with EMSGSIZE, as consume() skips them', () => {
    const rb = skel.maps.rb;
    const run = (consume: (onRecord: (r: Rec) => void) => number): (bigint | string)[] => {
      rb.consumeRaw(() => {});
      emit(8, 7000, true);
      const out: (bigint | string)[] = [];
      for (let i = 0; i < 10; i++) {
        try {
          consume((r) => out.push(r.hdr.seq));
          break;
        } catch (err) {
          expect(err).toBeInstanceOf(BpfError);
          expect((err as BpfError).code).toBe('EMSGSIZE');
          out.push((err as Error).message);
        }
      }
      return out;
    };
    const inPlace = run((h) => rb.consumeInPlace(h));
    expect(inPlace).toEqual(run((h) => rb.consume(h)));
    expect(inPlace.filter((x) => typeof x === 'bigint')).toEqual(
      Array.from({ length: 8 }, (_, i) => 7000n + BigInt(i)),
    );
    expect(inPlace.filter((x) => typeof x === 'string')).toEqual([
      `ring buffer 'rb': a record of 8 bytes is shorter than the ${RECORD_SIZE} bytes its type needs; skipped`,
      `ring buffer 'rb': a record of 8 bytes is shorter than the ${RECORD_SIZE} bytes its type needs; skipped`,
    ]);
  });

  it('a ring without an inPlace codec gets an OptionError', () => {
    const map = skel.obj.maps.get('rb');
    if (map === undefined) throw new Error('no map rb');
    const plain = new RingBuffer(map, { ...mod.rv_record, inPlace: undefined });
    try {
      expect(() => plain.consumeInPlace(() => {})).toThrow(OptionError);
      expect(() => new RingBuffer(map).consumeInPlace(() => {})).toThrow(/consumeInPlace needs a codec/);
    } finally {
      plain.close();
    }
  });

  it('the perf buffer view reads every field as decode does, also for samples that wrap', () => {
    const events = skel.obj.maps.get('events');
    if (events === undefined) throw new Error('no map events');
    const pb = new PerfBuffer(events, mod.rv_record, { pageCount: 1, cpus: [0] });
    try {
      let compared = 0;
      const errors: string[] = [];
      for (let round = 0; round < 12; round++) {
        // 20 samples of 168 bytes and 5 of 24 fill most of the 4 KiB ring, so later rounds wrap.
        emit(20, 100 * round, true);
        const decoded: Rec[] = [];
        const drain = (onSample: (s: Rec) => void, inPlace: boolean): void => {
          for (;;) {
            try {
              if (inPlace) pb.consumeInPlace(onSample);
              else pb.consume(onSample);
              return;
            } catch (err) {
              errors.push((err as BpfError).code);
            }
          }
        };
        drain((s) => decoded.push(s), false);
        emit(20, 100 * round, true);
        let i = 0;
        drain((s) => {
          expect(snapshot(s, decoded[i])).toEqual(decoded[i]);
          i++;
        }, true);
        expect(i).toBe(20);
        compared += i;
      }
      expect(compared).toBe(240);
      expect(errors).toEqual(Array(2 * 12 * 5).fill('EMSGSIZE'));
      expect(pb.lost).toBe(0);
    } finally {
      pb.close();
    }
  });

  it('allocates nothing per record (a decoding control shows the measure sees allocations)', () => {
    const rb = skel.maps.rb;
    const ROUND = 300;
    let sink = 0;
    // `| 0` keeps the sum a small integer: a larger number would be boxed on the heap at each store.
    const readFields = (r: Rec): void => {
      sink = (sink + r.hdr.kind + r.hdr.origin.x + r.lo + r.word) | 0;
    };
    const perRecord = (consume: () => number): number => {
      const round = (): number => {
        emit(ROUND, 1, false);
        return consume();
      };
      for (let i = 0; i < 20; i++) round();
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const profiler = new GCProfiler();
        profiler.start();
        const before = process.memoryUsage().heapUsed;
        let records = 0;
        for (let i = 0; i < 60; i++) records += round();
        const after = process.memoryUsage().heapUsed;
        let freed = 0;
        for (const s of profiler.stop().statistics) {
          freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
        }
        best = Math.min(best, (after - before + freed) / records);
      }
      return best;
    };
    rb.consumeRaw(() => {});
    const raw = perRecord(() => rb.consumeRaw(() => {}));
    const inPlace = perRecord(() => rb.consumeInPlace(readFields));
    const decoded = perRecord(() => rb.consume(readFields));
    expect(sink).not.toBe(0);
    // Emitting a round costs a little of its own, the same for every consumer.
    expect(inPlace - raw).toBeLessThan(2);
    expect(decoded - raw).toBeGreaterThan(100);
  });
});
