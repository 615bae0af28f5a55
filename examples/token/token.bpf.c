// SPDX-License-Identifier: GPL-2.0
/* What the token example loads inside a user namespace: a task iterator that counts the processes of
 * every user (by kernel uid) into a hash map, and the machine's processes and threads into globals.
 * Reading the iterator prints one summary line. An iterator is run by reading it, which needs no
 * privilege beyond what the BPF token grants, so the whole thing works inside the sandbox. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* uid, as the initial user namespace sees it */
	__type(value, __u32); /* processes */
} per_uid SEC(".maps");

__u32 processes;
__u32 threads;

SEC("iter/task")
int count_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u32 uid, one = 1, *count;

	if (!task) {
		BPF_SEQ_PRINTF(ctx->meta->seq, "%u processes, %u threads\n", processes, threads);
		return 0;
	}
	if (task->pid != task->tgid) {
		threads++;
		return 0;
	}
	processes++;
	uid = task->cred->uid.val;
	count = bpf_map_lookup_elem(&per_uid, &uid);
	if (count)
		(*count)++;
	else
		bpf_map_update_elem(&per_uid, &uid, &one, BPF_NOEXIST);
	return 0;
}
