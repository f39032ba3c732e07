"""The benchmark script still runs: a tiny smoke of benchmarks/perf.py, so it cannot rot."""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def perf() -> Any:
    """benchmarks/perf.py, imported."""
    return load_benchmark("perf")


@pytest.fixture(scope="module")
def smoke_output(perf: Any) -> str:
    """What ``python benchmarks/perf.py --smoke`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert perf.main(["--smoke"]) == 0
    return out.getvalue()


def test_smoke_prints_a_table_per_tool_count(smoke_output: str) -> None:
    """The smoke run prints one table for 1 tool and one for 10, each with every grammar."""
    assert "### 1 synthetic tools, builtin" in smoke_output
    assert "### 10 synthetic tools, builtin" in smoke_output
    for grammar in ("default", "default-rebuilt", "grammargen", "grammargen-json", "anyOf", "array-anyOf"):
        assert smoke_output.count(f"| {grammar} |") == 2, grammar


def test_smoke_prints_the_default_path_ratios_and_the_encodings(perf: Any, smoke_output: str) -> None:
    """Under each table, the default path's ratio to anyOf (check's matcher reused, and rebuilt);
    then one row per argument encoding on the default path, each against qwen25."""
    out = smoke_output
    for n in (1, 10):
        table = out.split(f"### {n} synthetic tools")[1].split("###")[0]
        assert re.search(r"default-path ratio: default \(the check's matcher reused\): [\d.,]+ ms / anyOf "
                         r"[\d.,]+ ms = \d+\.\d\dx", table)
        assert "default-path ratio: default-rebuilt (the runtime builds its own matcher)" in table
    encodings = out.split("### Argument encodings, 10 synthetic tools")[1]
    for fmt in perf.ENCODINGS:
        assert re.search(rf"^\| {re.escape(fmt)} \| .* \| \d+\.\d\dx \|", encodings, re.M), fmt


def test_every_grammar_accepts_the_valid_calls_and_rejects_the_invalid_one(smoke_output: str) -> None:
    """Each measured grammar forced the valid calls to acceptance and refused the out-of-range call."""
    rows = [line for line in smoke_output.splitlines()
            if line.startswith("| ") and not line.startswith(("| grammar |", "| format |"))]
    assert rows
    for row in rows:
        assert "error" not in row and "NOT ACCEPTED" not in row, row
        assert row.rstrip().endswith("| accepted | rejected |"), row


def test_instruction_count_stages_run_without_valgrind() -> None:
    """benchmarks/instructions.py's measured stages do the real work (valgrind only wraps them)."""
    instructions = load_benchmark("instructions")
    tools = instructions.run_stage("load_tools", tools=3, repeat=1)
    grammar = instructions.run_stage("compile", tools=3, repeat=1)
    assert [t.name for t in tools] == list(grammar.tool_names) and len(tools) == 3
    assert "%json" not in grammar.lark and grammar.lark.count("JSON_CHAR{") == 3  # every tool took the fast shape
    for stage in ("build", "anyof_build"):  # llguidance's matcher for our grammar and for anyOf's
        matcher = instructions.run_stage(stage, tools=3, repeat=1)
        assert not matcher.is_error(), matcher.get_error()
