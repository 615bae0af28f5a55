// SPDX-License-Identifier: GPL-2.0
/* A TCP congestion control in BPF: "bpfskel_reno", a plain Reno. The window grows by one segment per
 * segment acknowledged while below the slow start threshold (doubling each round trip), then by one
 * segment per window of segments acknowledged (congestion avoidance); a loss halves it. The kernel calls
 * the callbacks of the struct_ops map below once it is registered and a socket selects the algorithm by
 * name. Global counters show what the kernel asked of it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

/* TCP_CONG_NON_RESTRICTED (include/net/tcp.h): any network namespace may make it its default. */
#define TCP_CONG_NON_RESTRICTED 0x1

/* Slow start threshold of a new connection, in segments; 0 keeps the kernel's (in effect none until the
 * first loss). Set before load. */
const volatile __u32 initial_ssthresh = 0;

__u64 sockets_initialised; /* init: sockets that selected the algorithm */
__u64 cong_avoid_calls;    /* cong_avoid: acknowledgements that may open the window */
__u64 acked_slow_start;    /* segments acknowledged while in slow start */
__u64 acked_cong_avoid;    /* segments acknowledged in congestion avoidance */
__u64 not_cwnd_limited;    /* cong_avoid calls that left the window alone: the sender did not fill it */
__u64 ssthresh_calls;      /* ssthresh: losses (or ECN marks) that cut the window */
__u64 undo_calls;          /* undo_cwnd: cuts taken back after a spurious loss */
__u32 max_cwnd;            /* the largest window this algorithm set, in segments (racy, a rough peak) */

/* The callbacks only ever see TCP sockets: the verifier lets them use the struct sock they are given as
 * the struct tcp_sock it begins, and write its window fields. */
static struct tcp_sock *tcp(struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

/* Whether the sender is using the window it has: growing one that is not filled would only make bursts
 * later. In slow start, a window up to twice what was in flight counts as used. */
static bool cwnd_limited(struct tcp_sock *tp)
{
	if (BPF_CORE_READ_BITFIELD(tp, is_cwnd_limited))
		return true;
	if (tp->snd_cwnd < tp->snd_ssthresh)
		return tp->snd_cwnd < 2 * tp->max_packets_out;
	return false;
}

SEC("struct_ops/init")
void BPF_PROG(reno_init, struct sock *sk)
{
	__sync_fetch_and_add(&sockets_initialised, 1);
	if (initial_ssthresh)
		tcp(sk)->snd_ssthresh = initial_ssthresh;
}

/* After a loss: the new slow start threshold is half the window, never below two segments. */
SEC("struct_ops/ssthresh")
__u32 BPF_PROG(reno_ssthresh, struct sock *sk)
{
	__u32 half = tcp(sk)->snd_cwnd >> 1;

	__sync_fetch_and_add(&ssthresh_calls, 1);
	return half > 2 ? half : 2;
}

SEC("struct_ops/cong_avoid")
void BPF_PROG(reno_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = tcp(sk);
	__u32 cwnd = tp->snd_cwnd;
	__u32 grown;

	__sync_fetch_and_add(&cong_avoid_calls, 1);
	if (!cwnd_limited(tp)) {
		__sync_fetch_and_add(&not_cwnd_limited, 1);
		return;
	}

	if (cwnd < tp->snd_ssthresh) {
		/* Slow start: one segment more per segment acknowledged, up to the threshold. What is left of
		 * `acked` above it counts towards congestion avoidance. */
		grown = cwnd + acked;
		if (grown > tp->snd_ssthresh)
			grown = tp->snd_ssthresh;
		__sync_fetch_and_add(&acked_slow_start, grown - cwnd);
		acked -= grown - cwnd;
		cwnd = grown;
	}
	if (acked > 0 && cwnd > 0) {
		/* Congestion avoidance: count acknowledged segments; each full window of them adds one. */
		__u32 count = tp->snd_cwnd_cnt + acked;
		__u32 more = count / cwnd;

		__sync_fetch_and_add(&acked_cong_avoid, acked);
		tp->snd_cwnd_cnt = count - more * cwnd;
		cwnd += more;
	}

	if (cwnd > tp->snd_cwnd_clamp)
		cwnd = tp->snd_cwnd_clamp;
	tp->snd_cwnd = cwnd;
	if (cwnd > max_cwnd)
		max_cwnd = cwnd;
}

/* A loss turned out to be spurious: go back to the window from before the cut. */
SEC("struct_ops/undo_cwnd")
__u32 BPF_PROG(reno_undo_cwnd, struct sock *sk)
{
	struct tcp_sock *tp = tcp(sk);

	__sync_fetch_and_add(&undo_calls, 1);
	return tp->snd_cwnd > tp->prior_cwnd ? tp->snd_cwnd : tp->prior_cwnd;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops bpfskel_reno = {
	.init = (void *)reno_init,
	.ssthresh = (void *)reno_ssthresh,
	.cong_avoid = (void *)reno_cong_avoid,
	.undo_cwnd = (void *)reno_undo_cwnd,
	.flags = TCP_CONG_NON_RESTRICTED,
	.name = "bpfskel_reno",
};
