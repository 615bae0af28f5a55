#!/usr/bin/env bash
# Builds the tools with examples/build.sh: each tools/<name>/<name>.bpf.c with clang, then its skeleton.
#
#   tools/build.sh            build all tools
#   tools/build.sh NAME...    build only these
#   tools/build.sh --check    rebuild into a temp dir; fail naming each committed file that differs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

flags=()
dirs=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    -*) flags+=("$arg") ;;
    *) dirs+=("tools/$arg") ;;
  esac
done
if [ ${#dirs[@]} -eq 0 ]; then
  for dir in tools/*/; do
    compgen -G "$dir*.bpf.c" >/dev/null && dirs+=("${dir%/}")
  done
fi
exec bash examples/build.sh "${flags[@]}" "${dirs[@]}"
