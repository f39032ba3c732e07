"""The bad-input catalogue: every way a user can hand grammargen bad input, through the CLI and the API.

Each row is one input.  Through the CLI it must exit 2 with exactly one ``error:`` line on
stderr that names the file and the JSON path of the problem (where the input has them), and
no traceback.  Through the Python API the same input must raise the documented
:class:`GrammarGenError` subclass with the same location.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

import grammargen
from grammargen import (GrammarError, GrammarGenError, InputError, OptionsError, OutputParseError,
                        ProfileError, TokenizerError, ToolError, UnsupportedSchemaError)
from grammargen.cli import main
from grammargen.input_limits import (MAX_ENUM_VALUES, MAX_INPUT_BYTES, MAX_NAME_LENGTH,
                                     MAX_SCHEMA_DEPTH, MAX_TOOLS)


def tool(parameters: Any = None, name: str = "get_weather", **extra: Any) -> dict[str, Any]:
    """One OpenAI Chat Completions tool object."""
    function: dict[str, Any] = {"name": name, **extra}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def prop(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameters schema with one property ``u`` of the given schema."""
    return {"type": "object", "properties": {"u": schema}, "required": ["u"]}


def nested(levels: int) -> dict[str, Any]:
    """An object schema nested ``levels`` deep."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def text(data: Any) -> bytes:
    return json.dumps(data).encode()


GOOD_TOOLS = text([tool(prop({"type": "string"}))])


@dataclass
class Case:
    """One bad input: the files it needs, how the CLI and the API are called, what they must say."""

    id: str
    files: dict[str, bytes]  # written under tmp_path; "tools.json" is the usual one
    cli: list[str]  # arguments; "{d}" becomes tmp_path
    api: Callable[[Path], Any]  # the same call through the Python API
    error: type[GrammarGenError]
    says: str  # in the message
    where: list[str] = field(default_factory=list)  # in the error line: file, JSON path
    stdin: bytes | None = None
    api_where: list[str] | None = None  # where the API names it, when it differs (data, not a file)


def tools_case(id: str, tools: bytes, error: type[GrammarGenError], says: str, path: str = "",
               **options: Any) -> Case:
    """A tools.json that `grammargen compile` refuses, with `compile` options for the API."""
    args = ["compile", "{d}/tools.json"]
    for key, value in options.items():
        args += {"format": ["-f", str(value)], "tool_choice": ["--tool-choice", json.dumps(value)
                                                               if isinstance(value, dict) else value],
                 "tokenizer": ["--tokenizer", str(value)],
                 "reasoning": ["--reasoning"]}[key]
    def api(d: Path) -> Any:
        return grammargen.compile(d / "tools.json", **{k: v.replace("{d}", str(d)) if isinstance(v, str) else v
                                                       for k, v in options.items()})

    where = [path] if options else ["tools.json"] + ([path] if path else [])  # options errors name the option
    return Case(id, {"tools.json": tools}, args, api, error, says, where)


CASES = [
    # reading the file
    Case("missing-file", {}, ["compile", "{d}/nope.json"], lambda d: grammargen.compile(d / "nope.json"),
         InputError, "cannot read file", ["nope.json"]),
    Case("directory-not-file", {"sub/x": b""}, ["compile", "{d}/sub"],
         lambda d: grammargen.compile(d / "sub"), InputError, "cannot read file", ["sub"]),
    tools_case("invalid-json", b'[{"name": "a",]', InputError, "invalid JSON at line 1"),
    tools_case("truncated-json", GOOD_TOOLS[:-5], InputError, "invalid JSON"),
    tools_case("not-utf8", b'[{"name": "caf\xe9"}]', InputError, "not UTF-8"),
    tools_case("empty-file", b"", InputError, "invalid JSON"),
    Case("binary-garbage-stdin", {}, ["compile", "-"], lambda d: grammargen.load_tools(bytes(range(256)) * 4),
         InputError, "not UTF-8", ["<stdin>"], stdin=bytes(range(256)) * 4),
    tools_case("json-nested-100000", b"[" * 100_000 + b"]" * 100_000, InputError, "nested too deeply"),
    tools_case("file-50MB", b'[{"name": "a", "description": "' + b"x" * 50_000_000 + b'"}]',
               InputError, f"over {MAX_INPUT_BYTES:,} bytes"),
    # the shape of the list
    tools_case("number-not-list", b"42", InputError, "expected a JSON array"),
    tools_case("string-not-list", b'"tools"', InputError, "expected a JSON array"),
    tools_case("wrapper-not-list", b'{"tools": {"a": 1}}', InputError, "expected a JSON array"),
    tools_case("empty-list", b"[]", InputError, "the tool list is empty"),
    tools_case("too-many-tools", text([tool(name=f"t{i}") for i in range(MAX_TOOLS + 1)]),
               InputError, f"the limit is {MAX_TOOLS:,} tools"),
    tools_case("entry-not-object", b"[1]", InputError, "a tool must be a JSON object", "tools[0]"),
    tools_case("not-a-function-tool", b'[{"type": "web_search"}]', ToolError, "only function tools",
               "tools[0].type"),
    # names
    tools_case("missing-name", text([{"type": "function", "function": {"description": "x"}}]), ToolError,
               "missing tool name", "tools[0].function.name"),
    tools_case("empty-name", text([tool(name="")]), ToolError, "tool name is empty", "tools[0].function.name"),
    tools_case("name-not-string", text([{"name": 5}]), ToolError, "must be a string", "tools[0].name"),
    tools_case("name-with-nul", text([tool(name="get\x00weather")]), ToolError, "control character",
               "tools[0].function.name"),
    tools_case("name-with-newline", text([tool(name="get\nweather")]), ToolError, "control character",
               "tools[0].function.name"),
    tools_case("name-too-long", text([tool(name="n" * (MAX_NAME_LENGTH + 1))]), ToolError,
               f"the limit is {MAX_NAME_LENGTH}", "tools[0].function.name"),
    tools_case("duplicate-names", text([tool(), tool()]), ToolError, "duplicate tool name 'get_weather'",
               "tools[1].function.name"),
    tools_case("description-not-string", text([tool(description=["x"])]), ToolError, "must be a string",
               "tools[0].function.description"),
    # schemas
    tools_case("parameters-not-object", text([tool("city")]), ToolError, "must be a JSON object",
               "tools[0].function.parameters"),
    tools_case("type-strnig", text([tool(prop({"type": "strnig"}))]), ToolError, "invalid JSON Schema",
               "tools[0].function.parameters.properties.u.type"),
    tools_case("required-not-list", text([tool({"type": "object", "required": "u"})]), ToolError,
               "invalid JSON Schema", "tools[0].function.parameters.required"),
    tools_case("min-length-negative", text([tool(prop({"type": "string", "minLength": -1}))]), ToolError,
               "invalid JSON Schema", "tools[0].function.parameters.properties.u.minLength"),
    tools_case("unsupported-not", text([tool(prop({"not": {"type": "string"}}))]), UnsupportedSchemaError,
               "unsupported JSON Schema keyword 'not'", "tools[0].function.parameters.properties.u.not"),
    tools_case("unsupported-unique-items", text([tool(prop({"type": "array", "uniqueItems": True}))]),
               UnsupportedSchemaError, "'uniqueItems'", "tools[0].function.parameters.properties.u.uniqueItems"),
    tools_case("overlapping-one-of", text([tool(prop({"oneOf": [{"type": "string"}, {"maxLength": 3}]}))]),
               UnsupportedSchemaError, "oneOf", "tools[0].function.parameters.properties.u.oneOf"),
    tools_case("unknown-format", text([tool(prop({"type": "string", "format": "colour"}))]),
               UnsupportedSchemaError, "unsupported string format 'colour'",
               "tools[0].function.parameters.properties.u.format"),
    tools_case("unresolvable-ref", text([tool(prop({"$ref": "#/$defs/missing"}))]), GrammarError,
               "/$defs/missing", "tools[0].function.parameters"),
    tools_case("remote-ref", text([tool(prop({"$ref": "https://example.com/s.json"}))]), GrammarError,
               "https://example.com/s.json", "tools[0].function.parameters"),
    tools_case("bad-pattern", text([tool(prop({"type": "string", "pattern": "(unclosed"}))]), GrammarGenError,
               "", "tools[0].function.parameters"),
    tools_case("schema-1000-levels", b'[{"name": "f", "parameters": ' + b'{"type": "array", "items": ' * 1000
               + b'{"type": "string"}' + b"}" * 1000 + b"}]", InputError, "nested too deeply"),
    tools_case("schema-over-depth-limit", text([tool(nested(MAX_SCHEMA_DEPTH // 2 + 1))]), ToolError,
               f"nested more than {MAX_SCHEMA_DEPTH} levels", "tools[0].function.parameters"),
    tools_case("enum-too-large", text([tool(prop({"enum": list(range(MAX_ENUM_VALUES + 1))}))]), ToolError,
               f"the limit is {MAX_ENUM_VALUES:,}", "tools[0].function.parameters.properties.u.enum"),
    tools_case("enum-holds-special-token-text", text([tool(prop({"enum": ["ok", "a<|tool_call|>b"]}))]), ToolError,
               "the text of a special token", "tools[0].function.parameters.properties.u.enum[1]"),
    tools_case("name-holds-special-token-text", text([tool(name="get<|/tool_call|>")]), ToolError,
               "the text of a special token", "tools[0].function.name"),
    tools_case("property-name-with-del", text([tool({"type": "object", "properties": {"a\x7f": {}}})]), ToolError,
               "U+007F", "tools[0].function.parameters.properties"),
    tools_case("unsatisfiable-empty-enum", text([tool(prop({"enum": []}))]), GrammarError,
               "required property 'u' is unsatisfiable", "tools[0].function.parameters"),
    tools_case("unsatisfiable-min-over-max", text([tool(prop({"type": "integer", "minimum": 5, "maximum": 2}))]),
               GrammarError, "unsatisfiable", "tools[0].function.parameters"),
    tools_case("unsatisfiable-required-not-listed", text([tool({"type": "object", "properties": {"u": {}},
                                                                "required": ["u", "v"]})]),
               GrammarError, "required property 'v' is unsatisfiable", "tools[0].function.parameters"),
    tools_case("unsatisfiable-all-of", text([tool(prop({"allOf": [{"type": "string"}, {"type": "integer"}]}))]),
               GrammarError, "unsatisfiable", "tools[0].function.parameters"),
    tools_case("type-empty-list", text([tool(prop({"type": []}))]), ToolError, "invalid JSON Schema",
               "tools[0].function.parameters.properties.u.type"),
    # options
    tools_case("unknown-format-name", GOOD_TOOLS, ProfileError, "unknown format 'gpt9'; known formats: ",
               format="gpt9"),
    tools_case("bad-tool-choice-object", GOOD_TOOLS, OptionsError, "tool_choice must be", "tool_choice",
               tool_choice={"type": "tool", "name": "get_weather"}),
    tools_case("tool-choice-name-not-string", GOOD_TOOLS, OptionsError, "tool_choice must be", "tool_choice",
               tool_choice={"type": "function", "function": {"name": 5}}),
    tools_case("tool-choice-missing-tool", GOOD_TOOLS, OptionsError, "'get_time', which is not in the tool list",
               "tool_choice", tool_choice="get_time"),
    tools_case("reasoning-without-block", GOOD_TOOLS, OptionsError, "has no reasoning block", "reasoning",
               format="mistral", reasoning=True),
    tools_case("tokenizer-missing", GOOD_TOOLS, TokenizerError, "no tokenizer.json there",
               tokenizer="{d}/no-such-model"),
    Case("tokenizer-not-a-tokenizer", {"tools.json": GOOD_TOOLS, "tok/tokenizer.json": b'{"version": "1.0"}'},
         ["compile", "{d}/tools.json", "--tokenizer", "{d}/tok/tokenizer.json"],
         lambda d: grammargen.compile(d / "tools.json", tokenizer=d / "tok" / "tokenizer.json"),
         TokenizerError, "not a tokenizer.json", ["tokenizer.json"]),
    Case("profile-file-not-toml", {"tools.json": GOOD_TOOLS, "fmt.toml": b"name = [unclosed"},
         ["compile", "{d}/tools.json", "-f", "{d}/fmt.toml"],
         lambda d: grammargen.compile(d / "tools.json", str(d / "fmt.toml")),
         ProfileError, "invalid TOML", ["fmt.toml"]),
    Case("profile-file-no-call", {"tools.json": GOOD_TOOLS, "fmt.toml": b'name = "x"\nreference = "y"\n[layout]\n'},
         ["compile", "{d}/tools.json", "-f", "{d}/fmt.toml"],
         lambda d: grammargen.compile(d / "tools.json", str(d / "fmt.toml")),
         ProfileError, "missing key 'call'", ["fmt.toml"]),
    Case("profile-special-marker-2KB", {"tools.json": GOOD_TOOLS, "fmt.toml": (
        'name = "x"\nreference = "y"\nspecial = ["<' + "m" * 2000 + '>"]\n[layout]\n'
        'begin = [{ marker = "<' + "m" * 2000 + '>" }]\ncall = [{ call_object = ["arguments"] }]\n').encode()},
         ["compile", "{d}/tools.json", "-f", "{d}/fmt.toml"],
         lambda d: grammargen.compile(d / "tools.json", str(d / "fmt.toml")),
         ProfileError, "the limit is 256", ["fmt.toml", "special"]),
    Case("profile-text-holds-special-token", {"tools.json": GOOD_TOOLS, "fmt.toml": (
        b'name = "x"\nreference = "y"\n[layout]\nbegin = [{ text = "calls<|endoftext|>" }]\n'
        b'call = [{ call_object = ["arguments"] }]\n')},
         ["compile", "{d}/tools.json", "-f", "{d}/fmt.toml"],
         lambda d: grammargen.compile(d / "tools.json", str(d / "fmt.toml")),
         ProfileError, "the text of a special token", ["fmt.toml", "layout.begin[0]"]),
    # other commands' inputs
    Case("render-call-without-name", {"calls.json": b'[{"arguments": {}}]'}, ["render", "{d}/calls.json"],
         lambda d: grammargen.render(json.loads((d / "calls.json").read_text())), InputError,
         "a call needs a name", ["calls.json", "calls[0].name"], api_where=["calls[0].name"]),
    Case("render-arguments-not-json", {"calls.json": b'[{"name": "f", "arguments": "{oops"}]'},
         ["render", "{d}/calls.json"],
         lambda d: grammargen.render(json.loads((d / "calls.json").read_text())), InputError,
         "arguments are not valid JSON", ["calls.json", "calls[0].arguments"], api_where=["calls[0].arguments"]),
    # XML parameters (raw values): what a raw string cannot be held to, or cannot hold
    tools_case("xml-pattern-on-raw-string", text([tool(prop({"type": "string", "pattern": "^[0-9]+$"}))]),
               UnsupportedSchemaError, "unsupported keyword 'pattern' on a raw string",
               "tools[0].function.parameters.properties.u.pattern", format="qwen3-coder"),
    tools_case("xml-enum-holds-closing-tag", text([tool(prop({"enum": ["a</parameter>b"]}))]),
               UnsupportedSchemaError, "ends a raw value", "tools[0].function.parameters.properties.u",
               format="qwen3-coder"),
    Case("xml-render-value-holds-closing-tag",
         {"calls.json": b'[{"name": "f", "arguments": {"city": "a</parameter>b"}}]'},
         ["render", "-f", "qwen3-coder", "{d}/calls.json"],
         lambda d: grammargen.render(json.loads((d / "calls.json").read_text()), "qwen3-coder"), InputError,
         "cannot write inside a raw value", ["calls.json", "calls[0].arguments.city"],
         api_where=["calls[0].arguments.city"]),
    tools_case("xml-name-holds-its-end", text([tool(prop({"type": "string"}), name="a>b")]), ToolError,
               "holds '>', which ends a name there", "tools[0].function.name", format="qwen3-coder"),
    tools_case("dsml-name-holds-quote", text([tool(prop({"type": "string"}), name='get"x')]), ToolError,
               "holds '\"', which ends a name there", "tools[0].function.name", format="deepseekv32"),
    tools_case("xml-name-edged-with-space", text([tool(prop({"type": "string"}), name="get ")]), ToolError,
               "starts or ends with a space", "tools[0].function.name", format="glm45"),
    tools_case("dsml-enum-holds-closing-tag", text([tool(prop({"const": "x</｜DSML｜parameter>"}))]),
               UnsupportedSchemaError, "ends a raw value", "tools[0].function.parameters.properties.u",
               format="deepseekv32"),
    # pythonic calls and Gemma 4: names their call syntax can't hold, values it can't write
    tools_case("pythonic-name-holds-paren", text([tool(prop({"type": "string"}), name="f(x)")]), ToolError,
               "can't be written as a Python call", "tools[0].function.name", format="pythonic"),
    tools_case("lfm2-name-starts-like-json", text([tool(prop({"type": "string"}), name="{f")]), ToolError,
               "starts with '[' or '{'", "tools[0].function.name", format="lfm2"),
    tools_case("gemma-name-holds-brace", text([tool(prop({"type": "string"}), name="f{x}")]), ToolError,
               "can't be written in Gemma's call syntax", "tools[0].function.name", format="gemma4"),
    tools_case("gemma-enum-holds-delimiter", text([tool(prop({"enum": ['a<|"|>b']}))]), UnsupportedSchemaError,
               "a Gemma string can't hold <|\"|>", "tools[0].function.parameters.properties.u.enum[0]",
               format="gemma4"),
]


def parse_and_check_rows() -> list[Case]:
    """Rows for `grammargen parse` (model output) and `grammargen check` (the pre-commit config)."""
    from grammargen.check import read_config
    from grammargen.parse import parse

    unknown_call = b'<|tool_call|>[{"name": "zzz", "arguments": {}}]<|/tool_call|>'
    return [
        Case("parse-output-not-utf8", {"out.txt": b"\xff\xfe\x00garbage"}, ["parse", "-f", "phi4-mini", "{d}/out.txt"],
             lambda d: parse((d / "out.txt").read_bytes(), "phi4-mini"), InputError, "not UTF-8", ["out.txt"],
             api_where=[]),
        Case("parse-tools-invalid-json", {"t.json": b'[{"name":', "out.txt": b"hi"},
             ["parse", "-f", "phi4-mini", "--tools", "{d}/t.json", "{d}/out.txt"],
             lambda d: parse("hi", "phi4-mini", tools=d / "t.json"), InputError, "invalid JSON", ["t.json"]),
        Case("parse-unknown-tool", {"t.json": GOOD_TOOLS, "out.txt": unknown_call},
             ["parse", "-f", "phi4-mini", "--tools", "{d}/t.json", "{d}/out.txt"],
             lambda d: parse(unknown_call.decode(), "phi4-mini", tools=d / "t.json"), OutputParseError,
             "unknown tool 'zzz'", ["out.txt", "offset"], api_where=["offset"]),
        Case("xml-parse-value-not-integer", {"t.json": text([tool(prop({"type": "integer"}))]), "out.txt": (
            b"<tool_call>\n<function=get_weather>\n<parameter=u>\nmany\n</parameter>\n</function>\n</tool_call>")},
             ["parse", "-f", "qwen3-coder", "--tools", "{d}/t.json", "{d}/out.txt"],
             lambda d: parse((d / "out.txt").read_text(), "qwen3-coder", tools=d / "t.json"), OutputParseError,
             "'u' is not an integer", ["out.txt", "offset"], api_where=["offset"]),
        Case("check-config-wrong-type", {"c.toml": b"tools = 5\n"}, ["check", "--config", "{d}/c.toml"],
             lambda d: read_config(d / "c.toml"), InputError, "must be a list of strings", ["c.toml", "tools"]),
        Case("check-config-missing", {}, ["check", "--config", "{d}/none.toml"],
             lambda d: read_config(d / "none.toml"), InputError, "no such config file", ["none.toml"]),
    ]


def validate_rows() -> list[Case]:
    """Rows for `grammargen validate`: a samples file with a bad line."""
    from grammargen.validate import read_samples

    bad_lines = {"not-json": (b'{"text": "a"}\n{oops\n', "line 2: not valid JSON"),
                 "no-text": (b'{"expect": "accept"}\n', 'line 1: expected an object with a "text" string'),
                 "bad-expect": (b'{"text": "a", "expect": "maybe"}\n', '"expect" must be "accept" or "reject"')}
    return [Case(f"samples-{key}", {"tools.json": GOOD_TOOLS, "s.jsonl": content},
                 ["validate", "{d}/tools.json", "-f", "phi4-mini", "--samples", "{d}/s.jsonl"],
                 lambda d: read_samples(d / "s.jsonl"), InputError, says, ["s.jsonl"])
            for key, (content, says) in bad_lines.items()]


ALL = CASES + validate_rows() + parse_and_check_rows()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write_files(tmp_path: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def test_the_catalogue_has_at_least_30_rows() -> None:
    """The catalogue covers at least 30 distinct bad inputs, each with its own id."""
    assert len(ALL) >= 30
    assert len({c.id for c in ALL}) == len(ALL)


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_cli_says_one_error_line_and_exits_2(case: Case, tmp_path: Path, runner: CliRunner) -> None:
    """The CLI exits 2 with one `error:` line naming the file and JSON path, and no traceback."""
    write_files(tmp_path, case.files)
    args = [a.replace("{d}", str(tmp_path)) for a in case.cli]
    result = runner.invoke(main, args, input=case.stdin)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case.says in lines[0]
    for where in case.where:
        assert where in lines[0], (where, lines[0])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("case", [c for c in ALL if c.stdin is None], ids=[c.id for c in ALL if c.stdin is None])
def test_api_raises_the_documented_error(case: Case, tmp_path: Path) -> None:
    """The same input through the Python API raises the documented GrammarGenError subclass at the same place."""
    write_files(tmp_path, case.files)
    with pytest.raises(GrammarGenError) as info:
        case.api(tmp_path)
    assert isinstance(info.value, case.error), type(info.value)
    assert case.says in str(info.value)
    for where in case.where if case.api_where is None else case.api_where:
        assert where in str(info.value)


def test_binary_garbage_through_the_api_is_an_input_error() -> None:
    """Bytes that are not UTF-8 given to load_tools raise InputError, not a decode traceback."""
    with pytest.raises(InputError, match="not UTF-8"):
        grammargen.load_tools(bytes(range(256)) * 4)


def test_recursive_ref_is_supported_and_enforced() -> None:
    """A recursive $ref (a linked list) compiles; deep valid instances are accepted and a wrong leaf is rejected."""
    schema = {"type": "object", "properties": {"head": {"$ref": "#/$defs/node"}}, "required": ["head"],
              "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
                                                                  "next": {"$ref": "#/$defs/node"}},
                                 "required": ["v"]}}}
    grammar = grammargen.compile([tool(schema, name="walk")], "phi4-mini", tool_choice="required")
    node: dict[str, Any] = {"v": 0}
    for i in range(1, 40):
        node = {"v": i, "next": node}
    good = grammargen.render([{"name": "walk", "arguments": {"head": node}}], "phi4-mini")
    bad = good.replace('{"v": 0}', '{"v": "0"}')
    report = grammargen.validate(grammar, [good, grammargen.Sample(bad, "reject")])
    assert report.ok, [r.to_json() for r in report.failures]


def test_schema_at_the_depth_limit_compiles_and_works() -> None:
    """A schema exactly at the depth limit compiles and accepts its deepest valid instance."""
    levels = (MAX_SCHEMA_DEPTH - 1) // 2  # each object level is two JSON levels
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    grammar = grammargen.compile([tool(nested(levels), name="deep")], "qwen25", tool_choice="required")
    report = grammargen.validate(grammar, [grammargen.render([{"name": "deep", "arguments": value}], "qwen25")])
    assert report.ok, [r.to_json() for r in report.failures]


def test_enum_at_the_limit_compiles_and_enforces() -> None:
    """An enum of exactly the maximum size accepts its last value and rejects one past it."""
    values = [f"v{i}" for i in range(MAX_ENUM_VALUES)]
    grammar = grammargen.compile([tool(prop({"enum": values}), name="pick")], "json", tool_choice="required")
    render = lambda v: grammargen.render([{"name": "pick", "arguments": {"u": v}}], "json")  # noqa: E731
    report = grammargen.validate(grammar, [render(values[-1]),
                                           grammargen.Sample(render(f"v{MAX_ENUM_VALUES}"), "reject")])
    assert report.ok, [r.to_json() for r in report.failures]



def test_name_at_the_length_limit_matches_exactly() -> None:
    """A tool name of exactly the maximum length compiles; the call is accepted and a one-longer name refused."""
    name = "n" * MAX_NAME_LENGTH
    grammar = grammargen.compile([tool(name=name)], "json", tool_choice="required")
    call = grammargen.render([{"name": name, "arguments": {}}], "json")
    report = grammargen.validate(grammar, [call, grammargen.Sample(call.replace(name, name + "n"), "reject")])
    assert report.ok, [r.to_json() for r in report.failures]
    with pytest.raises(ToolError, match="the limit is"):
        grammargen.load_tools([tool(name=name + "n")])


@pytest.mark.slow
def test_the_maximum_tool_count_compiles_and_works() -> None:
    """A list of exactly the maximum number of tools compiles, and a call of the last tool is accepted."""
    tools = [tool(prop({"type": "integer"}), name=f"tool_{i}") for i in range(MAX_TOOLS)]
    grammar = grammargen.compile(tools, "phi4-mini", tool_choice="required")
    call = grammargen.render([{"name": f"tool_{MAX_TOOLS - 1}", "arguments": {"u": 1}}], "phi4-mini")
    bad = grammargen.render([{"name": f"tool_{MAX_TOOLS}", "arguments": {"u": 1}}], "phi4-mini")
    report = grammargen.validate(grammar, [call, grammargen.Sample(bad, "reject")])
    assert report.ok, [r.to_json() for r in report.failures]
