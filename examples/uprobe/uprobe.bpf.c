// SPDX-License-Identifier: GPL-2.0
/* Latency of a user-space function: a uprobe on its entry stores the time per thread, a uretprobe on its
 * return takes the difference and adds it to a log2 histogram. Where to attach (binary and function) is
 * given at run time, so the sections name no target. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 32

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* thread id */
	__type(value, __u64); /* entry time, ns */
} starts SEC(".maps");

/* hist[i]: calls that took [2^i, 2^(i+1)) ns (slot 0 also takes 0 and 1 ns). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

__u64 calls;
__u64 total_ns;

/* Index of the highest set bit, by halving: no loop for the verifier to bound. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFF) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

SEC("uprobe")
int func_entry(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&starts, &tid, &now, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int func_return(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *start, delta;
	__u32 slot;
	__u64 *count;

	start = bpf_map_lookup_elem(&starts, &tid);
	if (!start)
		return 0; /* entered before we attached */
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&starts, &tid);

	slot = log2_u64(delta);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	count = bpf_map_lookup_elem(&hist, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	__sync_fetch_and_add(&calls, 1);
	__sync_fetch_and_add(&total_ns, delta);
	return 0;
}
