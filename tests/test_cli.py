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


ADD = '<tool_call>\n{"name": "add", "arguments": {"x": 1, "y": 2}}\n</tool_call>'


def _verdicts(lark: str, texts: list[str], format: str = "qwen25") -> list[str]:
    """What llguidance does with each text under a grammar the CLI printed."""
    from grammargen.validate import validate

    return [r.got for r in validate(lark, texts, format=format).results]


def test_compile_options_reach_the_grammar(run, examples) -> None:
    """Format, tool choice, parallel and reasoning flags change what the printed grammar accepts, as documented."""
    result = run("compile", str(examples / "math_tools.json"), "-f", "qwen25", "--tool-choice", "required",
                 "--no-parallel", "--reasoning")
    assert result.exit_code == 0, result.output
    assert _verdicts(result.output, [
        ADD, "<think>sum</think>\n\n" + ADD, ADD + "\n" + ADD, "Sure.\n" + ADD, "no call"]) == [
        "accepted", "accepted", "rejected", "rejected", "rejected"]


def test_reasoning_opened_flag_starts_the_grammar_inside_the_block(run, examples) -> None:
    """--reasoning-opened: the output starts inside the reasoning block the prompt opened, and must close it."""
    result = run("compile", str(examples / "math_tools.json"), "-f", "qwen25", "--reasoning-opened")
    assert result.exit_code == 0, result.output
    assert _verdicts(result.output, ["Adding.</think>\n\n" + ADD, "<think>Adding.</think>\n\n" + ADD, ADD]) == [
        "accepted", "rejected", "rejected"]


def test_reasoning_opened_flag_reaches_validate(run, examples) -> None:
    """`validate --reasoning-opened` generates samples that start inside the block, and they pass."""
    result = run("validate", str(examples / "math_tools.json"), "-f", "qwen25", "--reasoning-opened", "--json")
    assert result.exit_code == 0, result.output
    accepted = [r["text"] for r in json.loads(result.stdout)["results"] if r["expected"] == "accept"]
    assert accepted and all("<think>" not in t and "</think>" in t for t in accepted)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_reasoning_opened_flag_reaches_parse(run, stream: bool) -> None:
    """`parse --reasoning-opened` returns the text before the end marker as reasoning_content, never as content."""
    text = "Adding.</think>\n\n" + ADD
    result = run("parse", "-f", "qwen25", "--reasoning-opened", *(["--stream"] if stream else []), input=text)
    assert result.exit_code == 0, result.output
    if stream:
        from grammargen.parse import Message

        message = Message.from_deltas([json.loads(line) for line in result.stdout.splitlines()]).to_openai()
    else:
        message = json.loads(result.stdout)
    assert message["reasoning_content"] == "Adding." and message["content"] is None
    assert message["tool_calls"][0]["function"]["name"] == "add"


def test_parse_reasoning_opened_needs_a_reasoning_block(run) -> None:
    """`parse --reasoning-opened` for a format without a reasoning block exits 2, as compile does."""
    result = run("parse", "-f", "llama3", "--reasoning-opened", input="{}")
    assert result.exit_code == 2
    assert result.stderr == "error: reasoning: format 'llama3' has no reasoning block\n"


def test_compile_json_emit_and_output_file(run, examples, tmp_path) -> None:
    """--emit json writes llguidance's top-level grammar object; -o writes to a file."""
    out = tmp_path / "g.json"
    result = run("compile", str(examples / "weather_tools.json"), "--emit", "json", "-o", str(out))
    assert result.exit_code == 0 and result.output == ""
    assert list(json.loads(out.read_text())["grammars"][0]) == ["lark_grammar"]


def test_compile_reads_stdin(run, examples) -> None:
    """TOOLS may be - for standard input."""
    result = run("compile", "-", "-f", "json", input=(examples / "math_tools.json").read_text())
    assert result.exit_code == 0 and 'calls: "["call' in result.output


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
    (["compile", "-", "-f", "gpt9"], '[{"name": "x"}]', "error: unknown format 'gpt9'; known formats: "),
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


@pytest.mark.parametrize("tools_file", ["travel_tools.json", "math_tools.json", "weather_tools.json", "delivery_tools.json"])
def test_render_refuses_a_tool_list_given_as_calls(run, examples, tools_file: str) -> None:
    """A tools file where calls belong exits 2 with one line naming the tools, instead of rendering schemas as arguments."""
    result = run("render", str(examples / tools_file), "-f", "qwen25")
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {examples / tools_file}: this is a tool list (") and "--tools" in line


@pytest.mark.parametrize("tools", [
    pytest.param([{"name": "f", "inputSchema": {"type": "object"}}], id="mcp"),
    pytest.param({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}}}}]}, id="wrapper"),
    pytest.param([{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}], id="responses"),
])
def test_render_refuses_every_tool_dialect(run, tools) -> None:
    """MCP tools, a {"tools": [...]} wrapper and Responses tools are recognized as tool lists too."""
    result = run("render", "-", input=json.dumps(tools))
    assert result.exit_code == 2 and "this is a tool list (f)" in result.stderr


@pytest.mark.parametrize("calls", [
    pytest.param([{"name": "f", "parameters": {"city": "Paris"}}], id="llama-parameters"),
    pytest.param([{"name": "f", "arguments": {"type": "object", "properties": {}}}], id="schema-valued-arguments"),
    pytest.param([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}], id="openai"),
])
def test_render_still_takes_calls_that_resemble_tools(run, calls) -> None:
    """Calls written with "parameters", or whose arguments look like a schema, still render."""
    result = run("render", "-", "-f", "json", input=json.dumps(calls))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('[{"name": "f", "arguments": {')


@pytest.mark.parametrize("calls, path", [
    pytest.param([{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "zzz", "arguments": {}}], "calls[1].name",
                 id="plain"),
    pytest.param({"tool_calls": [{"id": "c", "type": "function", "function": {"name": "zzz", "arguments": "{}"}}]},
                 "tool_calls[0].function.name", id="openai-message"),
])
def test_render_with_tools_refuses_an_unknown_tool_name(run, examples, calls, path: str) -> None:
    """With --tools, a call naming a tool not in the list exits 2 naming the call's path and the known tools."""
    result = run("render", "-", "--tools", str(examples / "math_tools.json"), input=json.dumps(calls))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"error: <stdin>: {path}: unknown tool 'zzz' (known: add, mul)\n"


def test_formats_lists_profiles(run) -> None:
    """`grammargen formats` lists every profile, and --json gives references and models."""
    from grammargen.profiles import formats

    text = run("formats")
    assert text.exit_code == 0 and [line.split()[0] for line in text.output.splitlines()] == formats()
    data = json.loads(run("formats", "--json").output)
    assert [d["name"] for d in data] == formats()
    assert all(list(d) == ["name", "aliases", "description", "models", "chat_templates", "source_of_truth", "reference"]
               for d in data)
    assert all(d["reference"].startswith("https://") for d in data)


def test_formats_json_names_each_family_s_chat_templates(run) -> None:
    """--json lists the chat templates each profile is proven against (or its source of truth), so tools can find a family's format."""
    data = {d["name"]: d for d in json.loads(run("formats", "--json").output)}
    assert "Qwen-Qwen3-0.6B.jinja" in data["qwen25"]["chat_templates"] and data["qwen25"]["source_of_truth"] is None
    assert "llama3.2" in data["llama3"]["aliases"]
    assert all(d["chat_templates"] or d["source_of_truth"] for d in data.values())
    assert all(t.endswith(".jinja") for d in data.values() for t in d["chat_templates"])


def test_compile_emit_prints_each_engines_text(run, examples) -> None:
    """--emit gbnf / xgrammar / sglang print llama.cpp GBNF, xgrammar Lark and SGLang's body."""
    tools = str(examples / "math_tools.json")
    gbnf = run("compile", tools, "-f", "qwen25", "--emit", "gbnf")
    assert gbnf.exit_code == 0 and "\nroot ::= " in gbnf.output and "<[151657]>" in gbnf.output
    xgr = run("compile", tools, "-f", "qwen25", "--emit", "xgrammar")
    assert xgr.exit_code == 0 and "\nstart: " in xgr.output and "&" not in xgr.output
    sglang = run("compile", tools, "-f", "qwen25", "--emit", "sglang")
    assert json.loads(sglang.output) == {"ebnf": run("compile", tools, "-f", "qwen25").output}


def test_compile_emit_refusal_exits_2_naming_the_piece(run, examples, tmp_path) -> None:
    """A marker GBNF cannot hold (llama.cpp ends generation at <|eom_id|>) is exit 2 with one line."""
    profile = (examples.parent / "templates" / "formats" / "hermes.toml").read_text(encoding="utf-8")
    profile = profile.replace('name = "hermes"', 'name = "eom-test"').replace('aliases = ["hermes3"]', "aliases = []")
    (tmp_path / "eom.toml").write_text(profile.replace("</tool_call>", "<|eom_id|>"), encoding="utf-8")
    result = run("compile", str(examples / "math_tools.json"), "-f", str(tmp_path / "eom.toml"), "--emit", "gbnf")
    assert result.exit_code == 2
    assert result.output.startswith("error: gbnf: marker <|eom_id|> is an end-of-generation token")
    assert result.output.count("\n") == 1
