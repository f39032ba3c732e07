"""prompt(): each format's system-prompt text shows the tools as real JSON, schemas intact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

import grammargen
from grammargen.cli import main
from grammargen.errors import ProfileError
from grammargen.prompt import prompt

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Weather for <city> & \"region\" — e.g. Zürich",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
            "required": ["city", "unit"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two numbers",
        "parameters": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                       "required": ["x", "y"]}}},
]


def json_values(text: str) -> Iterator[Any]:
    """Every JSON object or array that starts somewhere in ``text`` (nested ones included)."""
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                yield decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue


def contains(value: Any, wanted: Any) -> bool:
    """Whether ``wanted`` equals ``value`` or any value nested in it."""
    if value == wanted:
        return True
    if isinstance(value, dict):
        return any(contains(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(contains(v, wanted) for v in value)
    return False


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_every_tool_schema_appears_as_json_with_required_and_enum(fmt: str) -> None:
    """Each tool's full parameters schema (required, enum, bounds) can be read back as JSON."""
    text = prompt(TOOLS, fmt)
    values = list(json_values(text))
    for tool in TOOLS:
        schema = tool["function"]["parameters"]
        assert any(contains(v, schema) for v in values), f"{tool['function']['name']} schema missing"
        assert tool["function"]["name"] in text


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_tools_are_never_python_repr_or_html_escaped(fmt: str) -> None:
    """Text in tools comes out as JSON writes it: no {'key': ...}, no True/None, no \\u003c escapes."""
    text = prompt(TOOLS, fmt)
    assert "{'" not in text and "': " not in text
    assert "True" not in text and "None" not in text
    assert "\\u003c" not in text and "&lt;" not in text and "&amp;" not in text
    description = TOOLS[0]["function"]["description"]
    assert json.dumps(description, ensure_ascii=False) in text or f": {description}\n" in text


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_the_system_text_comes_first(fmt: str) -> None:
    """The caller's system instructions are kept verbatim in the prompt."""
    text = prompt(TOOLS, fmt, system="You are Bob, a travel agent.")
    assert "You are Bob, a travel agent." in text
    assert text.endswith("\n") and not text.endswith("\n\n")


FORMAT_CONVENTIONS = [
    pytest.param("phi4-mini", r"<|tool|>[", "]<|/tool|>", id="phi4-tool-block"),
    pytest.param("qwen25", "<tools>\n{", "}\n</tools>", id="qwen-tools-block"),
    pytest.param("qwen25", '<tool_call>\n{"name": <function-name>', "</tool_call>", id="qwen-instruction"),
    pytest.param("functools", "functools[{", "Available functions as JSON spec:\n[",
                 id="functools-instruction"),
    pytest.param("mistral", "[AVAILABLE_TOOLS] [", "][/AVAILABLE_TOOLS]", id="mistral-available-tools"),
    pytest.param("llama3", "<|python_tag|>", '"parameters"', id="llama3-python-tag"),
    pytest.param("granite", "<|tool_call|>", "Available tools:", id="granite-tool-call"),
    pytest.param("deepseekv3", "<｜tool▁calls▁begin｜>", "```json\n{", id="deepseek-fenced"),
    pytest.param("deepseekv31", "<｜tool▁sep｜>tool_call_arguments", "Parameters: {", id="deepseek31-format"),
    pytest.param("json", '[{"name": "<function name>"', "plain text", id="json-array"),
]


@pytest.mark.parametrize(("fmt", "first", "second"), FORMAT_CONVENTIONS)
def test_each_format_uses_its_models_convention(fmt: str, first: str, second: str) -> None:
    """The prompt carries the markers and blocks the model's own chat template uses."""
    text = prompt(TOOLS, fmt)
    assert first in text
    assert second in text


def test_phi4_tool_block_is_one_json_list_of_functions() -> None:
    """Phi-4-mini's <|tool|> block holds exactly the function objects as a JSON list."""
    text = prompt(TOOLS, "phi4")
    block = text.split("<|tool|>", 1)[1].split("<|/tool|>", 1)[0]
    assert json.loads(block) == [t["function"] for t in TOOLS]


def test_qwen_tools_block_has_one_openai_tool_per_line() -> None:
    """Hermes/Qwen's <tools> block lists one OpenAI tool object per line."""
    text = prompt(TOOLS, "hermes")
    block = text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    assert [json.loads(line) for line in block.splitlines()] == TOOLS


def test_legacy_flat_parameters_are_shown_as_a_normalized_schema() -> None:
    """The Phi-4 guide's flat parameter map is presented as a real object schema with required."""
    legacy = [{"name": "book", "description": "booking", "parameters": {
        "city": {"type": "string", "description": "The city"}}}]
    block = prompt(legacy, "phi4").split("<|tool|>", 1)[1].split("<|/tool|>", 1)[0]
    parameters = json.loads(block)[0]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["city"]


def test_unknown_format_lists_the_known_ones() -> None:
    """An unknown format name raises ProfileError naming the known formats."""
    with pytest.raises(ProfileError, match="known formats: .*phi4-mini"):
        prompt(TOOLS, "nope")


def test_a_profile_whose_template_is_missing_is_reported(tmp_path: Path) -> None:
    """A profile naming a template that does not exist raises ProfileError, not a Jinja traceback."""
    source = Path(grammargen.get_profile("json").path).read_text(encoding="utf-8")
    custom = tmp_path / "custom.toml"
    custom.write_text(source.replace('prompt = "json.jinja"', 'prompt = "missing.jinja"'), encoding="utf-8")
    with pytest.raises(ProfileError, match="missing.jinja"):
        prompt(TOOLS, str(custom))


@pytest.fixture
def runner() -> CliRunner:
    """A click test runner."""
    return CliRunner()


def test_cli_prompt_prints_the_prompt(runner: CliRunner, tmp_path: Path) -> None:
    """`grammargen prompt TOOLS -f FORMAT` prints what prompt() returns."""
    tools_file = tmp_path / "tools.json"
    tools_file.write_text(json.dumps(TOOLS), encoding="utf-8")
    result = runner.invoke(main, ["prompt", str(tools_file), "-f", "qwen25", "--system", "Be brief."])
    assert result.exit_code == 0
    assert result.output == prompt(TOOLS, "qwen25", system="Be brief.")


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["prompt", "missing.json"], "missing.json", id="missing-file"),
    pytest.param(["prompt", "-", "-f", "nope"], "unknown format", id="unknown-format"),
])
def test_cli_prompt_bad_input_exits_2(runner: CliRunner, args: list[str], message: str) -> None:
    """Bad input gives exit code 2 and one error line."""
    result = runner.invoke(main, args, input=json.dumps(TOOLS))
    assert result.exit_code == 2
    assert message in result.output
