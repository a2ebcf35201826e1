#!/usr/bin/env python3
"""Peer benchmark: PyYAML (libyaml C bindings) load + dump of a helm render corpus.

    python3 benches/peers/pyyaml_roundtrip.py [CORPUS_DIR]

All *.yaml files are read into memory first; one pass is `yaml.load_all(CSafeLoader)` of every
file followed by `yaml.dump_all(CSafeDumper)` of its documents (to a string), best of 3 passes.
A plain `=` scalar (YAML 1.1 `tag:yaml.org,2002:value`) loads as the string "=". Files PyYAML
rejects are skipped (listed on stderr). Final `RESULT key=value ...` line for run_all.sh.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _corpus import corpus_dir, read_all  # noqa: E402

import yaml  # noqa: E402

RUNS = 3
Loader = yaml.CSafeLoader
Dumper = yaml.CSafeDumper


class RoundtripLoader(Loader):
    pass


RoundtripLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def roundtrip(data):
    docs = list(yaml.load_all(data, Loader=RoundtripLoader))
    return yaml.dump_all(docs, Dumper=Dumper)


def main():
    root = corpus_dir(sys.argv)
    files = read_all(root)
    ok, rejected = [], []
    for rel, data in files:
        try:
            roundtrip(data)
            ok.append(data)
        except yaml.YAMLError as e:
            rejected.append((rel, str(e).splitlines()[0]))
    for rel, msg in rejected:
        print(f"pyyaml rejected {rel}: {msg}", file=sys.stderr)
    nbytes = sum(len(d) for d in ok)
    best = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for data in ok:
            roundtrip(data)
        best = min(best, time.perf_counter() - t0)
    print(f"pyyaml {yaml.__version__} (libyaml {yaml.__with_libyaml__}): {len(ok)} files ({nbytes} bytes) "
          f"load+dump, {len(rejected)} rejected; best of {RUNS}: {best * 1000:.0f} ms ({nbytes / best / 1e6:.1f} MB/s)")
    print(f"RESULT tool=pyyaml seconds={best:.6f} files={len(ok)} rejected={len(rejected)} bytes={nbytes}")


if __name__ == "__main__":
    main()
