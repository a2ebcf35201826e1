#!/usr/bin/env bash
# Fill fuzz/corpus/<target>/ with small seeds from the repository (idempotent; run.sh calls it).
# The corpus itself is not committed (fuzz/.gitignore); the seeds are rebuilt from these sources.
set -euo pipefail
cd "$(dirname "$0")"
root=..
corpus=corpus
mkdir -p "$corpus"/{loader,fast_path,patch_file,instance_config,release_graph,jsonpath}

seed() { # seed TARGET FILE: copy FILE (at most 16 KiB of it) under a content-derived name
  local t=$1 f=$2
  local h
  h=$(head -c 16384 "$f" | sha1sum | cut -c1-16)
  [ -e "$corpus/$t/seed-$h" ] || head -c 16384 "$f" >"$corpus/$t/seed-$h"
}

# Loader: every file of the bundled example, a sample of the shared corpus, fixtures' inputs.
while IFS= read -r f; do seed loader "$f"; done < <(find "$root/examples/helmfile-output" -name '*.yaml' | sort)
while IFS= read -r f; do seed loader "$f"; done < <(find "$root/runtime-patches/fixtures" -name 'input.yaml' | sort)
if [ -d "$root/../shared/corpus/opendesk-like" ]; then
  while IFS= read -r f; do seed loader "$f"; done < <(find "$root/../shared/corpus/opendesk-like" -name '*.yaml' -size -8k | sort | awk 'NR % 12 == 0')
fi
# Hand-written loader seeds: the shapes the hostile suite uses, small.
printf 'a: &a [x, y]\nb: [*a, *a]\nc:\n  <<: {k: v}\n  d: 1\n' >"$corpus/loader/hand-anchors"
printf -- '--- !!map\n? a\n: b\n...\n---\n# c\n- "q\\t"\n- |+\n  lit\n\n- >-\n  fold\n' >"$corpus/loader/hand-markers"
printf 'k: "unclosed\n' >"$corpus/loader/hand-unclosed"
printf 'k: [a, {b: c}\n' >"$corpus/loader/hand-unclosed-flow"
printf 'a:\n\tb: 1\n' >"$corpus/loader/hand-tab"
printf "a: 'it''s'\nb: !!binary aGk=\nc: 0644\nd: on\ne: ~\n" >"$corpus/loader/hand-scalars"
# Fast path: the loader's seeds (the differential check wants the same shapes).
cp -n "$corpus"/loader/* "$corpus/fast_path/"

# Patch files: every rendered patch.
while IFS= read -r f; do seed patch_file "$f"; done < <(find "$root/runtime-patches/rendered-patches" -name '*.yaml' | sort)
# Instance configs.
seed instance_config "$root/examples/instance.yaml"
seed instance_config "$root/benches/corpus-instance.yaml"
printf 'opendeskVersion: 1.13.1\ninstance: a\nnamespace: b\n' >"$corpus/instance_config/hand-minimal"
# Release graphs.
seed release_graph "$root/examples/release-graph.yaml"
seed release_graph "$root/release-graph.yaml"
printf 'waves:\n  - name: a\n    releases: [x]\n  - name: b\n    syncWave: 5\n    releases: [y]\nneeds:\n  y: [x]\n' >"$corpus/release_graph/hand-small"
# JSONPaths: every `path:` of the patch set, one per file.
n=0
grep -rhoE 'path: "([^"\\]|\\.)*"' "$root/runtime-patches/rendered-patches" | sed -E 's/^path: "(.*)"$/\1/; s/\\\\/\\/g' | sort -u |
  while IFS= read -r p; do n=$((n + 1)); printf '%s' "$p" >"$corpus/jsonpath/seed-$(printf '%s' "$p" | sha1sum | cut -c1-16)"; done
for p in '$' '$.a.b[0]' "\$['a','b'][*]" '$..x[-1:0:-2]' '$[?@.a == 1 && (@.b || !@.c)]' "\$[?match(@.n, 'a.*')]" '$.spec.template.spec.containers[?@.name == "web"].image'; do
  printf '%s' "$p" >"$corpus/jsonpath/hand-$(printf '%s' "$p" | sha1sum | cut -c1-16)"
done
for t in loader fast_path patch_file instance_config release_graph jsonpath; do
  echo "seeds: $t $(ls "$corpus/$t" | wc -l)"
done
