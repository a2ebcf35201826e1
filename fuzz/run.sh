#!/usr/bin/env bash
# Run a fuzz target for a number of seconds, keeping its corpus in fuzz/corpus/<target>.
#
#   fuzz/run.sh TARGET SECONDS       # one of: loader fast_path patch_file instance_config release_graph jsonpath
#   fuzz/run.sh all SECONDS          # every target, one after the other, SECONDS each
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the nightly flags it needs (sanitizer coverage). Crashes land in
# fuzz/artifacts/<target>/; copy each (minimized: `cargo fuzz tmin TARGET FILE`) to
# fuzz/regressions/<target>/ so `cargo test -p opendesk-e2e --test fuzz_regressions` keeps it.
# Env: SANITIZER (default none; `address` is slower and only helps unsafe code), JOBS (1),
# RSS_MB (libFuzzer -rss_limit_mb, default 2048), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")"
targets=(loader fast_path patch_file instance_config release_graph jsonpath)
if [ $# -ne 2 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
target=$1 secs=$2
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do "$0" "$t" "$secs"; done
  exit 0
fi
case " ${targets[*]} " in *" $target "*) ;; *) echo "unknown target $target (one of: ${targets[*]} all)" >&2; exit 2 ;; esac
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
export RUSTC_BOOTSTRAP=1
./seed.sh >/dev/null
mkdir -p "artifacts/$target" logs
case "$target" in
  loader | patch_file) max_len=65536 ;;
  jsonpath) max_len=512 ;;
  *) max_len=16384 ;;
esac
timeout=10
[ "$target" = jsonpath ] && timeout=2 # one path must compile in far less
jobs=
[ "${JOBS:-1}" -gt 1 ] && jobs="-jobs=$JOBS -workers=$JOBS"
start=$(date +%s)
set +e
# shellcheck disable=SC2086
cargo fuzz run -s "${SANITIZER:-none}" "$target" "corpus/$target" -- \
  -max_total_time="$secs" -max_len="$max_len" -timeout="$timeout" -rss_limit_mb="${RSS_MB:-2048}" \
  -print_final_stats=1 $jobs ${FUZZ_ARGS:-} 2>&1 | tee "logs/$target-$(date +%Y%m%dT%H%M%S).log" | grep -E --line-buffered 'DONE|INFO: seed|Done |stat::|==|panicked|SUMMARY|Test unit written|artifact_prefix|ERROR|Crash|crash|deadly|timeout|oom|-rss'
rc=${PIPESTATUS[0]}
set -e
echo "$target: ran $(( $(date +%s) - start ))s, exit $rc, corpus $(ls "corpus/$target" | wc -l) inputs" | tee -a logs/summary.txt
exit "$rc"
