#!/usr/bin/env bash
# The Rust half of the test command (scripts/test.sh runs it first): it installs what it needs
# (the wasm32 target, rustfmt, clippy) and then runs the floor checks, all Rust tests (the
# shared vectors, property tests, the driver / server / batch end-to-end and crash tests), the
# wasm32 build of the default core, and the check that the default core pulls in no IO crates.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain set-up"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown >/dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy -D warnings (default features: the sans-IO core alone)"
# -p, not --workspace: a workspace build unifies features, and examples/rust turns on `cli`.
cargo clippy -p http-triage --all-targets --locked -- -D warnings

step "clippy -D warnings (all features: driver, server, CLI)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "wasm32: the default core builds for wasm32-unknown-unknown"
cargo build -p http-triage --lib --target wasm32-unknown-unknown --locked

step "the default core's normal dependencies hold no IO crates"
deps=$(cargo tree -p http-triage -e normal --prefix none --locked --target all | awk '{print $1}' | sort -u)
bad=$(printf '%s\n' "$deps" | grep -E '^(tokio|reqwest|hyper|mio|getrandom)$' || true)
if [ -n "$bad" ]; then
    echo "the default build of http-triage depends on: $bad" >&2
    exit 1
fi
echo "ok: $(printf '%s\n' "$deps" | wc -l) crates, none of tokio/reqwest/hyper/mio/getrandom"

step "docs build without warnings (the core and both bindings)"
RUSTDOCFLAGS="-D warnings" cargo doc -p http-triage -p http-triage-wasm -p http-triage-python --no-deps --all-features --locked --quiet

step "all Rust tests (all features)"
cargo test --workspace --all-features --locked
