#!/usr/bin/env python3
"""Independent YAML 1.1 check: are the emitted files semantically equal to the originals?

    python3 tests/pyyaml_semantic.py ORIGINAL_DIR EMITTED_DIR [--pure] [--max-report N]

For every *.yaml / *.yml file under ORIGINAL_DIR (recursive), the file at the same relative path
under EMITTED_DIR is loaded too. Both are read with PyYAML's SafeLoader, which resolves scalars
with YAML 1.1 rules as Kubernetes does (`0644` is 420, `on`/`yes` are booleans); the plain
scalar `=` (YAML 1.1 `tag:yaml.org,2002:value`) loads as the string "=". None and empty
documents are dropped, then the two lists of documents are compared. Types are compared
strictly (True is not 1, 1 is not 1.0); mapping key order is ignored.

Prints one line per failing file (its path, the document and the first differing path inside
it), then `N passed, M failed`. Exit code 1 when anything failed (a missing emitted file, a load
error or a difference), 2 on bad usage.

By default the libyaml-based CSafeLoader is used when PyYAML has it (same YAML 1.1 resolver and
constructors as SafeLoader, C parser); `--pure` forces the pure-Python SafeLoader.
"""
import argparse
import math
import os
import sys

import yaml


def make_loader(pure):
    base = yaml.SafeLoader if pure or not getattr(yaml, "__with_libyaml__", False) else yaml.CSafeLoader

    class Loader(base):
        pass

    # YAML 1.1 resolves a plain `=` to the "value" key type, which SafeLoader cannot construct.
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    return Loader


def yaml_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".yaml", ".yml")):
                yield os.path.relpath(os.path.join(dirpath, f), root)


def load_docs(path, loader):
    with open(path, "rb") as fh:
        docs = list(yaml.load_all(fh, Loader=loader))
    return [d for d in docs if not (d is None or (isinstance(d, (dict, list, str)) and len(d) == 0))]


def short(v, limit=80):
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def key_path(path, key):
    if isinstance(key, str) and key.replace("_", "").replace("-", "").isalnum() and "." not in key:
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def first_diff(a, b, path="$"):
    """None when equal, else (path, description) of the first difference (depth first)."""
    if type(a) is not type(b):
        return path, f"{type(a).__name__} {short(a)} != {type(b).__name__} {short(b)}"
    if isinstance(a, dict):
        for k in a:
            if k not in b:
                return key_path(path, k), "missing in emitted"
            d = first_diff(a[k], b[k], key_path(path, k))
            if d:
                return d
        for k in b:
            if k not in a:
                return key_path(path, k), f"extra in emitted: {short(b[k])}"
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return path, f"list length {len(a)} != {len(b)}"
        return None
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return None
    if a != b:
        return path, f"{short(a)} != {short(b)}"
    return None


def describe(doc, i):
    if isinstance(doc, dict):
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        kind, name = doc.get("kind"), meta.get("name")
        if kind or name:
            return f"doc {i} ({kind}/{name})"
    return f"doc {i}"


def compare_file(orig, emitted, loader):
    """None when equal, else a one-line reason."""
    if not os.path.isfile(emitted):
        return "missing in emitted dir"
    try:
        a = load_docs(orig, loader)
    except yaml.YAMLError as e:
        return "original does not load: " + " ".join(str(e).split())
    try:
        b = load_docs(emitted, loader)
    except yaml.YAMLError as e:
        return "emitted does not load: " + " ".join(str(e).split())
    for i, (x, y) in enumerate(zip(a, b)):
        d = first_diff(x, y)
        if d:
            return f"{describe(x, i)} at {d[0]}: {d[1]}"
    if len(a) != len(b):
        return f"document count {len(a)} != {len(b)}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("original_dir")
    ap.add_argument("emitted_dir")
    ap.add_argument("--pure", action="store_true", help="use the pure-Python SafeLoader")
    ap.add_argument("--max-report", type=int, default=200, help="print at most N failing files (default 200)")
    args = ap.parse_args()
    for d in (args.original_dir, args.emitted_dir):
        if not os.path.isdir(d):
            print(f"not a directory: {d}", file=sys.stderr)
            return 2
    loader = make_loader(args.pure)
    passed = failed = 0
    for rel in yaml_files(args.original_dir):
        why = compare_file(os.path.join(args.original_dir, rel), os.path.join(args.emitted_dir, rel), loader)
        if why is None:
            passed += 1
        else:
            failed += 1
            if failed <= args.max_report:
                print(f"FAIL {rel}: {why}")
    if failed > args.max_report:
        print(f"... {failed - args.max_report} more failing files not shown")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
