"""docs/profiles.md stays true: its worked example compiles, renders, validates and parses, and every profile key is documented."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from grammargen.profiles import PIECE_KINDS, Profile, Reasoning

DOC = Path(__file__).resolve().parent.parent / "docs" / "profiles.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


@pytest.fixture
def example(tmp_path) -> Path:
    """The worked example's profile, tools and calls, written to files as the doc names them."""
    [profile] = [b for b in _blocks("toml") if "[layout]" in b]
    tools, calls = _blocks("json")
    (tmp_path / "acme.toml").write_text(profile)
    (tmp_path / "tools.json").write_text(tools)
    (tmp_path / "calls.json").write_text(calls)
    return tmp_path


def test_worked_example_compiles_with_the_documented_command(cli, example) -> None:
    """`grammargen compile tools.json -f acme.toml` accepts the doc's profile."""
    result = cli("compile", str(example / "tools.json"), "-f", str(example / "acme.toml"))
    assert result.exit_code == 0, result.output
    assert "<|call|>" in result.stdout and "<[7]>" in result.stdout  # [CALLS] by the id token_ids gives


def test_worked_example_renders_the_text_the_doc_shows(cli, example) -> None:
    """`grammargen render calls.json -f acme.toml --tools tools.json` prints the doc's text block byte for byte."""
    [shown] = _blocks("text")
    result = cli("render", str(example / "calls.json"), "-f", str(example / "acme.toml"),
                 "--tools", str(example / "tools.json"))
    assert result.exit_code == 0, result.output
    assert result.stdout == shown


@pytest.mark.parametrize("flag", [None, "--reasoning", "--reasoning-opened", "--no-parallel"])
def test_worked_example_validates(cli, example, flag: str | None) -> None:
    """`grammargen validate tools.json -f acme.toml` passes every generated sample, with each option the doc names."""
    result = cli("validate", str(example / "tools.json"), "-f", str(example / "acme.toml"), *([flag] if flag else []))
    assert result.exit_code == 0, result.output
    assert "all as expected" in result.stdout


def test_worked_example_parses_back_with_the_model_s_ids(cli, example) -> None:
    """`grammargen parse -f acme.toml` reads the rendered text into the doc's calls, ids included."""
    [shown] = _blocks("text")
    result = cli("parse", "-f", str(example / "acme.toml"), input=shown)
    assert result.exit_code == 0, result.output
    calls = json.loads((example / "calls.json").read_text())
    got = json.loads(result.stdout)["tool_calls"]
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in got] == [
        (c["id"], c["name"], c["arguments"]) for c in calls]


def _documented_keys() -> set[str]:
    """Keys named in the first column of the doc's tables: ``| `key` |`` or ``| `begin`, `end` |``."""
    rows = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", DOC.read_text(encoding="utf-8"), re.M)
    return {key for row in rows for key in re.findall(r"`([a-z_]+)`", row)}


def test_every_profile_key_is_documented() -> None:
    """Each Profile and Reasoning field read from TOML has a row in docs/profiles.md (the layout lists and [reasoning] aside)."""
    fields = {f.name for f in dataclasses.fields(Profile)} - {"path", "begin", "call", "separator", "end", "reasoning"}
    fields |= {f.name for f in dataclasses.fields(Reasoning)}
    assert sorted(fields - _documented_keys()) == []


def test_every_piece_kind_is_documented() -> None:
    """Each piece kind the loader accepts has a row in the pieces table."""
    text = DOC.read_text(encoding="utf-8")
    assert [kind for kind in PIECE_KINDS if f"| `{{ {kind} = " not in text] == []
