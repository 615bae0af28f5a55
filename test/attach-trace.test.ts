/**
 * Tracing attachments on the real kernel: tracepoints (auto-attach and explicit, with a BPF cookie),
 * raw_tp, a writable raw tracepoint (`raw_tp.w/bpf_test_finish`) that changes what `BPF_PROG_TEST_RUN`
 * returns, tp_btf, a task iterator read whole, in chunks and as a Node.js stream, and a sampling perf
 * event. Function probes and trampolines (kprobes, kprobe.multi, uprobe.multi, fentry...) are in
 * attach-probes.test.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachIter,
  attachPerfEvent,
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  autoAttach,
  BpfIterLink,
} from '../src/runtime/attach/index.js';
import { BpfObject } from '../src/runtime/object.js';
import { closeFd } from '../src/runtime/sys/fd.js';
import { linkGetFdById } from '../src/runtime/sys/info.js';
import { PerfSwConfig, PerfType, perfEventOpen } from '../src/runtime/sys/perf.js';
import { progTestRun } from '../src/runtime/sys/prog.js';
import { getU64, setInt } from './bins/globals.js';
import { buildTarget, removeTargets, startTarget } from './bins/target.js';
import { compileBpf, removeCompiled } from './helpers/clang.js';
import { commandExists, countOpenFds, ensureTracefs, isRoot, requireKernel } from './helpers/kernel.js';
import { FIXTURES, loadFixture } from './helpers/objects.js';

const canRun = requireKernel('bpf() as root', isRoot(), 'tests need root for bpf(), perf events and tracefs');
const hasClang = requireKernel(
  'clang',
  commandExists('clang'),
  'the writable raw tracepoint test compiles its program',
);

function traceObject(tgid: number): BpfObject {
  const obj = BpfObject.open(`${FIXTURES}attach_trace.bpf.o`);
  setInt(obj, 'target_tgid', tgid);
  return obj;
}

/** Makes `n` system calls from this process. */
function syscalls(n: number): void {
  for (let i = 0; i < n; i++) statSync('/');
}

function expectLinkGone(id: number): void {
  expect(() => linkGetFdById(id)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
}

describe.runIf(canRun)('tracing attachments', () => {
  let target = '';
  beforeAll(() => {
    ensureTracefs();
    target = buildTarget({ pie: true });
  });
  afterAll(() => removeTargets());

  it('auto-attaches minimal.bpf.o to its tracepoint: every getpid() of the target process is counted', async () => {
    const fds = countOpenFds();
    const child = startTarget(target, 25);
    const obj = BpfObject.open(`${FIXTURES}minimal.bpf.o`);
    setInt(obj, 'target_pid', child.pid);
    obj.load();
    const link = autoAttach(obj.programs.get('handle_getpid')!);
    expect(link).toBeDefined();
    expect(link!.type).toBe('perf_event');
    expect(link!.target).toBe('tracepoint syscalls:sys_enter_getpid');
    const info = link!.info();
    expect(info).toMatchObject({ kind: 'perf_event', name: 'sys_enter_getpid' });
    const bss = obj.maps.get('.bss')!.dataView();
    expect(bss.getInt32(0, true)).toBe(0);
    await child.go();
    expect(bss.getInt32(0, true)).toBe(25);
    expect(bss.getInt32(4, true)).toBe(child.pid);
    link!.detach();
    link!.detach();
    expect(link!.detached).toBe(true);
    expect(link!.fd).toBe(-1);
    expectLinkGone(info.id);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('passes a BPF cookie to a tracepoint program', async () => {
    const child = startTarget(target, 9);
    const obj = traceObject(child.pid);
    obj.load();
    const link = attachTracepoint(obj.programs.get('count_tp')!, 'syscalls', 'sys_enter_getppid', {
      cookie: 0xfeedf00dcafen,
    });
    expect(link.info()).toMatchObject({ kind: 'perf_event', cookie: 0xfeedf00dcafen });
    await child.go();
    expect(getU64(obj, 'tp_hits')).toBe(9n);
    expect(getU64(obj, 'tp_cookie')).toBe(0xfeedf00dcafen);
    link.detach();
    obj.close();
  });

  it('names a missing tracepoint and closes what it opened', () => {
    const fds = countOpenFds();
    using obj = traceObject(0);
    obj.load();
    expect(() =>
      attachTracepoint(obj.programs.get('count_tp')!, 'syscalls', 'sys_enter_no_such_call'),
    ).toThrow(/tracepoint syscalls:sys_enter_no_such_call/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('attaches raw_tp/sys_enter: counts this process while attached, nothing after detach', async () => {
    const fds = countOpenFds();
    const obj = traceObject(process.pid);
    obj.load();
    const link = autoAttach(obj.programs.get('count_raw_tp')!)!;
    expect(link.type).toBe('raw_tracepoint');
    expect(link.info()).toMatchObject({ kind: 'raw_tracepoint', tpName: 'sys_enter' });
    syscalls(50);
    expect(getU64(obj, 'raw_tp_hits')).toBeGreaterThanOrEqual(50n);
    const id = link.info().id;
    link.detach();
    expectLinkGone(id);
    const frozen = getU64(obj, 'raw_tp_hits');
    syscalls(50);
    await new Promise((r) => setTimeout(r, 20));
    expect(getU64(obj, 'raw_tp_hits')).toBe(frozen);
    // The explicit form, with a cookie (Linux 6.10+), reaches the same hook.
    const again = attachRawTracepoint(obj.programs.get('count_raw_tp')!, 'sys_enter', { cookie: 5n });
    expect(again.info()).toMatchObject({ kind: 'raw_tracepoint', cookie: 5n });
    syscalls(10);
    expect(getU64(obj, 'raw_tp_hits')).toBeGreaterThanOrEqual(frozen + 10n);
    again.detach();
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('attaches tp_btf/sys_enter (target resolved from kernel BTF at load)', () => {
    const obj = traceObject(process.pid);
    obj.load();
    const prog = obj.programs.get('count_tp_btf')!;
    const link = autoAttach(prog)!;
    expect(link.type).toBe('raw_tracepoint');
    syscalls(40);
    expect(getU64(obj, 'tp_btf_hits')).toBeGreaterThanOrEqual(40n);
    link.detach();
    const withCookie = attachTracing(prog, { cookie: 77n });
    expect(withCookie.info()).toMatchObject({ cookie: 77n });
    withCookie.detach();
    obj.close();
  });

  it('runs a task iterator whose output lists this process with its comm', async () => {
    const fds = countOpenFds();
    const obj = traceObject(0);
    obj.load();
    const link = autoAttach(obj.programs.get('dump_task')!);
    expect(link).toBeInstanceOf(BpfIterLink);
    const iter = link as BpfIterLink;
    expect(iter.info()).toMatchObject({ kind: 'iter', targetName: 'task' });
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    const mine = `${process.pid} ${process.pid} ${comm}`;
    const text = iter.readText();
    expect(text.split('\n')).toContain(mine);
    let streamed = '';
    let pieces = 0;
    for await (const chunk of iter.chunks(256)) {
      streamed += Buffer.from(chunk).toString('utf8');
      pieces++;
    }
    expect(pieces).toBeGreaterThan(1);
    expect(streamed.split('\n')).toContain(mine);
    // Leaving the loop early closes the iterator instance too.
    for await (const _ of iter.chunks(64)) break;
    iter.detach();
    expect(() => iter.readText()).toThrow(/detached/);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });

  it('an iterator reads as a Node.js stream that closes its instance when ended or destroyed', async () => {
    const obj = loadFixture('attach_trace.bpf.o', ['dump_task']);
    const fds = countOpenFds();
    const iter = attachIter(obj.programs.get('dump_task')!);
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    let text = '';
    let chunks = 0;
    for await (const chunk of iter.stream(128)) {
      text += Buffer.from(chunk as Uint8Array).toString('utf8');
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(text.split('\n')).toContain(`${process.pid} ${process.pid} ${comm}`);
    expect(text).toBe(iter.readText().slice(0, text.length));
    const early = iter.stream(64);
    for await (const _ of early) break;
    expect(early.destroyed).toBe(true);
    iter.detach();
    expect(countOpenFds()).toBe(fds);
    obj.close();
  });

  it('runs a perf_event program on CPU-clock samples of this thread, with a cookie', () => {
    const fds = countOpenFds();
    const obj = traceObject(process.pid);
    obj.load();
    // Samples of this thread on whatever CPU it runs on, every 100 µs of its CPU time.
    const perfFd = perfEventOpen(
      { type: PerfType.SOFTWARE, config: PerfSwConfig.CPU_CLOCK, samplePeriod: 100_000 },
      0,
      -1,
    );
    const link = attachPerfEvent(obj.programs.get('count_perf')!, perfFd, { cookie: 42n });
    // The link holds its own duplicate of the perf FD.
    closeFd(perfFd);
    expect(link.type).toBe('perf_event');
    // eventType 6 is BPF_PERF_EVENT_EVENT: a plain perf event (not a probe or tracepoint).
    expect(link.info()).toMatchObject({ kind: 'perf_event', eventType: 6, cookie: 42n });
    const until = Date.now() + 60;
    while (Date.now() < until) syscalls(1);
    expect(getU64(obj, 'perf_hits')).toBeGreaterThan(10n);
    expect(getU64(obj, 'perf_cookie')).toBe(42n);
    link.detach();
    const frozen = getU64(obj, 'perf_hits');
    const later = Date.now() + 20;
    while (Date.now() < later) syscalls(1);
    expect(getU64(obj, 'perf_hits')).toBe(frozen);
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});

/** Programs with no home in the fixtures: a writable raw tracepoint and a socket filter to test-run. */
const WRITABLE_TP_SOURCE = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

int finish_err = 0;
__u64 finish_hits = 0;

/* The tracepoint's argument is the errno BPF_PROG_TEST_RUN is about to return: overwrite it. */
SEC("raw_tp.w/bpf_test_finish")
int set_test_err(struct bpf_raw_tracepoint_args *ctx)
{
	int *err = (int *)ctx->args[0];

	__sync_fetch_and_add(&finish_hits, 1);
	if (finish_err)
		*err = finish_err;
	return 0;
}

SEC("socket")
int accept_all(struct __sk_buff *skb)
{
	return skb->len;
}
`;

/** A 64-byte frame for socket filter test runs; the program sees it past the 14-byte Ethernet header. */
const FRAME = new Uint8Array(64);
const SEEN_LEN = 64 - 14;

describe.runIf(canRun && hasClang)('a writable raw tracepoint', () => {
  let object = '';
  beforeAll(() => {
    object = compileBpf('writable_tp', WRITABLE_TP_SOURCE);
  });
  afterAll(() => removeCompiled());

  it('raw_tp.w: a writable raw tracepoint rewrites the errno of BPF_PROG_TEST_RUN while attached', () => {
    const fds = countOpenFds();
    const obj = loadFixture(object);
    const writer = obj.programs.get('set_test_err')!;
    expect(writer.type).toBe('raw_tracepoint_writable');
    const run = obj.programs.get('accept_all')!;
    expect(progTestRun(run.fd, { dataIn: FRAME }).retval).toBe(SEEN_LEN);
    setInt(obj, 'finish_err', -7); // -E2BIG
    const link = autoAttach(writer)!;
    expect(link.type).toBe('raw_tracepoint');
    expect(link.info()).toMatchObject({ kind: 'raw_tracepoint', tpName: 'bpf_test_finish' });
    expect(() => progTestRun(run.fd, { dataIn: FRAME })).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    expect(getU64(obj, 'finish_hits')).toBeGreaterThanOrEqual(1n);
    link.detach();
    expect(progTestRun(run.fd, { dataIn: FRAME }).retval).toBe(SEEN_LEN);
    // The explicit form, with a cookie, reaches the same hook.
    const again = attachRawTracepoint(writer, 'bpf_test_finish', { cookie: 3n });
    expect(again.info()).toMatchObject({ tpName: 'bpf_test_finish', cookie: 3n });
    expect(() => progTestRun(run.fd, { dataIn: FRAME })).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    again.detach();
    obj.close();
    expect(countOpenFds()).toBe(fds);
  });
});
