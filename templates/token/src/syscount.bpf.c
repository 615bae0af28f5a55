// SPDX-License-Identifier: GPL-2.0
/* Counts system calls per process, machine-wide. Nothing here is specific to tokens: the same object
 * loads as root or, in a container, with a BPF token; the types it uses are what the BPF FS must delegate
 * (see README.md): a tracing program (attach type trace_raw_tp), a hash map and array maps for globals. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define TASK_COMM_LEN 16
#define E2BIG 7

struct usage {
	__u64 syscalls;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct usage);
} by_process SEC(".maps");

/* Processes not counted because the map was full. */
__u64 missed = 0;

SEC("tp_btf/sys_enter")
int BPF_PROG(count_syscall, struct pt_regs *regs, long id)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct usage *u, zero = {};

	u = bpf_map_lookup_elem(&by_process, &pid);
	if (!u) {
		bpf_get_current_comm(zero.comm, sizeof(zero.comm));
		if (bpf_map_update_elem(&by_process, &pid, &zero, BPF_NOEXIST) == -E2BIG)
			__sync_fetch_and_add(&missed, 1);
		u = bpf_map_lookup_elem(&by_process, &pid);
		if (!u)
			return 0;
	}
	__sync_fetch_and_add(&u->syscalls, 1);
	return 0;
}
