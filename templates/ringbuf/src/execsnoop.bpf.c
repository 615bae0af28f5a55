// SPDX-License-Identifier: GPL-2.0
/* Reports every exec() on the machine through a ring buffer: process id, parent, user, command name and
 * file name, as one typed struct event per exec. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define TASK_COMM_LEN 16
#define MAX_FILENAME_LEN 128

struct event {
	int pid;
	int ppid;
	unsigned uid;
	char comm[TASK_COMM_LEN];
	char filename[MAX_FILENAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Tells bpf-skel gen that the records of ring buffer `events` are struct event (`<map>_record`). */
struct event *events_record __attribute__((unused));

/* Counts events dropped because the ring buffer was full; user space reads it from .bss. */
__u64 dropped = 0;

/* A BTF-typed tracepoint: the arguments are typed kernel pointers, read directly; the loader relocates
 * the field offsets (CO-RE) to those of the running kernel. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = task->tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (unsigned)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
