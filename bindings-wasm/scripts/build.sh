#!/usr/bin/env bash
# Build the npm package's wasm: cargo (size profile) → wasm-bindgen (Node + web) → wasm-opt -O1.
# Needs the wasm32 target, wasm-bindgen-cli at the version pinned in Cargo.toml, and wasm-opt
# (scripts/test-js.sh at the repository's top installs all three).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
cargo build -p http-triage-wasm --target wasm32-unknown-unknown --profile wasm-release --locked
wasm="$root/target/wasm32-unknown-unknown/wasm-release/http_triage_wasm.wasm"
rm -rf "$here/pkg"
wasm-bindgen "$wasm" --out-dir "$here/pkg/node" --target nodejs --no-typescript
wasm-bindgen "$wasm" --out-dir "$here/pkg/web" --target web --no-typescript
if command -v wasm-opt >/dev/null; then OPT=(wasm-opt); else OPT=(npx --no-install wasm-opt); fi
for f in "$here/pkg/node/http_triage_wasm_bg.wasm" "$here/pkg/web/http_triage_wasm_bg.wasm"; do
  # wasm-bindgen's output uses bulk memory and sign-extension ops (Rust's wasm32 default).
  # -O1, not -Oz: measured on this module, -Oz (and -O2, -O3, -Os) leave fewer bytes but
  # *more gzipped* bytes (207 KB against 194 KB; cargo's opt-level "z" already did the
  # size work), and the gzipped size is what a browser downloads.
  "${OPT[@]}" -O1 --strip-debug --strip-producers --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int -o "$f.opt" "$f"
  mv "$f.opt" "$f"
done
# CommonJS marker for the Node build inside a "type": "module" package.
echo '{"type": "commonjs"}' > "$here/pkg/node/package.json"
# The optimized module must still instantiate (an old wasm-opt can break the externref table).
node -e "require('$here/pkg/node/http_triage_wasm.js').version()"
size=$(wc -c < "$here/pkg/web/http_triage_wasm_bg.wasm")
gz=$(gzip -9 -c "$here/pkg/web/http_triage_wasm_bg.wasm" | wc -c)
echo "http_triage_wasm_bg.wasm: $size bytes, $gz gzipped"
