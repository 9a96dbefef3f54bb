#!/usr/bin/env bash
# Build the npm package's wasm: cargo → wasm-bindgen → wasm-opt -O1, three times:
#   pkg/node   the module `http-triage` loads in Node (classify, policy, state machines,
#              fetchWithRetry), built for speed (profile wasm-speed: Node reads it from disk);
#   pkg/web    the same module for browsers, built for size (profile wasm-release);
#   pkg/ledger-node, pkg/ledger-web   the ledger tools' own module (`http-triage/ledger`,
#              feature `ledger`), so that the module a page loads carries no JSON writer.
# Needs the wasm32 target, wasm-bindgen-cli at the version pinned in Cargo.toml, and wasm-opt
# (scripts/test-js.sh at the repository's top installs all three).
#
# All four are built with a nightly toolchain when one is usable: the standard library is
# rebuilt with the crate (`-Z build-std`, at the profile's opt-level) and panics are compiled to
# a bare trap (`-C panic=immediate-abort`: no panic message formatting, no location strings).
# Measured: pkg/web 96,954 -> 89,500 bytes gzipped, pkg/ledger-web 175,576 -> 159,655,
# pkg/node 121,697 -> 114,308 (and bench/classify.mjs no slower: 3.38-3.60 µs a call against
# 3.45-3.62 with stable). Behaviour does not change: under `panic = "abort"` a panic was a trap
# already, a `WebAssembly.RuntimeError` that js/errors.js turns into InternalError; only the
# panic's message (which nobody saw) is gone. The script adds nightly's rust-src and wasm32
# target when they are missing. Without a nightly toolchain, when its build fails (nightly is
# not pinned: a later one may change -Z build-std), or with HTTP_TRIAGE_WASM_STABLE=1, it warns
# and builds with stable, as before.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
# Cargo's output directory: $CARGO_TARGET_DIR when set (relative to the workspace, as cargo reads it).
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
if command -v wasm-opt >/dev/null; then OPT=(wasm-opt); else OPT=(npx --no-install wasm-opt); fi
rm -rf "$here/pkg"

warn() { printf 'build.sh: warning: %s\n' "$*" >&2; }

# Whether the nightly build can be tried: a nightly toolchain with rust-src and the wasm32
# target (the two are added here when missing).
nightly_usable() {
  if [ "${HTTP_TRIAGE_WASM_STABLE:-}" = 1 ]; then
    warn "HTTP_TRIAGE_WASM_STABLE=1: building with stable (about 7 KB more gzipped a module)"
    return 1
  fi
  if ! command -v rustup >/dev/null || ! rustup run nightly rustc --version >/dev/null 2>&1; then
    warn "no nightly toolchain (rustup toolchain install nightly): building with stable (about 7 KB more gzipped a module)"
    return 1
  fi
  if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
    rustup component add rust-src --toolchain nightly || {
      warn "could not add rust-src to nightly: building with stable (about 7 KB more gzipped a module)"
      return 1
    }
  fi
  if ! rustup target list --toolchain nightly --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown --toolchain nightly || {
      warn "could not add wasm32-unknown-unknown to nightly: building with stable (about 7 KB more gzipped a module)"
      return 1
    }
  fi
}
nightly=0
if nightly_usable; then nightly=1; fi

# cargo_build <profile> [cargo args...]: with nightly's build-std when usable, else (or when
# that fails) with stable.
cargo_build() {
  local profile="$1"
  shift
  if [ "$nightly" = 1 ]; then
    # The size builds also take std's smaller implementations (`optimize_for_size`: the same
    # results, less code): pkg/web 87,544 -> 86,847 bytes gzipped, pkg/ledger-web
    # 158,247 -> 152,525. Not for the speed build.
    local features=()
    [ "$profile" = wasm-release ] && features=(-Z build-std-features=optimize_for_size)
    # -Zlocation-detail=none: no file/line/column constants for #[track_caller] (nothing reads
    # them once panics are bare traps): pkg/web 87,798 -> 87,544 bytes gzipped.
    if RUSTFLAGS="${RUSTFLAGS:-} -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
      cargo +nightly build -p http-triage-wasm --target wasm32-unknown-unknown --profile "$profile" \
      --locked -Z build-std=std,panic_abort ${features[@]+"${features[@]}"} "$@"; then
      return
    fi
    warn "the nightly build failed: building with stable (about 7 KB more gzipped a module)"
  fi
  cargo build -p http-triage-wasm --target wasm32-unknown-unknown --profile "$profile" --locked "$@"
}

# build <profile> <"node" and/or "web"> <out prefix> [cargo args...]
build() {
  local profile="$1" targets="$2" prefix="$3"
  shift 3
  cargo_build "$profile" "$@"
  local wasm="$target/wasm32-unknown-unknown/$profile/http_triage_wasm.wasm"
  local t f
  for t in $targets; do
    f="$here/pkg/${prefix}$t/http_triage_wasm_bg.wasm"
    wasm-bindgen "$wasm" --out-dir "$here/pkg/${prefix}$t" --target "$([ "$t" = node ] && echo nodejs || echo web)" --no-typescript
    # wasm-bindgen's output uses bulk memory and sign-extension ops (Rust's wasm32 default).
    # -O1, not -Oz: measured on this module, -Oz (and -O2, -O3, -Os) leave fewer bytes but
    # *more gzipped* bytes (cargo's opt-level "z" already did the size work), and the gzipped
    # size is what a browser downloads.
    "${OPT[@]}" -O1 --strip-debug --strip-producers --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
      --enable-nontrapping-float-to-int -o "$f.opt" "$f"
    mv "$f.opt" "$f"
    if [ "$t" = node ]; then
      # CommonJS marker for the Node build inside a "type": "module" package.
      echo '{"type": "commonjs"}' > "$here/pkg/${prefix}node/package.json"
      # The optimized module must still instantiate (an old wasm-opt can break the externref table).
      node -e "require('$here/pkg/${prefix}node/http_triage_wasm.js').version()"
    fi
    echo "pkg/${prefix}$t/http_triage_wasm_bg.wasm: $(wc -c < "$f") bytes, $(gzip -9 -c "$f" | wc -c) gzipped"
  done
}

build wasm-speed node ""
build wasm-release web ""
build wasm-release "node web" "ledger-" --features ledger
