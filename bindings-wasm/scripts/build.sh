#!/usr/bin/env bash
# Build the npm package's wasm: cargo → wasm-bindgen → wasm-opt -O1, three times:
#   pkg/node   the module `http-triage` loads in Node (classify, policy, state machines,
#              fetchWithRetry), built for speed (profile wasm-speed: Node reads it from disk);
#   pkg/web    the same module for browsers, built for size (profile wasm-release);
#   pkg/ledger-node, pkg/ledger-web   the ledger tools' own module (`http-triage/ledger`,
#              feature `ledger`), so that the module a page loads carries no JSON writer.
# Needs the wasm32 target, wasm-bindgen-cli at the version pinned in Cargo.toml, and wasm-opt
# (scripts/test-js.sh at the repository's top installs all three).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
# Cargo's output directory: $CARGO_TARGET_DIR when set (relative to the workspace, as cargo reads it).
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
if command -v wasm-opt >/dev/null; then OPT=(wasm-opt); else OPT=(npx --no-install wasm-opt); fi
rm -rf "$here/pkg"

# build <profile> <"node" and/or "web"> <out prefix> [cargo args...]
build() {
  local profile="$1" targets="$2" prefix="$3"
  shift 3
  cargo build -p http-triage-wasm --target wasm32-unknown-unknown --profile "$profile" --locked "$@"
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
