"""Shared fixtures: the bundled example tool lists and the shared corpus location."""

from __future__ import annotations

from pathlib import Path

import pytest

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
