// SPDX-License-Identifier: GPL-2.0
/* runqlat: how long runnable tasks wait for a CPU. A task becomes runnable when it is woken
 * (sched_wakeup, sched_wakeup_new) or preempted while still runnable (sched_switch with prev in
 * TASK_RUNNING); the time it waits is taken when sched_switch switches to it, and goes into a log2
 * histogram, one for the machine or one per process. Task fields are read with CO-RE, and the task
 * state, renamed from `state` to `__state` in Linux 5.14, is read from whichever field the kernel has. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 26
#define TASK_COMM_LEN 16
#define TASK_RUNNING 0

struct hist {
	__u32 slots[SLOTS];
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* thread id */
	__type(value, __u64); /* when it became runnable, ns */
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* process id with per_process, else 0 */
	__type(value, struct hist);
} hists SEC(".maps");

/* Set from user space before load. */
const volatile __s32 target_tgid = 0; /* 0: every process */
const volatile bool per_process = false;
const volatile bool millis = false;

static const struct hist empty_hist;

/* The field before Linux 5.14: a flavor of task_struct that CO-RE matches to the kernel's task_struct. */
struct task_struct___pre514 {
	volatile long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

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

static __always_inline int mark_runnable(struct task_struct *t)
{
	__u32 tid = BPF_CORE_READ(t, pid);
	__u64 now;

	/* The idle tasks (tid 0, one per CPU) never wait. */
	if (!tid)
		return 0;
	if (target_tgid && BPF_CORE_READ(t, tgid) != target_tgid)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	return mark_runnable(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	return mark_runnable(p);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 tid, key;
	__u64 *since, delta;
	struct hist *h;
	__u32 slot;

	if (task_state(prev) == TASK_RUNNING)
		mark_runnable(prev);

	tid = BPF_CORE_READ(next, pid);
	since = bpf_map_lookup_elem(&start, &tid);
	if (!since)
		return 0;
	delta = bpf_ktime_get_ns() - *since;
	bpf_map_delete_elem(&start, &tid);

	key = per_process ? BPF_CORE_READ(next, tgid) : 0;
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		bpf_map_update_elem(&hists, &key, &empty_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return 0;
		if (per_process)
			BPF_CORE_READ_STR_INTO(&h->comm, next, group_leader, comm);
	}
	delta /= millis ? 1000000 : 1000;
	slot = log2_u64(delta);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}
