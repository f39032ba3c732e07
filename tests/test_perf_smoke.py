"""The benchmark script still runs: a tiny smoke of benchmarks/perf.py, so it cannot rot."""

from __future__ import annotations

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def smoke_output() -> str:
    """What ``python benchmarks/perf.py --smoke`` prints."""
    import contextlib
    import io

    perf = load_benchmark("perf")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert perf.main(["--smoke"]) == 0
    return out.getvalue()


def test_smoke_prints_a_table_per_tool_count(smoke_output: str) -> None:
    """The smoke run prints one table for 1 tool and one for 10, each with every grammar."""
    assert "### 1 synthetic tools, builtin" in smoke_output
    assert "### 10 synthetic tools, builtin" in smoke_output
    for grammar in ("grammargen", "grammargen-json", "anyOf", "array-anyOf"):
        assert smoke_output.count(f"| {grammar} |") == 2, grammar


def test_every_grammar_accepts_the_valid_calls_and_rejects_the_invalid_one(smoke_output: str) -> None:
    """Each measured grammar forced the valid calls to acceptance and refused the out-of-range call."""
    rows = [line for line in smoke_output.splitlines() if line.startswith("| ") and "grammar |" not in line]
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
    assert grammar.lark.count("ARGS_") >= 3  # every tool took the fast shape
