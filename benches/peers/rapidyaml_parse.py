#!/usr/bin/env python3
"""Peer benchmark: rapidyaml (ryml) parse-only pass over a helm render corpus.

    python3 benches/peers/rapidyaml_parse.py [CORPUS_DIR]      (pip install rapidyaml)

All *.yaml files are read into memory first; then `ryml.parse_in_arena` is timed over each
file's bytes (multi-document files parse as one stream), best of 5 passes. Files that ryml
rejects are skipped (listed on stderr) and excluded from the timed set, so every pass parses
the same bytes. Output: a human line plus a final `RESULT key=value ...` line for run_all.sh.
"""
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from _corpus import corpus_dir, read_all  # noqa: E402

import ryml  # noqa: E402

RUNS = 5


def main():
    root = corpus_dir(sys.argv)
    files = read_all(root)
    ok, rejected = [], []
    for rel, data in files:
        try:
            ryml.parse_in_arena(data)
            ok.append(data)
        except Exception as e:  # ryml.ExceptionParse and friends
            rejected.append((rel, (str(e).strip().splitlines() or [type(e).__name__])[0]))
    for rel, msg in rejected:
        print(f"rapidyaml rejected {rel}: {msg}", file=sys.stderr)
    nbytes = sum(len(d) for d in ok)
    best = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for data in ok:
            ryml.parse_in_arena(data)
        best = min(best, time.perf_counter() - t0)
    mbps = nbytes / best / 1e6
    print(f"rapidyaml {ryml.__version__}: {len(ok)} files ({nbytes} bytes) parsed, "
          f"{len(rejected)} rejected; best of {RUNS}: {best * 1000:.1f} ms ({mbps:.0f} MB/s)")
    print(f"RESULT tool=rapidyaml seconds={best:.6f} files={len(ok)} rejected={len(rejected)} bytes={nbytes}")


if __name__ == "__main__":
    main()
