"""Shared fixtures: the bundled example tool lists and the shared corpus location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the property tests with fixed seeds, so a red CI always means a reproducible bug;
# locally they explore new examples each run.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def examples() -> Path:
    """The bundled example tool files."""
    return EXAMPLES


@pytest.fixture
def math_tools() -> list[dict]:
    """The add/mul tools of llguidance's tool-call guide, in OpenAI form."""
    import json

    return json.loads((EXAMPLES / "math_tools.json").read_text())


def package_file(module: str, relative: str, install: str) -> Path:
    """A file shipped inside an installed package (a real tokenizer.json), or a skip that says
    how to install the package."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{module} is not installed ({install}): real tokenizer not checked")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        pytest.skip(f"{module} is installed but has no {relative}: real tokenizer not checked")
    return path


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` (a script, not a package) as module ``<name>``."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cli():
    """Invoke the grammargen CLI in-process: ``cli("compile", path, input=...)``."""
    from click.testing import CliRunner

    from grammargen.cli import main

    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(main, list(args), input=input)
