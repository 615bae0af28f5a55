// SPDX-License-Identifier: GPL-2.0
/* Map access benchmark: an array and a hash map of u32 to u64 with 1024 entries, the same shape as the maps
 * bench/c/maps.c creates with bpf_map_create, so that bpf-skel's access through a loaded object compares
 * with libbpf's bpf_map_lookup_elem/bpf_map_update_elem; and the same array declared BPF_F_MMAPABLE, which
 * bpf-skel reads and writes in memory. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} bench_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} bench_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} bench_mmap SEC(".maps");

/* A program so the object is a usual one; it touches both maps. */
SEC("syscall")
int touch(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&bench_array, &key);

	if (v)
		(*v)++;
	v = bpf_map_lookup_elem(&bench_hash, &key);
	if (v)
		(*v)++;
	v = bpf_map_lookup_elem(&bench_mmap, &key);
	if (v)
		(*v)++;
	return 0;
}
