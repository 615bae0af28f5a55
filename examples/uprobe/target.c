/* The program whose function the uprobe example times: work(n) does about n steps of arithmetic, and
 * main calls it CALLS times (default 200) with n cycling through 1000, 2000, 4000, ... 128000, so the
 * latencies spread over several powers of two. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) unsigned long work(unsigned long n)
{
	volatile unsigned long acc = 0;

	for (unsigned long i = 0; i < n; i++)
		acc += i * i;
	return acc;
}

int main(int argc, char **argv)
{
	int calls = argc > 1 ? atoi(argv[1]) : 200;
	unsigned long sum = 0;

	for (int i = 0; i < calls; i++)
		sum += work(1000UL << (i % 8));
	printf("target: %d calls of work(), checksum %lu\n", calls, sum);
	return 0;
}
