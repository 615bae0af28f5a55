// SPDX-License-Identifier: GPL-2.0
/* A sampling CPU profiler: user space opens a CPU-clock perf event on every CPU and attaches this program;
 * at each sample it records the kernel and user stacks of whatever runs there in a stack trace map and
 * counts the (process, kernel stack, user stack) combination in a hash map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_STACK_DEPTH 127
#define TASK_COMM_LEN 16
#define EFAULT 14
#define E2BIG 7

struct sample_key {
	__u32 pid;
	__s32 kernel_stack; /* id in stacks, or a negative errno (e.g. -EFAULT: no stack of that kind) */
	__s32 user_stack;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64[MAX_STACK_DEPTH]);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sample_key);
	__type(value, __u64);
} samples SEC(".maps");

/* Stacks that could not be recorded, and samples that found the counting map full. */
__u64 lost_stacks;
__u64 lost_samples;

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	struct sample_key key = {};
	__u64 one = 1, *count;

	key.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
	key.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	/* -EFAULT only means there is no such stack (a kernel thread has no user stack); anything else is a
	 * stack lost, e.g. to a full map or a hash collision. */
	if ((key.kernel_stack < 0 && key.kernel_stack != -EFAULT) ||
	    (key.user_stack < 0 && key.user_stack != -EFAULT))
		__sync_fetch_and_add(&lost_stacks, 1);

	count = bpf_map_lookup_elem(&samples, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else if (bpf_map_update_elem(&samples, &key, &one, BPF_NOEXIST) == -E2BIG)
		__sync_fetch_and_add(&lost_samples, 1);
	return 0;
}
