// SPDX-License-Identifier: GPL-2.0
/* Target of the uprobe and tracepoint tests: calls bpfskel_probe_target(i) for i in [0, N), then
 * bpfskel_other() once, then the getpid system call and libc's getppid() N times each; N from argv[1]. With a
 * second argument it first waits for a byte on stdin, so that a test can attach to this very process
 * (by pid) before the calls happen. Prints the sum of the function results. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline)) int bpfskel_probe_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2 + 1;
}

__attribute__((noinline)) int bpfskel_other(void)
{
	__asm__ volatile("" ::: "memory");
	return 7;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long sum = 0;
	char go;

	if (argc > 2 && read(0, &go, 1) != 1)
		return 2;
	for (int i = 0; i < n; i++)
		sum += bpfskel_probe_target(i);
	sum += bpfskel_other();
	for (int i = 0; i < n; i++) {
		syscall(SYS_getpid);
		getppid();
	}
	printf("%ld\n", sum);
	return 0;
}
