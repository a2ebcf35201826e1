"""Render openDesk helmfile output into GitOps-ready manifests (Rust, via pyo3).

Kept in step with src/lib.rs by tests/test_opendesk_render.py (signatures and attributes).
"""

import os
from typing import Any, Callable, Literal, TypedDict, overload

__version__: str

_Path = str | os.PathLike[str]

class Event(TypedDict):
    """A progress event: a stage started or finished. Names and counts, never values."""

    kind: Literal["started", "finished"]
    stage: str
    """load, patches, jit, overrides, dedup, lint, inventory, eso, redact, guards, validate, output, write"""
    index: int
    total: int
    ms: float
    """finished: the stage's wall-clock milliseconds; started: 0"""
    documents: int | None
    """finished load: documents loaded; finished write: resources written; else None"""

class RenderFailed(Exception):
    """A render or explain that wrote nothing."""

    code: int
    """1 a guard or lint error failed it, 2 bad input, 3 internal error, 4 cancelled."""
    exit_code: int
    """The same as ``code``."""
    stage: str | None
    """The stage it failed in; None when the arguments themselves were bad."""
    message: str
    file: str | None
    line: int | None
    column: int | None
    key_path: str | None
    """For a config given as a dict: the key path of the error (``secretsManager.keyPrefix``;
    ``""`` for the top level)."""
    report: dict[str, Any] | None
    """The report, for code 1."""

RenderError = RenderFailed

class InputError(RenderFailed):
    """Bad input, config, patches or arguments (code 2)."""

class Cancelled(RenderFailed):
    """The progress callable raised (its exception is ``__cause__``); code 4."""

class SecretPayload:
    """The decoded Secret payload; repr/str show its length only."""

    def json(self) -> str:
        """The payload as JSON text (the ``--secrets-out`` format)."""
    def __len__(self) -> int: ...

@overload
def render(
    input: _Path | None = None,
    *,
    out: _Path,
    config: _Path | dict[str, Any] | None = None,
    patches: _Path | None = None,
    no_patches: bool = False,
    release_graph: _Path | None = None,
    module: list[str] = [],
    base: _Path | None = None,
    no_base: bool = False,
    allow_secret_removal: bool = False,
    secrets_out: _Path | None = None,
    return_secrets: Literal[False] = False,
    discard_secret_values: bool = False,
    threads: int | None = None,
    config_text: str | None = None,
    progress: Callable[[Event], object] | None = None,
) -> dict[str, Any]: ...
@overload
def render(
    input: _Path | None = None,
    *,
    out: _Path,
    config: _Path | dict[str, Any] | None = None,
    patches: _Path | None = None,
    no_patches: bool = False,
    release_graph: _Path | None = None,
    module: list[str] = [],
    base: _Path | None = None,
    no_base: bool = False,
    allow_secret_removal: bool = False,
    secrets_out: None = None,
    return_secrets: Literal[True],
    discard_secret_values: Literal[False] = False,
    threads: int | None = None,
    config_text: str | None = None,
    progress: Callable[[Event], object] | None = None,
) -> tuple[dict[str, Any], SecretPayload]: ...
def explain(
    input: _Path | None = None,
    *,
    config: _Path | dict[str, Any] | None = None,
    patches: _Path | None = None,
    no_patches: bool = False,
    resource: str | None = None,
    release_graph: _Path | None = None,
    threads: int | None = None,
    config_text: str | None = None,
) -> list[dict[str, Any]]:
    """What changed each resource: ``[{resource, release, file, line, changes}]``."""
def plan(
    out: _Path,
    *,
    repo: str,
    branch: str | None = None,
    path: str = "",
    timeout: int | None = None,
) -> dict[str, Any]:
    """What a push of ``out`` would change (nothing is pushed): ``{changed, counts, resources,
    base, repo, branch, path, text, markdown}``. Secret values are never in it."""
def matrix(
    input: _Path | None = None,
    *,
    config: _Path | dict[str, Any] | None = None,
    patches: _Path | None = None,
    versions: list[str] = ...,
    config_text: str | None = None,
) -> dict[str, Any]:
    """The upgrade matrix: ``{versions, patches: [{patch, appliesTo?, cells: [{version, state,
    matched, changed}]}], text, markdown}``; state is out-of-range, changed, no-op or dead."""
