#!/usr/bin/env bash
# Builds every examples/<name>/*.bpf.c with clang and generates its skeleton with bpf-skel (from the
# sources, so no build of the package is needed). Objects and skeletons are committed, so the examples run
# without clang.
#
#   examples/build.sh            build all examples
#   examples/build.sh NAME...    build only these (examples/NAME)
#   examples/build.sh DIR...     build the .bpf.c files of a directory (any path with a '/': tools/execsnoop)
#   examples/build.sh --check    rebuild into a temp dir; fail naming each committed file that differs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLANG="${CLANG:-clang}"
CFLAGS=(-g -O2 -target bpf -D__TARGET_ARCH_x86 -I test/fixtures -I/usr/include/x86_64-linux-gnu
  -fdebug-compilation-dir=. -Wall -Werror)

check=0
names=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  for dir in examples/*/; do
    compgen -G "$dir*.bpf.c" >/dev/null && names+=("$(basename "$dir")")
  done
fi

status=0
for name in "${names[@]}"; do
  # A bare name is an example; anything with a slash is a directory of its own (tools/<name>).
  case "$name" in
    */*) dir="${name%/}" ;;
    *) dir="examples/$name" ;;
  esac
  if ! compgen -G "$dir/*.bpf.c" >/dev/null; then
    echo "build.sh: no .bpf.c in $dir" >&2
    status=1
    continue
  fi
  for src in "$dir"/*.bpf.c; do
    base="${src%.bpf.c}"
    obj="$base.bpf.o"
    skel="$base.skel.ts"
    if [ "$check" = 1 ]; then
      tmp="$(mktemp -d)"
      # Same file name as the committed object: the skeleton names it (class name, sibling file to load).
      fresh="$tmp/$(basename "$obj")"
      "$CLANG" "${CFLAGS[@]}" -c "$src" -o "$fresh"
      # Quiet unless it fails: a failing generator must not look like a mere difference.
      npx tsx src/cli/main.ts gen skeleton "$fresh" -o "$tmp/skel" >"$tmp/log" 2>&1 ||
        { cat "$tmp/log" >&2; echo "FAILED: bpf-skel gen skeleton for $obj"; status=1; }
      cmp -s "$fresh" "$obj" || { echo "DIFFERS: $obj (rebuild with examples/build.sh $name)"; status=1; }
      cmp -s "$tmp/skel" "$skel" || { echo "DIFFERS: $skel (regenerate with examples/build.sh $name)"; status=1; }
      rm -rf "$tmp"
    else
      "$CLANG" "${CFLAGS[@]}" -c "$src" -o "$obj"
      npx tsx src/cli/main.ts gen skeleton "$obj" -o "$skel"
    fi
  done
done
exit $status
