// SPDX-License-Identifier: GPL-2.0
/* Counts the system calls of one process. The process id is a read-only global that user space sets
 * before load(); the count is a global in .bss that user space reads live, without a map lookup. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by main.ts before load: only system calls of this process are counted. */
const volatile int target_pid = 0;

/* Read by main.ts after load, straight from the memory of the .bss map. */
__u64 syscalls = 0;
long last_syscall = 0;

/* A BTF-typed raw tracepoint: attached by name, without tracefs. */
SEC("tp_btf/sys_enter")
int BPF_PROG(count_syscalls, struct pt_regs *regs, long id)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	__sync_fetch_and_add(&syscalls, 1);
	last_syscall = id;
	return 0;
}
