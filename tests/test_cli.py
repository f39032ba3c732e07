"""The CLI's compile, render and formats commands: output and exit codes 0/2, never a traceback."""

from __future__ import annotations

import json

import pytest



@pytest.fixture
def run(cli):
    """The CLI runner (conftest's ``cli``)."""
    return cli


def test_compile_prints_a_grammar_onnxruntime_genai_takes(run, examples) -> None:
    """`grammargen compile examples/travel_tools.json` prints a Lark grammar for phi4-mini."""
    result = run("compile", str(examples / "travel_tools.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("start: body\n")
    assert "<|tool_call|>" in result.output and "booking_" in result.output


def test_compile_options_reach_the_grammar(run, examples) -> None:
    """Format, tool choice, parallel and reasoning flags change the grammar as documented."""
    result = run("compile", str(examples / "math_tools.json"), "-f", "qwen25", "--tool-choice", "required",
                 "--no-parallel", "--reasoning")
    assert result.exit_code == 0, result.output
    assert "reasoning GAP? body_after" in result.output
    assert "calls: call\n" in result.output.replace(" \n", "\n")


def test_compile_json_emit_and_output_file(run, examples, tmp_path) -> None:
    """--emit json writes llguidance's top-level grammar object; -o writes to a file."""
    out = tmp_path / "g.json"
    result = run("compile", str(examples / "weather_tools.json"), "--emit", "json", "-o", str(out))
    assert result.exit_code == 0 and result.output == ""
    assert list(json.loads(out.read_text())["grammars"][0]) == ["lark_grammar"]


def test_compile_reads_stdin(run, examples) -> None:
    """TOOLS may be - for standard input."""
    result = run("compile", "-", "-f", "json", input=(examples / "math_tools.json").read_text())
    assert result.exit_code == 0 and 'calls: "[" call' in result.output


def test_tool_choice_json_object(run, examples) -> None:
    """--tool-choice also takes OpenAI's JSON object form."""
    result = run("compile", str(examples / "math_tools.json"), "--tool-choice",
                 '{"type": "function", "function": {"name": "mul"}}')
    assert result.exit_code == 0 and "add" not in result.output and "mul" in result.output


def test_lenient_prints_warning(run, tmp_path) -> None:
    """--lenient drops an unsupported keyword and says so on stderr."""
    file = tmp_path / "t.json"
    file.write_text(json.dumps([{"name": "f", "parameters": {"type": "object", "properties": {"t": {"not": {}}}}}]))
    strict = run("compile", str(file))
    assert strict.exit_code == 2
    lenient = run("compile", str(file), "--lenient")
    assert lenient.exit_code == 0
    assert "warning: tools[0].parameters.properties.t.not: unsupported JSON Schema keyword 'not'" in lenient.stderr


@pytest.mark.parametrize(("args", "stdin", "expected"), [
    (["compile", "missing.json"], None, "error: missing.json: cannot read file"),
    (["compile", "-"], "{nope", "error: <stdin>: invalid JSON at line 1 column 2"),
    (["compile", "-"], '[{"name": "x", "parameters": {"type": "strnig"}}]', "error: <stdin>: tools[0].parameters.type: invalid JSON Schema"),
    (["compile", "-", "-f", "gpt9"], '[{"name": "x"}]', "error: unknown format 'gpt9'; known formats: deepseekv3"),
    (["compile", "-", "--tool-choice", "y"], '[{"name": "x"}]', "error: tool_choice: tool_choice names 'y'"),
    (["compile", "-", "--tool-choice", "{bad"], '[{"name": "x"}]', "error: tool_choice: --tool-choice is not valid JSON"),
    (["compile", "-", "-f", "llama3", "--reasoning"], '[{"name": "x"}]', "error: reasoning: format 'llama3' has no reasoning block"),
    (["render", "-"], '{"x": 1}', "error: <stdin>: expected a JSON array of calls"),
    (["render", "-"], '[{"arguments": {}}]', "error: <stdin>: calls[0].name: a call needs a name"),
], ids=["missing-file", "invalid-json", "bad-schema", "unknown-format", "unknown-tool-choice", "bad-choice-json",
        "no-reasoning", "render-shape", "render-no-name"])
def test_bad_input_exits_2_with_one_error_line(run, args: list[str], stdin: str | None, expected: str) -> None:
    """Bad input prints exactly one `error:` line on stderr and exits 2, with no traceback."""
    result = run(*args, input=stdin)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.output


def test_render_prints_model_text(run, examples) -> None:
    """`grammargen render` prints the exact native text of the calls."""
    result = run("render", str(examples / "travel_calls.json"), "-f", "qwen25")
    assert result.exit_code == 0
    assert result.output.startswith('<tool_call>\n{"name": "booking_flight_tickets", "arguments": {"origin_airport_code": "PEK"')
    assert result.output.count("<tool_call>") == 2


def test_formats_lists_profiles(run) -> None:
    """`grammargen formats` lists every profile, and --json gives references and models."""
    text = run("formats")
    assert text.exit_code == 0 and text.output.splitlines()[0].startswith("deepseekv3")
    data = json.loads(run("formats", "--json").output)
    assert {d["name"] for d in data} >= {"phi4-mini", "qwen25", "mistral"}
    assert all(d["reference"].startswith("https://") for d in data)
