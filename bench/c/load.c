// SPDX-License-Identifier: Apache-2.0
/* Baseline for the loader benchmark: N iterations of bpf_object__open_file + bpf_object__load +
 * bpf_object__close on one object with Debian's libbpf. Prints one JSON object with every iteration's
 * time in nanoseconds so the runner computes the statistics the same way for C and TypeScript.
 *
 *   load OBJECT [ITERATIONS] [WARMUP]      defaults: 50 iterations, 3 warm-up iterations
 *
 * Objects with LIBBPF_PIN_BY_NAME maps need a bpffs at /sys/fs/bpf. BENCH_VERBOSE=1 shows libbpf warnings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* libbpf prints warnings for every load; keep stdout pure JSON and stderr quiet unless asked. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN && getenv("BENCH_VERBOSE") ? vfprintf(stderr, fmt, args) : 0;
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int open_load_close(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err;

	if (!obj)
		return -errno;
	err = bpf_object__load(obj);
	bpf_object__close(obj);
	return err;
}

int main(int argc, char **argv)
{
	const char *path;
	long iterations, warmup, i;
	unsigned long long *times;
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJECT [ITERATIONS] [WARMUP]\n", argv[0]);
		return 2;
	}
	path = argv[1];
	iterations = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
	warmup = argc > 3 ? strtol(argv[3], NULL, 10) : 3;
	if (iterations <= 0 || warmup < 0) {
		fprintf(stderr, "%s: ITERATIONS must be > 0 and WARMUP >= 0\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet_print);

	for (i = 0; i < warmup; i++) {
		err = open_load_close(path);
		if (err) {
			fprintf(stderr, "%s: loading %s failed: %s\n", argv[0], path, strerror(-err));
			return 1;
		}
	}
	times = calloc(iterations, sizeof(*times));
	if (!times)
		return 1;
	for (i = 0; i < iterations; i++) {
		unsigned long long t0 = now_ns();

		err = open_load_close(path);
		times[i] = now_ns() - t0;
		if (err) {
			fprintf(stderr, "%s: loading %s failed: %s\n", argv[0], path, strerror(-err));
			return 1;
		}
	}

	printf("{\"bench\":\"load\",\"impl\":\"libbpf\",\"libbpf\":\"%s\",\"object\":", libbpf_version_string());
	print_json_string(path);
	printf(",\"iterations\":%ld,\"ns\":[", iterations);
	for (i = 0; i < iterations; i++)
		printf("%s%llu", i ? "," : "", times[i]);
	printf("]}\n");
	free(times);
	return 0;
}
