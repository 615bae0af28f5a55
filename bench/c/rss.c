// SPDX-License-Identifier: Apache-2.0
/* Baseline for the memory benchmark: loads one object with Debian's libbpf (open + load, no attach) and
 * prints the resident set size of this process (VmRSS of /proc/self/status) with the object loaded, and
 * before opening it, as JSON.
 *
 *   rss OBJECT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

/* VmRSS in kB, or -1. */
static long vm_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	long before, loaded;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJECT\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet_print);
	before = vm_rss_kb();
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "rss: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "rss: load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	loaded = vm_rss_kb();
	printf("{\"bench\":\"rss\",\"impl\":\"libbpf\",\"libbpf\":\"%s\",\"before_kb\":%ld,\"loaded_kb\":%ld}\n",
	       libbpf_version_string(), before, loaded);
	bpf_object__close(obj);
	return 0;
}
