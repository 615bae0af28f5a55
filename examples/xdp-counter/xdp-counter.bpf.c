// SPDX-License-Identifier: GPL-2.0
/* Counts the packets arriving on an interface with XDP, before the kernel's network stack sees them:
 * packets and bytes per source IPv4 address and IP protocol in a hash map with a struct key. Frames that
 * are not IPv4 (ARP, IPv6, ...) are counted by their EtherType alone. Every packet is passed on. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800

struct flow_key {
	__u32 saddr;     /* IPv4 source, network byte order; 0 for other frames */
	__u16 eth_proto; /* EtherType, host byte order */
	__u8 ip_proto;   /* IPPROTO_*, 0 for frames that are not IPv4 */
	__u8 pad;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, struct counters);
} counts SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct flow_key key = {};
	struct counters *c, fresh = {};
	struct ethhdr *eth = data;
	struct iphdr *ip;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	key.eth_proto = bpf_ntohs(eth->h_proto);
	if (key.eth_proto == ETH_P_IP) {
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		key.saddr = ip->saddr;
		key.ip_proto = ip->protocol;
	}

	c = bpf_map_lookup_elem(&counts, &key);
	if (!c) {
		/* BPF_NOEXIST: if another CPU added the key meanwhile, count into its entry. */
		bpf_map_update_elem(&counts, &key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counts, &key);
		if (!c)
			return XDP_PASS;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, data_end - data);
	return XDP_PASS;
}
