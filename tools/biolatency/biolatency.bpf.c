// SPDX-License-Identifier: GPL-2.0
/* biolatency: block I/O latency as a log2 histogram. The time a request is issued to the device driver
 * (block_rq_issue; with the queued option, the time it was inserted into the I/O scheduler,
 * block_rq_insert) is kept in a hash map keyed by the request's address; block_rq_complete takes the
 * difference. Histograms can be split by disk and by operation. The disk is read with CO-RE from
 * rq->q->disk, or from rq->rq_disk on kernels before 5.17 that still have that field. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 27
/* The operation is the low byte of cmd_flags (REQ_OP_BITS is 8). */
#define REQ_OP_MASK 0xff
#define MINOR_BITS 20

struct hist_key {
	__u32 dev; /* (major << 20) | minor with per_disk, else 0 */
	__u32 op; /* enum req_op with per_op, else 0 */
};

struct hist {
	__u32 slots[SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* struct request * */
	__type(value, __u64); /* start, ns */
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hists SEC(".maps");

/* Set from user space before load. */
const volatile bool per_disk = false;
const volatile bool per_op = false;
const volatile bool millis = false;
/* Time from insertion into the scheduler rather than from issue (the on_insert program is then loaded). */
const volatile bool queued = false;
const volatile bool filter_dev = false;
const volatile __u32 target_dev = 0;

static const struct hist empty_hist;

/* Kernels before 5.17 kept the disk in the request itself. */
struct request___pre517 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 request_dev(struct request *rq)
{
	struct gendisk *disk;

	if (bpf_core_field_exists(((struct request___pre517 *)rq)->rq_disk))
		disk = BPF_CORE_READ((struct request___pre517 *)rq, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << MINOR_BITS) | (__u32)BPF_CORE_READ(disk, first_minor);
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

static __always_inline int stamp(struct request *rq, __u64 flags)
{
	__u64 key = (__u64)rq;
	__u64 now;

	if (filter_dev && request_dev(rq) != target_dev)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &now, flags);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(on_insert, struct request *rq)
{
	return stamp(rq, BPF_ANY);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(on_issue, struct request *rq)
{
	/* When timing from insertion, keep the insertion time; requests that bypassed the scheduler get one here. */
	return stamp(rq, queued ? BPF_NOEXIST : BPF_ANY);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(on_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq;
	struct hist_key hk = {};
	__u64 *since, delta;
	struct hist *h;
	__u32 slot;

	since = bpf_map_lookup_elem(&start, &key);
	if (!since)
		return 0;
	delta = bpf_ktime_get_ns() - *since;
	bpf_map_delete_elem(&start, &key);

	if (per_disk)
		hk.dev = request_dev(rq);
	if (per_op)
		hk.op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
	h = bpf_map_lookup_elem(&hists, &hk);
	if (!h) {
		bpf_map_update_elem(&hists, &hk, &empty_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &hk);
		if (!h)
			return 0;
	}
	delta /= millis ? 1000000 : 1000;
	slot = log2_u64(delta);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}
