// SPDX-License-Identifier: Apache-2.0
/* Reference for the batch benchmark, on Debian's libbpf: reads every element of a full ARRAY and HASH map
 * (u32 key, u64 value, 1024 entries, as bench/c/maps.c) with bpf_map_lookup_batch, BATCH elements per call,
 * and prints ns per element of each round as JSON. The runner's headline compares bpf-skel's batch lookup
 * with C's single-element loop (bench/c/maps.c); this shows what libbpf's own batch call costs.
 *
 *   batch [BATCH] [ROUNDS]      defaults: 256 elements per call, 7 rounds (each reads the map 20 times)
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
#define PASSES 20

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "batch: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads the whole map once; returns how many elements it got. */
static long read_all(int fd, __u32 batch, __u32 *keys, __u64 *values)
{
	__u32 in = 0, out = 0, count;
	long total = 0;
	int first = 1, err;

	for (;;) {
		count = batch;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, values, &count, NULL);
		if (err && errno != ENOENT)
			die("lookup batch");
		total += count;
		if (err)
			return total;
		in = out;
		first = 0;
	}
}

static void report(const char *name, int fd, __u32 batch, long rounds, int last)
{
	__u32 *keys = calloc(batch, sizeof(*keys));
	__u64 *values = calloc(batch, sizeof(*values));
	long r, p, n;

	if (!keys || !values)
		die("calloc");
	printf("\"%s\":[", name);
	for (r = 0; r < rounds; r++) {
		unsigned long long t0 = now_ns();

		for (n = 0, p = 0; p < PASSES; p++)
			n += read_all(fd, batch, keys, values);
		if (n != (long)PASSES * ENTRIES) {
			fprintf(stderr, "batch: %s: read %ld elements, expected %d\n", name, n, PASSES * ENTRIES);
			exit(1);
		}
		printf("%s%.2f", r ? "," : "", (double)(now_ns() - t0) / n);
	}
	printf("]%s", last ? "" : ",");
	free(keys);
	free(values);
}

int main(int argc, char **argv)
{
	long batch = argc > 1 ? strtol(argv[1], NULL, 10) : 256;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 7;
	__u64 value = 0;
	int array_fd, hash_fd;
	__u32 key;

	if (batch <= 0 || batch > ENTRIES || rounds <= 0) {
		fprintf(stderr, "usage: %s [BATCH 1..%d] [ROUNDS > 0]\n", argv[0], ENTRIES);
		return 2;
	}
	array_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_array", sizeof(__u32), sizeof(__u64), ENTRIES, NULL);
	if (array_fd < 0)
		die("create array");
	hash_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", sizeof(__u32), sizeof(__u64), ENTRIES, NULL);
	if (hash_fd < 0)
		die("create hash");
	for (key = 0; key < ENTRIES; key++)
		if (bpf_map_update_elem(hash_fd, &key, &value, BPF_ANY))
			die("fill hash");

	printf("{\"bench\":\"batch\",\"impl\":\"libbpf\",\"libbpf\":\"%s\",\"batch\":%ld,\"unit\":\"ns/element\",",
	       libbpf_version_string(), batch);
	report("array", array_fd, (__u32)batch, rounds, 0);
	report("hash", hash_fd, (__u32)batch, rounds, 1);
	printf("}\n");
	close(array_fd);
	close(hash_fd);
	return 0;
}
