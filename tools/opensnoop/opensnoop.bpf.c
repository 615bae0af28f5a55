// SPDX-License-Identifier: GPL-2.0
/* opensnoop: every open() and openat() on the machine, with the path, flags and result. The entry of the
 * system call remembers the path pointer and flags per thread; the exit reads the path (the kernel has
 * copied it by then, so the page is resident) and sends one record through a ring buffer. Filters are
 * read-only globals set before load, so the verifier drops the paths they disable. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define TASK_COMM_LEN 16
#define PATH_LEN 256

struct event {
	__u64 ts_ns;
	__s32 pid;
	__s32 tid;
	__u32 uid;
	/* The file descriptor, or -errno. */
	__s32 ret;
	__s32 flags;
	__u32 mode;
	char comm[TASK_COMM_LEN];
	char path[PATH_LEN];
};

/* What the entry saw, for the exit. */
struct pending {
	const char *path;
	__s32 flags;
	__u32 mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* thread id */
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct event *events_record __attribute__((unused));

/* Set from user space before load; 0 (or false) means no filter. */
const volatile __s32 target_pid = 0;
const volatile __s32 target_tid = 0;
const volatile bool filter_uid = false;
const volatile __u32 target_uid = 0;
const volatile bool failed_only = false;

static __always_inline bool wanted(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (target_pid && (__s32)(id >> 32) != target_pid)
		return false;
	if (target_tid && (__s32)id != target_tid)
		return false;
	if (filter_uid && (__u32)bpf_get_current_uid_gid() != target_uid)
		return false;
	return true;
}

static __always_inline int remember(const char *path, int flags, __u32 mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = { .path = path, .flags = flags, .mode = mode };

	if (wanted())
		bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

static __always_inline int report(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending *p;
	struct event *e;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (failed_only && ret >= 0)
		goto done;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto done;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = p->flags;
	e->mode = p->mode;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), p->path) < 0)
		e->path[0] = '\0';
	bpf_ringbuf_submit(e, 0);
done:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* open(path, flags, mode) */
SEC("tp/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return remember((const char *)ctx->args[0], (int)ctx->args[1], (__u32)ctx->args[2]);
}

/* openat(dirfd, path, flags, mode) */
SEC("tp/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return remember((const char *)ctx->args[1], (int)ctx->args[2], (__u32)ctx->args[3]);
}

SEC("tp/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return report(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return report(ctx->ret);
}
