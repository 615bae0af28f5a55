// SPDX-License-Identifier: GPL-2.0
/* Per-cgroup traffic accounting: two cgroup_skb programs, one on ingress and one on egress, see every
 * packet that a socket of a process in the cgroup (or one below it) receives or sends, and add it to a
 * hash map keyed by the socket's cgroup id and the direction. Both let every packet through. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum direction { INGRESS = 0, EGRESS = 1 };

struct traffic_key {
	__u64 cgroup_id; /* the cgroup v2 directory's inode number */
	enum direction direction;
	__u32 pad;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct traffic_key);
	__type(value, struct counters);
} traffic SEC(".maps");

static __always_inline int account(struct __sk_buff *skb, enum direction direction)
{
	struct traffic_key key = { .cgroup_id = bpf_skb_cgroup_id(skb), .direction = direction };
	struct counters *c, fresh = {};

	c = bpf_map_lookup_elem(&traffic, &key);
	if (!c) {
		bpf_map_update_elem(&traffic, &key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&traffic, &key);
		if (!c)
			return 1;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, skb->len);
	return 1; /* 1: let the packet through */
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	return account(skb, INGRESS);
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	return account(skb, EGRESS);
}
