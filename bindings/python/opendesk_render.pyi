"""Render openDesk helmfile output into GitOps-ready manifests (Rust, via pyo3)."""

import os
from typing import Any

__version__: str

_Path = str | os.PathLike[str]

class RenderError(Exception):
    """A render or explain that produced no result."""

    exit_code: int
    """1 guard/lint failure, 2 bad input, 3 internal error."""
    message: str
    file: str | None
    line: int | None
    column: int | None
    report: dict[str, Any] | None

class InputError(RenderError):
    """Bad input, config, patches or arguments (exit code 2)."""

class RenderFailed(RenderError):
    """A guard or lint error failed the render (exit code 1); ``report`` says why."""

def render(
    input_dir: _Path | None,
    out_dir: _Path,
    config: _Path | dict[str, Any] | None = None,
    patches: _Path | None = None,
    release_graph: _Path | None = None,
    secrets_out: _Path | None = None,
    threads: int | None = None,
    *,
    config_text: str | None = None,
    no_patches: bool = False,
) -> dict[str, Any]:
    """Render ``input_dir`` (None: the bundled example) into ``out_dir``; the report as a dict."""

def explain(
    input_dir: _Path | None = None,
    config: _Path | dict[str, Any] | None = None,
    patches: _Path | None = None,
    resource: str | None = None,
    release_graph: _Path | None = None,
    threads: int | None = None,
    *,
    config_text: str | None = None,
    no_patches: bool = False,
) -> list[dict[str, Any]]:
    """What changed each resource: ``[{resource, release, file, line, changes}]``."""
