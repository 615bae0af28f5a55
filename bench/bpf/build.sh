#!/usr/bin/env bash
# Builds bench/bpf/*.bpf.c into bench/bpf/<name>.bpf.o with the fixture flags (test/fixtures/build.sh) and
# test/fixtures/vmlinux.h. The objects are committed, so the benchmark runs without clang.
#
#   bench/bpf/build.sh [NAME...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CLANG="${CLANG:-clang}"
CFLAGS=(-g -O2 -target bpf -D__TARGET_ARCH_x86 -I test/fixtures -I/usr/include/x86_64-linux-gnu
  -fdebug-compilation-dir=. -Wall -Wno-unused-function -Werror)

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for src in bench/bpf/*.bpf.c; do
    n="$(basename "$src")"
    names+=("${n%.bpf.c}")
  done
fi
for n in "${names[@]}"; do
  "$CLANG" "${CFLAGS[@]}" -c "bench/bpf/$n.bpf.c" -o "bench/bpf/$n.bpf.o.tmp"
  mv "bench/bpf/$n.bpf.o.tmp" "bench/bpf/$n.bpf.o"
  echo "built bench/bpf/$n.bpf.o"
done
