#!/usr/bin/env bash
# Bindings CI (called by .ci/run; runs on its own too): builds the C ABI crate, compiles and
# runs the C test against its static library, runs `go test ./...` in the Go package
# (installing Debian's golang-go when Go is missing), then builds the Python wheel with
# maturin, installs it into a venv and runs its pytest suite. Idempotent; exits non-zero on
# any real failure. bindings/README.md shows these same commands.
#
# ODR_BINDINGS_PROFILE=debug uses debug builds of the C library (and the Go package's
# opendeskrender_debug tag) for iterating; CI uses the default, release.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
ROOT=$PWD
PROFILE=${ODR_BINDINGS_PROFILE:-release}

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
SCRATCH=$(mktemp -d "$TARGET_DIR/bindings-ci.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

echo "== bindings: C ABI ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release -p opendesk-render-c
  LIBDIR="$TARGET_DIR/release"
  GO_TAGS=""
else
  cargo build -p opendesk-render-c
  LIBDIR="$TARGET_DIR/debug"
  GO_TAGS="opendeskrender_debug"
fi
LIB="$LIBDIR/libopendesk_render_c.a"
test -f "$LIB"
test -f "$LIBDIR/libopendesk_render_c.so"
# What Rust's std needs besides the archive (the Go package's LDFLAGS name the same).
NATIVE_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

echo "== bindings: C test (static library)"
cc -std=c11 -Wall -Wextra -Werror -I bindings/c/include bindings/c/tests/c/render_test.c \
  "$LIB" $NATIVE_LIBS -o "$SCRATCH/c-render-test"
mkdir "$SCRATCH/c"
"$SCRATCH/c-render-test" "$SCRATCH/c"

echo "== bindings: Go package (cgo, static library)"
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
  unformatted=$(gofmt -l bindings/go)
  if [ -n "$unformatted" ]; then
    echo "error: gofmt would change: $unformatted" >&2
    exit 1
  fi
  # No module downloads (the package has no dependencies); Go's caches live in the scratch
  # dir unless the caller has its own.
  export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=1
  export GOCACHE=${GOCACHE:-$TARGET_DIR/go-cache} GOPATH=${GOPATH:-$TARGET_DIR/go-path}
  if [ "$TARGET_DIR" != "$ROOT/target" ]; then
    # The package's default LDFLAGS name $ROOT/target: point them at this target dir instead.
    GO_TAGS="opendeskrender_external"
    export CGO_LDFLAGS="$LIB $NATIVE_LIBS"
  fi
  (
    cd bindings/go/opendeskrender
    go vet -tags "$GO_TAGS" ./...
    TMPDIR="$SCRATCH" go test -count=1 -tags "$GO_TAGS" ./...
  )
else
  echo "error: no Go toolchain and golang-go could not be installed" >&2
  exit 1
fi

echo "== bindings: Python wheel (maturin + pytest)"
VENV="$TARGET_DIR/bindings-venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import maturin, pytest' 2>/dev/null || ! [ -x "$VENV/bin/maturin" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.5,<2' 'pytest>=8'
fi
WHEELS="$SCRATCH/wheels"
maturin_profile=(--release)
if [ "$PROFILE" != release ]; then
  maturin_profile=()
fi
"$VENV/bin/maturin" build "${maturin_profile[@]}" --quiet -m bindings/python/Cargo.toml -i "$VENV/bin/python" --out "$WHEELS"
wheel=$(ls "$WHEELS"/opendesk_render-*.whl)
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
set +e
(cd bindings/python && "$VENV/bin/python" -m pytest -q -p no:cacheprovider --basetemp "$SCRATCH/pytest" tests)
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
elif [ "$rc" != 0 ]; then
  echo "error: pytest failed (exit $rc)" >&2
  exit "$rc"
fi
echo "== bindings: ok"
