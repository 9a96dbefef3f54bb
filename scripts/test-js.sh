#!/usr/bin/env bash
# The JavaScript/TypeScript package (bindings-wasm/, npm `http-triage`), from a fresh machine:
# installs what it needs (the wasm32 target, wasm-bindgen-cli at the version the crate pins,
# binaryen's wasm-opt, Chromium, Node, the npm dev dependencies), builds the wasm for Node and
# browsers, type-checks the declarations, and runs the Node tests (shared vectors,
# fetchWithRetry against the real `http-triage serve`, the examples) and the headless-Chromium
# test of the browser build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32 target, wasm-bindgen-cli, wasm-opt, chromium, node"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' bindings-wasm/Cargo.toml)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
    echo "wasm-bindgen-cli ${have:-missing}, need $want: installing (a few minutes)"
    cargo install wasm-bindgen-cli --version "$want" --locked
fi
missing=()
command -v wasm-opt >/dev/null || missing+=(binaryen)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
node -e 'if (+process.versions.node.split(".")[0] < 18) { console.error("Node >= 18 needed"); process.exit(1) }'

step "npm ci (typescript, playwright-core, @types/node)"
(cd bindings-wasm && npm ci --no-audit --no-fund)

step "the http-triage binary (serve, for the tests)"
cargo build -p http-triage --features cli --locked
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export HTTP_TRIAGE_BIN="$target/debug/http-triage"

step "build: cargo (wasm-speed for Node, wasm-release for browsers and the ledger module) -> wasm-bindgen -> wasm-opt -O1"
bindings-wasm/scripts/build.sh

step "tsc --noEmit: index.d.ts against test/usage.ts"
(cd bindings-wasm && npx --no-install tsc --noEmit -p tsconfig.json)

step "npm pack: the package holds the wasm, the JS and the types"
(cd bindings-wasm && npm pack --dry-run --json 2>/dev/null | node -e '
  const files = JSON.parse(require("fs").readFileSync(0, "utf8"))[0].files.map((f) => f.path);
  for (const f of ["index.d.ts", "ledger.d.ts", "js/node.mjs", "js/browser.mjs", "js/ledger-node.mjs", "js/ledger-browser.mjs",
                   "pkg/node/http_triage_wasm_bg.wasm", "pkg/web/http_triage_wasm_bg.wasm",
                   "pkg/ledger-node/http_triage_wasm_bg.wasm", "pkg/ledger-web/http_triage_wasm_bg.wasm"]) {
    if (!files.includes(f)) { console.error(`npm package lacks ${f}`); process.exit(1); }
  }
  console.log(`ok: ${files.length} files`);')

step "node --test: vectors, fetchWithRetry against serve, examples, headless Chromium"
(cd bindings-wasm && node --test --test-concurrency=1 test/*.test.mjs)
