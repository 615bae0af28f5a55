// SPDX-License-Identifier: GPL-2.0
/* The smallest useful program: count the write() calls of one process. The process id comes from user
 * space through a read-only global (.rodata, fixed at load time, so the verifier sees a constant); the
 * counters are plain globals (.bss) that user space reads through the memory-mapped map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load; 0 would match the idle task, which never writes. */
const volatile int target_pid = 0;

/* Zero-initialised, so they live in .bss. */
unsigned long long writes;
unsigned long long bytes_requested;

SEC("tp/syscalls/sys_enter_write")
int count_write(struct trace_event_raw_sys_enter *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != target_pid)
		return 0;
	/* Threads of the process may write at the same time on other CPUs. */
	__sync_fetch_and_add(&writes, 1);
	__sync_fetch_and_add(&bytes_requested, ctx->args[2]);
	return 0;
}
