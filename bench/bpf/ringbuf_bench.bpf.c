// SPDX-License-Identifier: GPL-2.0
/* Ring buffer throughput benchmark: `produce` (a syscall program, run with BPF_PROG_TEST_RUN) writes `count`
 * 64-byte records into ring buffer `rb` with bpf_loop. Records are submitted without a wakeup, so the
 * producer side costs the same whichever consumer reads them; the benchmark times only the consumer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* 64 bytes: the record the consumers decode. */
struct bench_record {
	__u64 seq;
	__u64 ts;
	__u32 pid;
	__u32 cpu;
	char comm[16];
	__u64 a;
	__u64 b;
	__u64 c;
};

/* ctx_in of BPF_PROG_TEST_RUN. */
struct produce_args {
	__u32 count;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} rb SEC(".maps");

/* Keeps struct bench_record in the object's BTF, for generated record types. */
const struct bench_record *record_type __attribute__((unused));

__u64 produced;
__u64 dropped;

static long emit_one(__u32 i, void *ctx)
{
	struct bench_record *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);

	if (!r) {
		dropped++;
		return 1;
	}
	r->seq = produced + i;
	r->ts = i;
	r->pid = i;
	r->cpu = 0;
	__builtin_memcpy(r->comm, "ringbuf-bench", 14);
	r->a = i;
	r->b = i * 2;
	r->c = i * 3;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("syscall")
int produce(struct produce_args *args)
{
	long n = bpf_loop(args->count, emit_one, NULL, 0);

	if (n > 0)
		produced += n;
	return n;
}
