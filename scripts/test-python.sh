#!/usr/bin/env bash
# The Python package's tests, from a fresh clone on a fresh machine: a virtualenv with pinned
# tools, the release wheel built by maturin and installed into it, then stubtest (stubs against
# the built module), mypy --strict, ruff, and pytest over bindings-python/tests (the shared
# vectors, the API, the adapters and batch runner against the real `http-triage serve`).
#
#   scripts/test-python.sh            # everything
#   PY_VENV=/path scripts/test-python.sh   # another virtualenv location
#   PYTEST_ARGS="-k vectors" scripts/test-python.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

venv=${PY_VENV:-$root/target/py-venv}
python=${PYTHON:-python3}

step "python and venv"
if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    # Debian/Ubuntu ship venv/ensurepip separately.
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq python3 python3-venv python3-pip
fi
"$python" -c 'import sys; assert sys.version_info >= (3, 9), sys.version'
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
vpy="$venv/bin/python"
"$vpy" -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-dev.txt

step "the http-triage binary (serve, report, classify) for the subprocess tests"
cargo build -p http-triage --features cli --locked
export HTTP_TRIAGE_BIN="$root/target/debug/http-triage"
"$HTTP_TRIAGE_BIN" --version

step "build the wheel (maturin, release, abi3) and install it"
rm -rf target/py-wheels
"$venv/bin/maturin" build --release --locked -m bindings-python/Cargo.toml -o target/py-wheels \
    --interpreter "$vpy" --quiet
wheel=$(ls target/py-wheels/http_triage-*.whl)
"$vpy" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
# Run the checks against the installed wheel, never against the source tree.
(cd /tmp && "$vpy" -c 'import http_triage, sys; print("installed", http_triage.__version__, http_triage._native.__file__)')

cd bindings-python

step "stubtest: _native.pyi against the built module"
(cd /tmp && "$vpy" -m mypy.stubtest http_triage._native --mypy-config-file "$root/bindings-python/pyproject.toml")

step "mypy --strict: the package and the typed usage file"
"$vpy" -m mypy --strict python/http_triage tests/typing_usage.py
"$vpy" tests/typing_usage.py

step "ruff"
"$venv/bin/ruff" check python tests bench
"$venv/bin/ruff" format --check python tests bench
if [ -d ../examples/python ]; then
    "$venv/bin/ruff" check ../examples/python
    "$venv/bin/ruff" format --check ../examples/python
fi

step "pytest"
set +e
# shellcheck disable=SC2086
"$vpy" -m pytest tests -q -p no:cacheprovider ${PYTEST_ARGS:-}
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
