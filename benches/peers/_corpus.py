"""Shared helpers for the peer benchmarks: locate the corpus and read it into memory."""
import os
import sys

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_CORPUS = os.path.join(REPO_ROOT, "..", "shared", "corpus", "opendesk-like")


def corpus_dir(argv):
    d = argv[1] if len(argv) > 1 else DEFAULT_CORPUS
    d = os.path.abspath(d)
    if not os.path.isdir(d):
        sys.exit(f"corpus dir not found: {d}")
    return d


def yaml_files(root):
    """All *.yaml / *.yml files under root, sorted for a stable order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".yaml", ".yml")):
                out.append(os.path.join(dirpath, f))
    return out


def read_all(root):
    """[(relative path, bytes)] for every YAML file, read before any timing starts."""
    return [(os.path.relpath(p, root), open(p, "rb").read()) for p in yaml_files(root)]
