"""pytest for the opendesk_render module (built with maturin by bindings/ci.sh)."""

import threading
import time

import pytest

import opendesk_render as odr


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
    report = odr.render(None, out, threads=2, secrets_out=tmp_path / "secrets.json")
    assert isinstance(report, dict)
    assert report["status"] == "ok"
    assert report["exitCode"] == 0
    assert report["summary"]["releases"] > 0
    assert report["summary"]["documentsOut"] > 0
    assert report["rendererVersion"]
    assert (out / "render-meta.yaml").is_file()
    assert (tmp_path / "secrets.json").is_file()


def test_duplicate_key_raises_input_error_with_its_line(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(odr.InputError) as info:
        odr.render(bad_input(tmp_path), out)
    e = info.value
    assert isinstance(e, odr.RenderError)
    assert e.exit_code == 2
    assert e.file.endswith("cm.yaml"), e.file
    assert e.line == 7
    assert e.column is not None
    assert "duplicate key" in str(e)
    assert e.report is None
    assert not out.exists()


CONFIG = {
    "opendeskVersion": "1.13.1",
    "instance": "acme",
    "namespace": "opendesk",
    "argocd": {"repoURL": "https://git.example.org/acme.git", "path": "instances/acme"},
    "secretsManager": {"storeRef": {"kind": "ClusterSecretStore", "name": "sm"}, "keyPrefix": "acme"},
}


def test_lint_error_raises_render_failed_with_the_report(tmp_path):
    """A ConfigMap value Kubernetes would not read as a string fails lint (exit 1)."""
    templates = tmp_path / "input" / "app" / "app" / "templates"
    templates.mkdir(parents=True)
    (templates / "c.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: opendesk}\ndata:\n  enabled: yes\n"
    )
    out = tmp_path / "out"
    with pytest.raises(odr.RenderFailed) as info:
        odr.render(tmp_path / "input", out, config=CONFIG)
    e = info.value
    assert e.exit_code == 1
    assert e.report["status"] == "failed"
    assert e.report["summary"]["findings"].get("error", 0) >= 1, e.report["summary"]
    assert not out.exists()
    # explain still shows what ran before the failure
    assert odr.explain(tmp_path / "input", config=CONFIG)


def test_bad_config_text_points_into_it(tmp_path):
    with pytest.raises(odr.InputError) as info:
        odr.render(None, tmp_path / "out", config_text="instance: x\nnoSuchKey: 1\n")
    assert info.value.file == "<config>"


def test_config_and_config_text_are_exclusive(tmp_path):
    with pytest.raises(odr.InputError):
        odr.render(None, tmp_path / "out", config={"a": 1}, config_text="a: 1")


def test_explain_the_bundled_example():
    everything = odr.explain()
    assert isinstance(everything, list) and everything
    changed = next(r for r in everything if r["changes"])
    assert {"resource", "release", "file", "line", "changes"} <= changed.keys()
    one = odr.explain(resource=changed["resource"])
    assert [r["resource"] for r in one] == [changed["resource"]]
    with pytest.raises(odr.InputError, match="no resource"):
        odr.explain(resource="ConfigMap/nowhere/nothing")


def test_render_releases_the_gil(tmp_path):
    """Another Python thread runs while render() works (it could not if the GIL were held)."""
    stamps = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.0005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        time.sleep(0.01)
        t0 = time.perf_counter()
        odr.render(None, tmp_path / "out", threads=1)
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    if t1 - t0 < 0.02:
        pytest.skip(f"render took {t1 - t0:.3f}s: too fast to observe")
    inside = [s for s in stamps if t0 < s < t1]
    assert len(inside) >= 2, (t1 - t0, len(inside))


def test_version():
    assert odr.__version__
