#!/usr/bin/env bash
# Run the peer benchmarks (and our binary, when built) on a helm render corpus and print ratios.
#
#   benches/peers/run_all.sh [CORPUS_DIR]          peers + ours on the corpus, with ratios
#   benches/peers/run_all.sh scale [CORPUS_DIR]    time and peak RSS at 1x and 10x the corpus
#   benches/peers/run_all.sh threads [CORPUS_DIR]  ours on 1 and on 2 threads
#
# CORPUS_DIR defaults to ../shared/corpus/opendesk-like (relative to the repo root).
# env: RUNS (timed runs of our binary, best wall time; default 3), SKIP="kustomize pyyaml" (peers to
#      skip), SCALE=10 (replication factor of the scale mode), OURS_BIN, OURS_CONFIG, OURS_CMD (below),
#      OUT_ROOT (where our output trees are written; default /dev/shm when writable, else TMPDIR:
#      creating ~800 files costs 50-100 ms of kernel time on this machine's ext4, which is the
#      file system's, not the pipeline's; OUT_ROOT=/tmp measures it).
#
# The peer scripts print a final `RESULT tool=... seconds=...` line; this script collects them.
# Build our binary first: cargo build --release -p opendesk-steps
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

mode=peers
if [[ "${1:-}" == "scale" ]]; then mode=scale; shift; fi
if [[ "${1:-}" == "threads" ]]; then mode=threads; shift; fi
corpus="${1:-$repo/../shared/corpus/opendesk-like}"
corpus="$(cd "$corpus" && pwd)"
RUNS="${RUNS:-3}"
SKIP="${SKIP:-}"
SCALE="${SCALE:-10}"

# ============================================================================================
# OURS_CMD: how our own binary is run. It is eval'ed once per timed run with these set:
#   $CORPUS  the input dir        $OUT  a fresh, not yet existing output dir
#   $OURS_BIN, $OURS_CONFIG       (overridable from the environment)
# The secrets payload goes beside $OUT (never inside it). This is DESIGN §9's bar: the full
# pipeline with every patch, every stage, a secrets manager, the tree written (fsync skipped:
# OPENDESK_RENDER_FSYNC=0, the disk's latency is not the pipeline's).
OURS_BIN="${OURS_BIN:-$repo/target/release/opendesk-render}"
OURS_CONFIG="${OURS_CONFIG:-$repo/benches/corpus-instance.yaml}"
if [[ -z "${OURS_CMD:-}" ]]; then
  OURS_CMD='env OPENDESK_RENDER_FSYNC=0 "$OURS_BIN" render "$CORPUS" --out "$OUT" --config "$OURS_CONFIG" --secrets-out "$OUT.secrets.json"'
fi
# ============================================================================================

tmp="$(mktemp -d "${TMPDIR:-/tmp}/peers-bench.XXXXXX")"
if [[ -z "${OUT_ROOT:-}" ]]; then
  if [[ -d /dev/shm && -w /dev/shm ]]; then OUT_ROOT=/dev/shm; else OUT_ROOT=$tmp; fi
fi
outs="$(mktemp -d "$OUT_ROOT/peers-out.XXXXXX")"
trap 'rm -rf "$tmp" "$outs"' EXIT
echo "our output trees go to $outs ($(stat -f -c %T "$outs" 2>/dev/null || echo '?'))" >&2

field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" | tail -1; }
skipped() { [[ " $SKIP " == *" $1 "* ]]; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }
corpus_bytes() { find "$1" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | du -cb --files0-from=- | tail -1 | cut -f1; }

# run_peer NAME CMD... -> sets PEER_S (best seconds) and PEER_RSS (peak RSS KB of the whole script)
run_peer() {
  local name=$1; shift
  echo "== $name" >&2
  /usr/bin/time -v -o "$tmp/$name.time" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || {
    echo "$name failed:" >&2; cat "$tmp/$name.err" >&2; return 1; }
  grep -v '^RESULT' "$tmp/$name.out" >&2 || true
  grep -E 'rejected|refused|dropped' "$tmp/$name.err" | grep -v '^  run' | head -5 >&2 || true
  PEER_S=$(field seconds < "$tmp/$name.out")
  PEER_RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/$name.time")
}

# run_ours CORPUS -> sets OURS_S (best of RUNS) and OURS_RSS (max peak RSS KB); returns 1 if absent
run_ours() {
  local CORPUS=$1 OUT i t0 t1 s r
  [[ -x "$OURS_BIN" ]] || { echo "== ours: $OURS_BIN not built (cargo build --release -p opendesk-steps); skipped" >&2; return 1; }
  OURS_S=""; OURS_RSS=0
  for i in $(seq 1 "$RUNS"); do
    OUT="$outs/ours-out-$i"
    rm -rf "$OUT" "$OUT.secrets.json"
    t0=$EPOCHREALTIME
    if ! eval "/usr/bin/time -v -o \"\$tmp/ours.time\" $OURS_CMD" > "$tmp/ours.log" 2>&1; then
      echo "== ours failed (OURS_CMD=$OURS_CMD):" >&2; tail -20 "$tmp/ours.log" >&2; return 1
    fi
    t1=$EPOCHREALTIME
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/ours.time")
    echo "   ours run $i: $(ms "$s"), peak RSS $(mb "$r")" >&2
    if [[ -z "$OURS_S" ]] || awk -v a="$s" -v b="$OURS_S" 'BEGIN { exit !(a < b) }'; then OURS_S=$s; fi
    if (( r > OURS_RSS )); then OURS_RSS=$r; fi
    rm -rf "$OUT" "$OUT.secrets.json"
  done
}

if [[ $mode == peers ]]; then
  bytes=$(corpus_bytes "$corpus")
  echo "corpus: $corpus ($bytes bytes of YAML)"
  declare -A T R
  if ! skipped rapidyaml; then run_peer rapidyaml python3 "$here/rapidyaml_parse.py" "$corpus"; T[rapidyaml]=$PEER_S; R[rapidyaml]=$PEER_RSS; fi
  if ! skipped pyyaml; then run_peer pyyaml python3 "$here/pyyaml_roundtrip.py" "$corpus"; T[pyyaml]=$PEER_S; R[pyyaml]=$PEER_RSS; fi
  if ! skipped kustomize; then run_peer kustomize env RUNS="$RUNS" "$here/kustomize.sh" "$corpus"; T[kustomize]=$PEER_S; R[kustomize]=$(field rss_kb < "$tmp/kustomize.out"); fi
  have_ours=0
  if ! skipped ours && run_ours "$corpus"; then have_ours=1; T[ours]=$OURS_S; R[ours]=$OURS_RSS; fi

  echo
  printf '%-12s %12s %12s   %s\n' tool time "peak RSS" "(RSS of the python peers is the whole script, all files held in memory)"
  for k in ours rapidyaml pyyaml kustomize; do
    [[ -n "${T[$k]:-}" ]] && printf '%-12s %12s %12s\n' "$k" "$(ms "${T[$k]}")" "$(mb "${R[$k]}")"
  done
  echo
  if (( have_ours )); then
    [[ -n "${T[rapidyaml]:-}" ]] && echo "ours / rapidyaml parse-only : $(ratio "${T[ours]}" "${T[rapidyaml]}")   (issue #9: <= 3; DESIGN §9: < 1)"
    [[ -n "${T[pyyaml]:-}" ]]    && echo "pyyaml load+dump / ours    : $(ratio "${T[pyyaml]}" "${T[ours]}")   (DESIGN §9: >= 50)"
    [[ -n "${T[kustomize]:-}" ]] && echo "kustomize / ours           : $(ratio "${T[kustomize]}" "${T[ours]}")   (issue #9: >= 30)"
    echo "ours peak RSS / input size : $(ratio "$((R[ours] * 1024))" "$bytes")   (DESIGN §9: <= 4)"
    echo "ours peak RSS - 4 x input  : $(awk -v r="${R[ours]}" -v b="$bytes" 'BEGIN { printf "%.1f MB", (r * 1024 - 4 * b) / 1e6 }')   (issue #9: <= 30 MB)"
  else
    [[ -n "${T[rapidyaml]:-}" && -n "${T[pyyaml]:-}" ]] && echo "pyyaml / rapidyaml     : $(ratio "${T[pyyaml]}" "${T[rapidyaml]}")"
    [[ -n "${T[rapidyaml]:-}" && -n "${T[kustomize]:-}" ]] && echo "kustomize / rapidyaml  : $(ratio "${T[kustomize]}" "${T[rapidyaml]}")"
    echo "(our binary not measured: no ratios against ours)"
  fi
  exit 0
fi

# ---- threads mode: ours on 1 and on 2 worker threads (RAYON_NUM_THREADS), same corpus ----
# The runs alternate (1, 2, 1, 2, ...): this VM's speed drifts over seconds, and two blocks of
# runs one after the other measured the drift as much as the threads.
if [[ $mode == threads ]]; then
  s1=(); s2=()
  for i in $(seq 1 "$RUNS"); do
    RAYON_NUM_THREADS=1 RUNS=1 run_ours "$corpus" || exit 1; s1+=("$OURS_S")
    RAYON_NUM_THREADS=2 RUNS=1 run_ours "$corpus" || exit 1; s2+=("$OURS_S")
  done
  best_and_median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%s %s", a[1], a[int((NR + 1) / 2)] }'; }
  read -r t1 m1 <<< "$(best_and_median "${s1[@]}")"
  read -r t2 m2 <<< "$(best_and_median "${s2[@]}")"
  echo "ours 1 thread: $(ms "$t1"), 2 threads: $(ms "$t2"), speed-up $(ratio "$t1" "$t2")   (best of $RUNS each, alternating; issue #9: >= 1.6)"
  echo "medians: 1 thread $(ms "$m1"), 2 threads $(ms "$m2"), speed-up $(ratio "$m1" "$m2")"
  exit 0
fi

# ---- scale mode: 1x = the corpus, Nx = every release folder copied N times as <release>-r<i> ----
big="$tmp/corpus-x$SCALE"
mkdir -p "$big"
for d in "$corpus"/*/; do
  d="${d%/}"; rel="$(basename "$d")"
  for i in $(seq 1 "$SCALE"); do cp -r "$d" "$big/$rel-r$i"; done
done
b1=$(corpus_bytes "$corpus"); bN=$(corpus_bytes "$big")
echo "scale: 1x = $corpus ($b1 bytes), ${SCALE}x = $bN bytes ($(find "$big" -mindepth 1 -maxdepth 1 -type d | wc -l) release folders)"
echo "(kustomize is not scaled: the copies repeat every resource id, so it would drop 9 of 10 copies)"
printf '%-10s %14s %14s %10s %14s %14s %14s\n' tool "time 1x" "time ${SCALE}x" ratio "RSS 1x" "RSS ${SCALE}x" "RSS ${SCALE}x/input"
scale_row() {  # name t1 tN r1 rN
  printf '%-10s %14s %14s %10s %14s %14s %14s\n' "$1" "$(ms "$2")" "$(ms "$3")" "$(ratio "$3" "$2")" "$(mb "$4")" "$(mb "$5")" "$(ratio "$(( $5 * 1024 ))" "$bN")"
}
if ! skipped ours && run_ours "$corpus"; then
  t1=$OURS_S; r1=$OURS_RSS
  if run_ours "$big"; then scale_row ours "$t1" "$OURS_S" "$r1" "$OURS_RSS"; fi
fi
for p in rapidyaml pyyaml; do
  skipped "$p" && continue
  script="$here/rapidyaml_parse.py"; [[ $p == pyyaml ]] && script="$here/pyyaml_roundtrip.py"
  run_peer "$p" python3 "$script" "$corpus"; t1=$PEER_S; r1=$PEER_RSS
  run_peer "$p" python3 "$script" "$big"; scale_row "$p" "$t1" "$PEER_S" "$r1" "$PEER_RSS"
done
echo "(bars for ours, DESIGN §9: ${SCALE}x time <= 11x the 1x time; peak RSS <= 4x input size)"
