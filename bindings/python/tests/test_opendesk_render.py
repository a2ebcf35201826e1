"""pytest for the opendesk_render module (built with maturin by bindings/ci.sh)."""

import ast
import inspect
import json
import pathlib
import threading
import time

import pytest

import opendesk_render as odr

STAGES = ["load", "patches", "jit", "overrides", "dedup", "lint", "inventory", "eso", "redact", "guards", "validate", "output", "write"]

CONFIG = {
    "opendeskVersion": "1.13.1",
    "instance": "acme",
    "namespace": "opendesk",
    "argocd": {"repoURL": "https://git.example.org/acme.git", "path": "instances/acme"},
    "secretsManager": {"storeRef": {"kind": "ClusterSecretStore", "name": "sm"}, "keyPrefix": "acme"},
}


def bad_input(tmp_path):
    """A helmfile output dir whose one manifest repeats a key on line 7."""
    templates = tmp_path / "input" / "my-release" / "my-chart" / "templates"
    templates.mkdir(parents=True)
    (templates / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: '1'\n  a: '2'\n"
    )
    return tmp_path / "input"


def test_renders_the_bundled_example(tmp_path):
    out = tmp_path / "out"
    report = odr.render(out=out, threads=2, secrets_out=tmp_path / "secrets.json")
    assert isinstance(report, dict)
    assert report["status"] == "ok"
    assert report["exitCode"] == 0
    assert report["summary"]["releases"] > 0
    assert report["summary"]["documentsOut"] > 0
    assert report["rendererVersion"]
    assert (out / "render-meta.yaml").is_file()
    assert (tmp_path / "secrets.json").is_file()


def test_the_payload_comes_back_and_never_prints(tmp_path):
    report, payload = odr.render(out=tmp_path / "out", return_secrets=True)
    assert report["status"] == "ok"
    data = json.loads(payload.json())
    assert data["secrets"]
    values = [v for s in data["secrets"] for v in s["properties"].values() if len(v) >= 4]
    assert values
    shown = repr(payload) + str(payload) + f"{payload}" + repr(report)
    assert not any(v in shown for v in values)
    assert len(payload) == len(payload.json())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_payload_without_a_destination_raises_and_writes_nothing(tmp_path):
    with pytest.raises(odr.InputError, match="secrets_out is missing") as info:
        odr.render(out=tmp_path / "out")
    assert info.value.code == 2
    for option in ["secrets_out PATH", "return_secrets", "discard_secret_values"]:
        assert option in str(info.value), str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_dry_run_says_how_many_values_it_dropped(tmp_path):
    _, payload = odr.render(out=tmp_path / "full", return_secrets=True)
    values = sum(len(s["properties"]) for s in json.loads(payload.json())["secrets"])
    assert values > 0
    report = odr.render(out=tmp_path / "out", discard_secret_values=True)
    assert isinstance(report, dict)
    assert report["status"] == "ok"
    assert report["summary"]["secretValuesDiscarded"] == values
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "out"]
    assert (tmp_path / "out" / "render-meta.yaml").is_file()
    with pytest.raises(odr.InputError, match="discard_secret_values, not both"):
        odr.render(out=tmp_path / "x", return_secrets=True, discard_secret_values=True)
    with pytest.raises(odr.InputError, match="discard_secret_values, not both"):
        odr.render(out=tmp_path / "x", secrets_out=tmp_path / "s.json", discard_secret_values=True)
    assert not (tmp_path / "x").exists() and not (tmp_path / "s.json").exists()


def test_duplicate_key_raises_input_error_with_its_position(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(odr.InputError) as info:
        odr.render(bad_input(tmp_path), out=out, config=CONFIG, return_secrets=True)
    e = info.value
    assert isinstance(e, odr.RenderFailed)
    assert e.code == e.exit_code == 2
    assert e.stage == "load"
    assert e.file.endswith("cm.yaml"), e.file
    assert e.line == 7
    assert e.column is not None
    assert e.key_path is None
    assert "duplicate key" in str(e)
    assert e.report is None
    assert not out.exists()


def test_a_config_dict_error_names_its_key_path(tmp_path):
    bad = json.loads(json.dumps(CONFIG))
    bad["secretsManager"]["keyPrefix"] = ["not", "a", "string"]
    with pytest.raises(odr.InputError) as info:
        odr.render(out=tmp_path / "out", config=bad, return_secrets=True)
    e = info.value
    assert e.key_path == "secretsManager.keyPrefix", str(e)
    assert (e.file, e.line, e.column) == (None, None, None)
    assert "config key secretsManager.keyPrefix" in str(e)
    assert "<config>" not in str(e)

    bad = dict(CONFIG, argocd={"repoURL": "x", "pathh": "p"})
    with pytest.raises(odr.InputError) as info:
        odr.render(out=tmp_path / "out", config=bad, return_secrets=True)
    assert info.value.key_path == "argocd.pathh", str(info.value)


def test_lint_error_raises_render_failed_with_the_report(tmp_path):
    """A ConfigMap value Kubernetes would not read as a string fails lint (code 1)."""
    templates = tmp_path / "input" / "app" / "app" / "templates"
    templates.mkdir(parents=True)
    (templates / "c.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: opendesk}\ndata:\n  enabled: yes\n"
    )
    out = tmp_path / "out"
    with pytest.raises(odr.RenderFailed) as info:
        odr.render(tmp_path / "input", out=out, config=CONFIG, return_secrets=True)
    e = info.value
    assert type(e) is odr.RenderFailed
    assert e.code == 1
    assert e.stage in STAGES
    assert e.report["status"] == "failed"
    assert e.report["summary"]["findings"].get("error", 0) >= 1, e.report["summary"]
    assert not out.exists()
    # explain still shows what ran before the failure
    assert odr.explain(tmp_path / "input", config=CONFIG)


def test_bad_config_text_points_into_it(tmp_path):
    with pytest.raises(odr.InputError) as info:
        odr.render(out=tmp_path / "out", config_text="instance: x\nnoSuchKey: 1\n", return_secrets=True)
    assert info.value.file == "<config>"
    assert info.value.line


def test_exclusive_arguments(tmp_path):
    with pytest.raises(odr.InputError):
        odr.render(out=tmp_path / "out", config={"a": 1}, config_text="a: 1")
    with pytest.raises(odr.InputError):
        odr.render(out=tmp_path / "out", secrets_out=tmp_path / "s.json", return_secrets=True)
    with pytest.raises(odr.InputError):
        odr.render(out=tmp_path / "out", patches=tmp_path, no_patches=True)
    with pytest.raises(TypeError):
        odr.render(None, tmp_path / "out")  # out is keyword-only, as --out


def test_progress_events_in_order(tmp_path):
    seen = []
    report, _ = odr.render(out=tmp_path / "out", return_secrets=True, progress=seen.append)
    assert [(e["kind"], e["stage"]) for e in seen] == [(k, s) for s in STAGES for k in ("started", "finished")]
    assert all(e["total"] == len(STAGES) and e["index"] == i // 2 for i, e in enumerate(seen))
    assert seen[1]["documents"] == report["summary"]["documentsIn"]
    assert seen[-1]["documents"] == report["summary"]["documentsOut"]
    assert seen[3]["documents"] is None


def test_a_raising_progress_callable_cancels(tmp_path):
    class Stop(Exception):
        pass

    def cb(e):
        if e["stage"] == "dedup":
            raise Stop("enough")

    out = tmp_path / "out"
    with pytest.raises(odr.Cancelled) as info:
        odr.render(out=out, return_secrets=True, progress=cb)
    assert info.value.code == 4
    assert info.value.stage == "lint"  # the next stage boundary after dedup
    assert isinstance(info.value.__cause__, Stop)
    assert not out.exists()


def module_graph(tmp_path):
    """The bundled example's release graph with a module of its two databases."""
    root = pathlib.Path(__file__).resolve().parents[3]
    graph = tmp_path / "graph.yaml"
    graph.write_text((root / "examples" / "release-graph.yaml").read_text() + "\nmodules:\n  db: [mariadb, postgresql]\n")
    return graph


def test_a_module_render(tmp_path):
    report, _ = odr.render(
        out=tmp_path / "out", release_graph=module_graph(tmp_path), module=["db"], no_base=True, return_secrets=True
    )
    assert sorted(r["name"] for r in report["releases"]) == ["mariadb", "postgresql"]
    with pytest.raises(odr.InputError) as info:
        odr.render(out=tmp_path / "o2", release_graph=module_graph(tmp_path), module=["nope"], no_base=True)
    assert info.value.stage == "load"
    assert not (tmp_path / "o2").exists()


def test_explain_the_bundled_example():
    everything = odr.explain()
    assert isinstance(everything, list) and everything
    changed = next(r for r in everything if r["changes"])
    assert {"resource", "release", "file", "line", "changes"} <= changed.keys()
    one = odr.explain(resource=changed["resource"])
    assert [r["resource"] for r in one] == [changed["resource"]]
    with pytest.raises(odr.InputError, match="no resource"):
        odr.explain(resource="ConfigMap/nowhere/nothing")
    bad = dict(CONFIG, noSuchKey=1)
    with pytest.raises(odr.InputError) as info:
        odr.explain(config=bad)
    assert info.value.key_path == "noSuchKey"


def test_render_releases_the_gil(tmp_path):
    """Another Python thread runs while render() works (it could not if the GIL were held)."""
    stamps = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.0005)

    # The corpus (about 100 ms in a release build on one thread) when it is beside the repo, as
    # in CI: the bundled example renders in a few ms, too fast for the ticks to be seen.
    repo = pathlib.Path(__file__).resolve().parents[3]
    corpus = repo.parent / "shared" / "corpus" / "opendesk-like"
    if corpus.is_dir():
        args = dict(input=corpus, config=repo / "benches" / "corpus-instance.yaml")
    else:
        args = {}
    t = threading.Thread(target=tick)
    t.start()
    try:
        time.sleep(0.01)
        t0 = time.perf_counter()
        odr.render(out=tmp_path / "out", threads=1, return_secrets=True, **args)
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    if t1 - t0 < 0.02:
        pytest.skip(f"render took {t1 - t0:.3f}s: too fast to observe")
    inside = [s for s in stamps if t0 < s < t1]
    assert len(inside) >= 2, (t1 - t0, len(inside))


def test_the_stubs_match_the_module():
    """Every parameter of render/explain/plan/matrix in the module is in the stub, with the same default."""
    stub = ast.parse((pathlib.Path(__file__).parent.parent / "opendesk_render.pyi").read_text())
    stubs = {}
    for node in stub.body:
        if isinstance(node, ast.FunctionDef):
            names = [a.arg for a in node.args.args] + [a.arg for a in node.args.kwonlyargs]
            stubs.setdefault(node.name, names)
    for fn in (odr.render, odr.explain, odr.plan, odr.matrix):
        params = list(inspect.signature(fn).parameters)
        assert params == stubs[fn.__name__], (fn.__name__, params, stubs[fn.__name__])
    classes = {n.name for n in stub.body if isinstance(n, ast.ClassDef)}
    for name in ("RenderFailed", "InputError", "Cancelled", "SecretPayload"):
        assert name in classes and hasattr(odr, name)
    assert odr.RenderError is odr.RenderFailed


def test_version():
    assert odr.__version__


def test_the_upgrade_matrix_of_the_bundled_example():
    m = odr.matrix(versions=["1.12.0", "1.17.0"])
    assert m["versions"] == ["1.12.0", "1.17.0"]
    states = {c["state"] for p in m["patches"] for c in p["cells"]}
    assert {"changed", "out-of-range"} <= states, states
    ox = next(p for p in m["patches"] if p["patch"] == "ox-appsuite-ingress")
    assert ox["appliesTo"] == "<1.17.0" and ox["cells"][1]["state"] == "out-of-range"
    assert m["markdown"].startswith("| patch | 1.12.0 | 1.17.0 |") and m["text"]
    with pytest.raises(odr.InputError) as e:
        odr.matrix(versions=["1.13"])
    assert e.value.code == 2 and "not a full semver version" in e.value.message


def test_the_plan_against_an_empty_repository_and_after_a_push(tmp_path):
    import subprocess

    env = {**__import__("os").environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}

    def git(*args, cwd=tmp_path):
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    out, repo = tmp_path / "out", tmp_path / "instance.git"
    odr.render(out=out, return_secrets=True)
    git("init", "-q", "--bare", "-b", "main", str(repo))
    p = odr.plan(out, repo=str(repo), path="instances/acme")
    assert p["changed"] is True and p["base"] is None and p["counts"]["added"] > 0
    assert p["counts"]["changed"] == 0 and p["path"] == "instances/acme"
    assert "Plan: " in p["markdown"] and p["text"]
    work = tmp_path / "work"
    git("clone", "-q", str(repo), str(work))
    git("checkout", "-q", "-b", "main", cwd=work)
    (work / "instances").mkdir()
    subprocess.run(["cp", "-R", str(out), str(work / "instances" / "acme")], check=True)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "tree", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    p = odr.plan(out, repo=str(repo), path="instances/acme", timeout=60)
    assert p["changed"] is False and p["base"] and p["counts"]["added"] == 0
    with pytest.raises(odr.InputError):
        odr.plan(out, repo=str(repo), path="../elsewhere")
