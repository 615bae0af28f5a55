// SPDX-License-Identifier: GPL-2.0
/* execsnoop: every execve() on the machine with its arguments. The entry of the system call records who
 * calls it and copies the argument strings from user memory into a per-thread record; the exit adds the
 * return value (and the new comm, as a successful exec renamed the task) and sends the record through a
 * ring buffer. Arguments are stored one after another, each with its NUL, in args[]. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define TASK_COMM_LEN 16
#define ARG_LEN 128		/* longest argument copied, NUL included */
#define MAX_ARGS 20		/* strings copied: the file name, then argv[1] onwards */
#define ARGS_BYTES (MAX_ARGS * ARG_LEN)
/* The last offset a whole ARG_LEN copy still fits at: the bound the verifier needs on each copy. */
#define LAST_ARG_OFFSET (ARGS_BYTES - ARG_LEN)

struct event {
	__s32 pid;
	__s32 ppid;
	__u32 uid;
	__s32 retval;
	/* Strings seen: the file name and the arguments after argv[0], counted up to MAX_ARGS + 1; more than
	 * were copied means some were left out. */
	__u32 args_count;
	/* Bytes of args[] in use. */
	__u32 args_size;
	char comm[TASK_COMM_LEN];
	__u8 args[ARGS_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* thread id */
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct event *events_record __attribute__((unused));

/* Set from user space before load. */
const volatile int max_args = MAX_ARGS;
const volatile bool include_failed = false;
/* With filter_uid, only the execs of user target_uid. */
const volatile bool filter_uid = false;
const volatile __u32 target_uid = 0;

/* Template for a new record: the hash map gets a zeroed value to fill in place (the record is too big
 * for the BPF stack). */
static const struct event empty_event;

SEC("tp/syscalls/sys_enter_execve")
int enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	const char *const *argv = (const char *const *)ctx->args[1];
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct task_struct *task;
	struct event *e;
	const char *arg;
	long len;
	int i;

	if (filter_uid && uid != target_uid)
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;

	task = (struct task_struct *)bpf_get_current_task();
	e->pid = id >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = uid;

	/* Like the classic tool: the file name, then argv[1] onwards (argv[0] is often just a base name). */
	len = bpf_probe_read_user_str(e->args, ARG_LEN, (const char *)ctx->args[0]);
	if (len <= 0)
		return 0;
	e->args_size = len;
	e->args_count = 1;
	for (i = 1; i <= MAX_ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		e->args_count++;
		/* Counted but not copied: user space prints "..." for the rest. */
		if (i >= max_args || e->args_size > LAST_ARG_OFFSET)
			return 0;
		len = bpf_probe_read_user_str(&e->args[e->args_size], ARG_LEN, arg);
		if (len <= 0)
			return 0;
		e->args_size += len;
	}
	return 0;
}

SEC("tp/syscalls/sys_exit_execve")
int exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;
	int ret;

	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	ret = ctx->ret;
	if (ret >= 0 || include_failed) {
		e->retval = ret;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	}
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}
