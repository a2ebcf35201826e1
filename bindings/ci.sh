#!/usr/bin/env bash
# Bindings CI (called by .ci/run): builds the C ABI crate in release, builds and runs the Go
# example against its static library (installing Debian's golang-go when Go is missing; says
# clearly when it has to skip), then builds the Python module with maturin into a venv and
# runs its pytest suite. Idempotent; exits non-zero on any real failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

echo "== bindings: C ABI (release)"
cargo build --release -p opendesk-render-c
LIB="$TARGET_DIR/release/libopendesk_render_c.a"
test -f "$LIB"
test -f "$TARGET_DIR/release/libopendesk_render_c.so"

echo "== bindings: Go example (cgo, static library)"
if ! command -v go >/dev/null 2>&1; then
  echo "go not found: installing Debian's golang-go"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null) ||
      echo "warning: installing golang-go failed" >&2
  else
    echo "warning: not root; cannot apt-get install golang-go" >&2
  fi
fi
if command -v go >/dev/null 2>&1; then
  go version
  unformatted=$(gofmt -l bindings/go-example)
  if [ -n "$unformatted" ]; then
    echo "error: gofmt would change: $unformatted" >&2
    exit 1
  fi
  (
    cd bindings/go-example
    CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
      CGO_LDFLAGS="$LIB -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" \
      go build -o "$TARGET_DIR/go-example" .
  )
  summary=$("$TARGET_DIR/go-example" -threads 2)
  echo "$summary"
  grep -q '^status ok' <<<"$summary"
  grep -q '^rendered [1-9][0-9]* releases' <<<"$summary"
else
  echo "SKIPPED: Go example (no Go toolchain and golang-go could not be installed)"
fi

echo "== bindings: Python module (maturin + pytest)"
VENV="$TARGET_DIR/bindings-venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import maturin, pytest' 2>/dev/null || ! [ -x "$VENV/bin/maturin" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.5,<2' 'pytest>=8'
fi
WHEELS="$TARGET_DIR/bindings-wheels"
rm -rf "$WHEELS"
"$VENV/bin/maturin" build --release --quiet -m bindings/python/Cargo.toml -i "$VENV/bin/python" --out "$WHEELS"
wheel=$(ls "$WHEELS"/opendesk_render-*.whl)
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
set +e
(cd bindings/python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider --basetemp "$TARGET_DIR/pytest-tmp" tests)
rc=$?
rm -rf "$TARGET_DIR/pytest-tmp"
set -e
if [ "$rc" = 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
elif [ "$rc" != 0 ]; then
  echo "error: pytest failed (exit $rc)" >&2
  exit "$rc"
fi
echo "== bindings: ok"
