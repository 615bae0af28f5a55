// SPDX-License-Identifier: Apache-2.0
/* Baseline for the ring buffer benchmark, on Debian's libbpf. Loads bench/bpf/ringbuf_bench.bpf.o, then per
 * round has its `produce` program write RECORDS 64-byte records (BPF_PROG_TEST_RUN, untimed) and times one
 * ring_buffer__consume that drains them, the callback reading one field of each record. Prints one JSON
 * object with every round's record count and consume time.
 *
 *   ringbuf OBJECT [RECORDS] [ROUNDS]     defaults: 100000 records, 5 rounds
 *   ringbuf --idle OBJECT [MS]            waits MS ms (default 2000) in ring_buffer__poll with no records;
 *                                         prints the process CPU time that cost
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct produce_args {
	__u32 count;
	__u32 pad;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned long long cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN && getenv("BENCH_VERBOSE") ? vfprintf(stderr, fmt, args) : 0;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "ringbuf: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* The consumer's work per record: read one field (pid, a u32 at offset 16), as the TypeScript side does. */
static int on_record(void *ctx, void *data, size_t size)
{
	unsigned long long *sum = ctx;

	(void)size;
	*sum += *(const unsigned int *)((const char *)data + 16);
	return 0;
}

int main(int argc, char **argv)
{
	int idle = argc > 1 && strcmp(argv[1], "--idle") == 0;
	const char *path = argc > 1 + idle ? argv[1 + idle] : NULL;
	long records = 100000, rounds = 5, idle_ms = 2000, r;
	unsigned long long sum = 0;
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	struct ring_buffer *rb;
	int err;

	if (!path) {
		fprintf(stderr, "usage: %s OBJECT [RECORDS] [ROUNDS] | --idle OBJECT [MS]\n", argv[0]);
		return 2;
	}
	if (idle) {
		idle_ms = argc > 3 ? strtol(argv[3], NULL, 10) : idle_ms;
	} else {
		records = argc > 2 ? strtol(argv[2], NULL, 10) : records;
		rounds = argc > 3 ? strtol(argv[3], NULL, 10) : rounds;
	}
	if (records <= 0 || rounds <= 0 || idle_ms <= 0) {
		fprintf(stderr, "%s: RECORDS, ROUNDS and MS must be > 0\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet_print);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		die("open", errno);
	err = bpf_object__load(obj);
	if (err)
		die("load", err);
	prog = bpf_object__find_program_by_name(obj, "produce");
	map = bpf_object__find_map_by_name(obj, "rb");
	if (!prog || !map)
		die("find produce/rb", ENOENT);
	rb = ring_buffer__new(bpf_map__fd(map), on_record, &sum, NULL);
	if (!rb)
		die("ring_buffer__new", errno);

	if (idle) {
		unsigned long long c0 = cpu_ns(), t0 = now_ns(), deadline = t0 + idle_ms * 1000000ULL;
		long got = 0;

		while (now_ns() < deadline) {
			err = ring_buffer__poll(rb, (int)((deadline - now_ns()) / 1000000ULL) + 1);
			if (err < 0)
				die("ring_buffer__poll", err);
			got += err;
		}
		printf("{\"bench\":\"ringbuf-idle\",\"impl\":\"libbpf\",\"libbpf\":\"%s\",\"wall_ns\":%llu,"
		       "\"cpu_ns\":%llu,\"records\":%ld}\n",
		       libbpf_version_string(), now_ns() - t0, cpu_ns() - c0, got);
	} else {
		struct produce_args args = { .count = (__u32)records };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));

		printf("{\"bench\":\"ringbuf\",\"impl\":\"libbpf\",\"libbpf\":\"%s\",\"record_size\":64,\"rounds\":[",
		       libbpf_version_string());
		for (r = 0; r < rounds; r++) {
			unsigned long long t0;
			int n;

			err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
			if (err)
				die("BPF_PROG_TEST_RUN", err);
			if ((long)opts.retval != records)
				die("produce wrote fewer records than asked (ring too small?)", ENOSPC);
			t0 = now_ns();
			n = ring_buffer__consume(rb);
			if (n < 0)
				die("ring_buffer__consume", n);
			printf("%s{\"records\":%d,\"ns\":%llu}", r ? "," : "", n, now_ns() - t0);
		}
		printf("],\"checksum\":%llu}\n", sum);
	}
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
