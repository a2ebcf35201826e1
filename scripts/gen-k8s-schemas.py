#!/usr/bin/env python3
"""Generate opendesk-render/schemas/kubernetes.json from the kubernetes-validate wheel.

The PyPI package `kubernetes-validate` (Apache-2.0, https://github.com/willthames/kubernetes-validate)
ships strict JSON schemas per Kubernetes minor version, generated from the official OpenAPI spec.
This script keeps what the validator in `opendesk-render/src/validate/` reads (types, properties,
required, additionalProperties, items, formats, refs, list types, apiVersion/kind pairs), drops
descriptions and patch-strategy hints, and stores each distinct definition once across versions.

Usage (needs network once, for pip):
    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    python3 scripts/gen-k8s-schemas.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl 1.30 1.31 1.32
Adding a version: append it to the command line (it must exist in the wheel) and rerun.
"""
import hashlib
import json
import sys
import zipfile

OUT = "opendesk-render/schemas/kubernetes.json"
KEEP_EXT = {
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
}
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"x-kind": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"x-kind": "quantity"},
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": {},
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": {},
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {},
}
PREFIX = "#/$defs/"


def compact(s):
    """One schema node, compacted."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "description" or k.startswith("x-kubernetes-patch") or k in ("x-kubernetes-group-version-kind", "x-kubernetes-unions", "x-kubernetes-map-type"):
            continue
        if k == "type":
            ts = v if isinstance(v, list) else [v]
            ts = [t for t in ts if t != "null"]
            if len(ts) == 1:
                out["type"] = ts[0]
            elif ts:
                out["type"] = ts
        elif k == "$ref":
            assert v.startswith(PREFIX), v
            out["$ref"] = v[len(PREFIX):]
        elif k == "properties":
            out[k] = {p: compact(x) for p, x in sorted(v.items())}
        elif k in ("items", "additionalProperties"):
            out[k] = compact(v)
        elif k in ("required", "enum", "format") or k in KEEP_EXT:
            out[k] = v
        elif k.startswith("x-kubernetes"):
            continue
        else:
            raise SystemExit(f"unexpected schema keyword {k!r}")
    return out


def main():
    wheel, versions = sys.argv[1], sys.argv[2:]
    z = zipfile.ZipFile(wheel)
    wheel_version = wheel.rsplit("/", 1)[-1].split("-")[1]
    defs, index = [], {}
    out_versions = {}
    for ver in versions:
        path = f"kubernetes_validate/kubernetes-json-schema/v{ver}.0-local-strict/_definitions.json"
        raw = json.loads(z.read(path))["$defs"]
        names, gvks = {}, []
        for name in sorted(raw):
            s = raw[name]
            c = SPECIAL[name] if name in SPECIAL else compact(s)
            text = json.dumps(c, sort_keys=True, separators=(",", ":"))
            h = hashlib.sha256(text.encode()).hexdigest()
            if h not in index:
                index[h] = len(defs)
                defs.append(c)
            names[name] = index[h]
            for g in s.get("x-kubernetes-group-version-kind", []):
                api = g["version"] if not g["group"] else f'{g["group"]}/{g["version"]}'
                gvks.append([api, g["kind"], name])
        gvks.sort()
        out_versions[ver] = {"defs": names, "kinds": gvks}
    doc = {
        "source": f"kubernetes-validate {wheel_version} (PyPI), kubernetes-json-schema v<minor>.0-local-strict/_definitions.json, generated from the Kubernetes OpenAPI spec",
        "licence": "Apache-2.0 (kubernetes-validate, Kubernetes)",
        "generator": "scripts/gen-k8s-schemas.py",
        "versions": out_versions,
        "defs": defs,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, sort_keys=False, separators=(",", ":"))
        f.write("\n")
    print(f"{OUT}: {len(defs)} distinct definitions for {', '.join(versions)}")


main()
