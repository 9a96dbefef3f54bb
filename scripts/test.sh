#!/usr/bin/env bash
# Every test http-triage has, from a fresh clone on a fresh machine. One script per language,
# each installing what it needs itself:
#   scripts/test-rust.sh    fmt, clippy, the wasm32 build of the core, every Rust test
#   scripts/test-python.sh  a virtualenv with maturin, the wheel, stubtest, mypy, ruff, pytest, examples
#   scripts/test-js.sh      wasm32 target, wasm-bindgen CLI, npm packages, Chromium; tsc, node --test, browser
# Usage: ./scripts/test.sh [rust|python|js ...]   (default: all three, in that order)
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(rust python js)

start=$(date +%s)
for part in "${parts[@]}"; do
    script="scripts/test-$part.sh"
    if [ ! -x "$script" ]; then
        echo "no such test part: $part ($script)" >&2
        exit 3
    fi
    printf '\n######## %s ########\n' "$part"
    t0=$(date +%s)
    "$script"
    printf '\n######## %s: ok in %ss ########\n' "$part" "$(( $(date +%s) - t0 ))"
done
printf '\nall test parts passed (%s) in %ss\n' "${parts[*]}" "$(( $(date +%s) - start ))"
