// SPDX-License-Identifier: GPL-2.0
/* A BPF iterator over every task on the machine: reading the iterator runs the program once per task and
 * once more at the end (task == NULL), and what it prints with BPF_SEQ_PRINTF is what read() returns. One
 * line per process (thread group leader); other threads are only counted, unless show_threads is set. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

const volatile bool show_threads = false;

/* Totals of the last pass; reset when a pass starts. */
unsigned int processes;
unsigned int threads;

SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	bool leader;

	if (ctx->meta->seq_num == 0) {
		processes = 0;
		threads = 0;
		BPF_SEQ_PRINTF(seq, "%7s %7s %7s %-16s\n", "PID", "TID", "PPID", "COMM");
	}
	if (!task) {
		BPF_SEQ_PRINTF(seq, "%u processes, %u threads\n", processes, threads);
		return 0;
	}
	leader = task->pid == task->tgid;
	if (leader)
		processes++;
	else
		threads++;
	if (leader || show_threads)
		BPF_SEQ_PRINTF(seq, "%7d %7d %7d %-16s\n", task->tgid, task->pid, task->real_parent->tgid,
			       task->comm);
	return 0;
}
