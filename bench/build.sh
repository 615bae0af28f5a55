#!/usr/bin/env bash
# Builds the C baselines of the benchmarks (bench/c/*.c, on Debian's libbpf from libbpf-dev) into
# bench/out/. The runner compares bpf-skel against these.
#
#   bench/out/load OBJECT [ITERATIONS] [WARMUP]   open+load+close N times; JSON with per-iteration ns
#   bench/out/maps [OPS] [ROUNDS]                 lookup/update ns/op on an array and a hash map; JSON
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/out"
CC="${CC:-gcc}"
mkdir -p "$OUT"
for src in "$ROOT"/bench/c/*.c; do
  name="$(basename "$src" .c)"
  "$CC" -O2 -Wall -Wextra -Werror -o "$OUT/$name" "$src" -lbpf -lelf -lz
  echo "built bench/out/$name"
done
