// SPDX-License-Identifier: Apache-2.0
/* Baseline for the map-access benchmark: the cost of single-element bpf(BPF_MAP_LOOKUP_ELEM) and
 * bpf(BPF_MAP_UPDATE_ELEM) through Debian's libbpf, on an ARRAY and a HASH map (u32 key, u64 value) created
 * here. Each measurement is one timed run of N operations; ROUNDS rounds are reported so the runner can
 * take the median. Prints one JSON object.
 *
 *   maps [OPS] [ROUNDS]      defaults: 100000 operations, 7 rounds
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define ENTRIES 1024

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "maps: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Returns ns per operation for one round of `ops` operations. */
static double run_round(int fd, int update, long ops)
{
	unsigned long long t0 = now_ns();
	__u64 value = 0;
	long i;

	for (i = 0; i < ops; i++) {
		__u32 key = i & (ENTRIES - 1);

		if (update) {
			value = i;
			if (bpf_map_update_elem(fd, &key, &value, BPF_ANY))
				die("update");
		} else if (bpf_map_lookup_elem(fd, &key, &value)) {
			die("lookup");
		}
	}
	return (double)(now_ns() - t0) / ops;
}

static void report(const char *name, int fd, long ops, long rounds, int last)
{
	int update;
	long r;

	printf("\"%s\":{", name);
	for (update = 0; update <= 1; update++) {
		printf("%s\"%s\":[", update ? "," : "", update ? "update" : "lookup");
		for (r = 0; r < rounds; r++)
			printf("%s%.2f", r ? "," : "", run_round(fd, update, ops));
		printf("]");
	}
	printf("}%s", last ? "" : ",");
}

int main(int argc, char **argv)
{
	long ops = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 7;
	__u64 value = 0;
	int array_fd, hash_fd;
	__u32 key;

	if (ops <= 0 || rounds <= 0) {
		fprintf(stderr, "usage: %s [OPS > 0] [ROUNDS > 0]\n", argv[0]);
		return 2;
	}
	array_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_array", sizeof(__u32), sizeof(__u64), ENTRIES, NULL);
	if (array_fd < 0)
		die("create array");
	hash_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", sizeof(__u32), sizeof(__u64), ENTRIES, NULL);
	if (hash_fd < 0)
		die("create hash");
	/* Fill the hash so lookups hit and updates replace, like the array. */
	for (key = 0; key < ENTRIES; key++)
		if (bpf_map_update_elem(hash_fd, &key, &value, BPF_ANY))
			die("fill hash");

	printf("{\"bench\":\"maps\",\"impl\":\"libbpf\",\"libbpf\":\"%s\",\"ops\":%ld,\"unit\":\"ns/op\",",
	       libbpf_version_string(), ops);
	report("array", array_fd, ops, rounds, 0);
	report("hash", hash_fd, ops, rounds, 1);
	printf("}\n");
	close(array_fd);
	close(hash_fd);
	return 0;
}
