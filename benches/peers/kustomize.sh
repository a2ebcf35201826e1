#!/usr/bin/env bash
# Peer benchmark: `kubectl kustomize` over a helm render corpus, with two patches.
#
#   benches/peers/kustomize.sh [CORPUS_DIR]
#   env: RUNS=3 (timed runs, best wall time reported)  KUBECTL=kubectl  KEEP_TMP=1 (keep the temp dir)
#
# What it does:
#   1. Splits every *.yaml file of the corpus into one file per document (column-0 `---` lines;
#      comment-only documents are skipped) in a temp dir, so that a document kustomize refuses
#      can be dropped on its own without losing the rest of its file.
#   2. Writes a kustomization.yaml listing all of them as `resources:` plus two patches:
#      - a JSON6902 patch on every apps/Deployment: add /spec/revisionHistoryLimit = 3
#      - a strategic merge patch on every resource (target name ".*"): add the annotation
#        opendesk.example.org/rendered-by: kustomize
#   3. Runs `kubectl kustomize` until it succeeds; each time it refuses a resource file
#      (duplicate id, missing metadata, not a k8s object ...) that file is dropped and reported.
#   4. Times RUNS runs of `kubectl kustomize DIR > /dev/null` under /usr/bin/time -v:
#      best wall time and peak RSS (max over the runs).
# The last line is `RESULT tool=kustomize seconds=... rss_kb=... docs=... dropped=...` for run_all.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
corpus="${1:-$repo/../shared/corpus/opendesk-like}"
corpus="$(cd "$corpus" && pwd)"
RUNS="${RUNS:-3}"
KUBECTL="${KUBECTL:-kubectl}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/kustomize-bench.XXXXXX")"
if [[ -z "${KEEP_TMP:-}" ]]; then trap 'rm -rf "$tmp"' EXIT; else echo "temp dir kept: $tmp" >&2; fi
mkdir -p "$tmp/res" "$tmp/patches"

# 1. one file per document; name = corpus path with / -> __, plus the document index
nfiles=0
while IFS= read -r -d '' f; do
  rel="${f#"$corpus"/}"
  flat="${rel//\//__}"
  flat="${flat%.yaml}"
  awk -v out="$tmp/res/$flat" '
    function flush() {
      if (has) { n++; fn = sprintf("%s--%03d.yaml", out, n); printf "%s", buf > fn; close(fn) }
      buf = ""; has = 0
    }
    /^---([ \t].*)?$/ { flush(); next }
    { buf = buf $0 "\n"; if ($0 !~ /^[ \t]*(#.*)?$/) has = 1 }
    END { flush() }
  ' "$f"
  nfiles=$((nfiles + 1))
done < <(find "$corpus" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | sort -z)
ndocs=$(find "$tmp/res" -type f | wc -l)

# 2. kustomization + patches
cat > "$tmp/patches/json6902-revision-history.yaml" <<'EOF'
- op: add
  path: /spec/revisionHistoryLimit
  value: 3
EOF
cat > "$tmp/patches/smp-annotation.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap          # ignored: the target selector below decides what is patched
metadata:
  name: any
  annotations:
    opendesk.example.org/rendered-by: kustomize
EOF
(cd "$tmp/res" && ls) > "$tmp/resources.txt"
write_kustomization() {
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    sed 's|^|- res/|' "$tmp/resources.txt"
    cat <<'EOF'
patches:
- path: patches/json6902-revision-history.yaml
  target: {group: apps, version: v1, kind: Deployment}
- path: patches/smp-annotation.yaml
  target: {name: ".*"}
EOF
  } > "$tmp/kustomization.yaml"
}

# 3. drop what kustomize refuses, one file at a time
: > "$tmp/dropped.txt"
write_kustomization
for _ in $(seq 1 1000); do
  if "$KUBECTL" kustomize "$tmp" > "$tmp/out.yaml" 2> "$tmp/err.txt"; then break; fi
  bad="$(grep -o "from 'res/[^']*'" "$tmp/err.txt" | head -1 | sed "s/^from 'res\///; s/'\$//")" || true
  if [[ -z "$bad" ]] || ! grep -qxF "$bad" "$tmp/resources.txt"; then
    echo "kustomize failed and the error names no resource file to drop:" >&2
    cat "$tmp/err.txt" >&2
    exit 1
  fi
  reason="$(sed -n "s/.*from 'res\/[^']*': \(.*\)': must build.*/\1/p" "$tmp/err.txt" | head -1)"
  printf '%s\t%s\n' "$bad" "${reason:-$(head -c 200 "$tmp/err.txt")}" >> "$tmp/dropped.txt"
  grep -vxF "$bad" "$tmp/resources.txt" > "$tmp/resources.new" || true
  mv "$tmp/resources.new" "$tmp/resources.txt"
  write_kustomization
done
ndropped=$(wc -l < "$tmp/dropped.txt")
nout=$(grep -c '^kind:' "$tmp/out.yaml" || true)
nannot=$(grep -c 'opendesk.example.org/rendered-by: kustomize' "$tmp/out.yaml" || true)
nrhl=$(grep -c 'revisionHistoryLimit: 3$' "$tmp/out.yaml" || true)
if (( ndropped > 0 )); then
  echo "kustomize refused $ndropped document(s) (dropped):" >&2
  sed 's/^/  /' "$tmp/dropped.txt" >&2
fi
bytes=$(find "$corpus" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | du -cb --files0-from=- | tail -1 | cut -f1)

# 4. timed runs
best=""
rss=0
for i in $(seq 1 "$RUNS"); do
  t0=$EPOCHREALTIME
  /usr/bin/time -v -o "$tmp/time.txt" "$KUBECTL" kustomize "$tmp" > /dev/null
  t1=$EPOCHREALTIME
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
  r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
  echo "  run $i: ${s}s, peak RSS ${r} KB" >&2
  if [[ -z "$best" ]] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
  if (( r > rss )); then rss=$r; fi
done

kver="$("$KUBECTL" version --client 2>/dev/null | awk -F': ' '/Kustomize/ { print $2 }')"
echo "kustomize ${kver:-?} (kubectl kustomize): $nfiles files -> $ndocs documents, $ndropped dropped, $nout in output" \
     "($nannot annotated by the SMP, $nrhl Deployments patched by JSON6902); best of $RUNS: ${best}s, peak RSS $((rss / 1024)) MB"
echo "RESULT tool=kustomize seconds=$best rss_kb=$rss files=$nfiles docs=$ndocs dropped=$ndropped out=$nout bytes=$bytes"
