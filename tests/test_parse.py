"""parse(): model output back into OpenAI messages, from the same profiles that make the grammar."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammargen import OutputParseError, ProfileError, compile, formats, get_profile, load_tools, render, validate
from grammargen.cli import main
from grammargen.parse import Message, parse
from grammargen.tokenizer import BUILTIN_EOS

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
LIGHTLLM_DOC = SHARED / "references" / "lightllm-function-calling.rst"

TOOLS = load_tools([
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
                       "days": {"type": "integer", "minimum": 1, "maximum": 14}},
        "required": ["location"]}}},
    {"type": "function", "function": {"name": "search", "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                       "filters": {"type": "object", "properties": {"safe": {"type": "boolean"},
                                                                  "score": {"type": "number"}}}},
        "required": ["query"]}}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
])


def calls_of(message: Message) -> list[tuple[str, dict]]:
    """(name, decoded arguments) of each call, in order."""
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.tool_calls]


# -- round trip: render -> the grammar accepts -> parse gives the same calls -------------------

MARKERS = {m for f in formats() for m in get_profile(f).markers}
# Raw encodings refuse a value holding their closing tag ("</parameter>", Gemma's <|"|>): that
# refusal is tested in tests/test_xml.py and tests/test_gemma.py, not by this round trip.
CLOSERS = ("</", '<|"|>')
# The built-in tokenizer reads its end-of-text marker as that special token wherever it stands
# (a model writes the same text in ordinary tokens), so a value holding it can't round-trip here.
any_text = st.text(max_size=20).filter(lambda s: not any(m in s for m in (*MARKERS, *CLOSERS, BUILTIN_EOS)))
# Content and reasoning: prose that cannot open a call section in any format.
prose = st.text(st.sampled_from("abcxyz XYZ09.,!?:;'-\n"), min_size=1, max_size=30).map(str.strip).filter(bool)

weather = st.fixed_dictionaries({"location": any_text},
                                optional={"unit": st.sampled_from(["c", "f"]), "days": st.integers(1, 14)})
search = st.fixed_dictionaries({"query": any_text}, optional={
    "tags": st.lists(any_text, max_size=3),
    "filters": st.fixed_dictionaries({}, optional={"safe": st.booleans(),
                                                   "score": st.floats(allow_nan=False, allow_infinity=False)})})
call = st.one_of(st.builds(lambda a: ("get_weather", a), weather), st.builds(lambda a: ("search", a), search),
                 st.just(("now", {})))

GRAMMARS = {f: compile(TOOLS, f, reasoning=get_profile(f).reasoning is not None) for f in formats()}


@pytest.mark.parametrize("fmt", formats())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(call, min_size=1, max_size=3), content=st.one_of(st.none(), prose),
       reasoning=st.one_of(st.none(), prose))
def test_round_trip_render_accept_parse(fmt: str, calls: list, content: str | None, reasoning: str | None) -> None:
    """Any valid calls, rendered in a format and accepted by its grammar, parse back to the same calls."""
    profile = get_profile(fmt)
    content = content if profile.content_before_calls else None
    reasoning = reasoning if profile.reasoning else None
    text = render([{"name": n, "arguments": a} for n, a in calls], fmt, tools=TOOLS, content=content,
                  reasoning=reasoning)
    result = validate(GRAMMARS[fmt], [text]).results[0]
    assert result.got == "accepted", (text, result.context, result.message)
    message = parse(text, fmt, tools=TOOLS)
    assert calls_of(message) == calls
    assert (message.content, message.reasoning_content) == (content, reasoning)


# -- LightLLM's five documented formats ----------------------------------------------------------
# The examples of ../shared/references/lightllm-function-calling.rst; "{...}" / "..." filled in.

LIGHTLLM = [
    pytest.param("qwen25", '<tool_call>\n{"name": "function_name", "arguments": {"param": "value"}}\n</tool_call>',
                 [("function_name", {"param": "value"})], id="qwen25"),
    pytest.param("llama3", '<|python_tag|>{"name": "func", "arguments": {"param": "value"}}',
                 [("func", {"param": "value"})], id="llama3"),
    pytest.param("mistral", '[TOOL_CALLS] [{"name": "func", "arguments": {"param": "value"}}, '
                            '{"name": "func2", "arguments": {}}]',
                 [("func", {"param": "value"}), ("func2", {})], id="mistral"),
    pytest.param("deepseekv3", "<｜tool▁calls▁begin｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>func_name\n"
                               '```json\n{"param": "value"}\n```\n<｜tool▁call▁end｜>\n<｜tool▁calls▁end｜>',
                 [("func_name", {"param": "value"})], id="deepseekv3"),
    pytest.param("deepseekv31", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>func_name<｜tool▁sep｜>"
                                '{"param": "value"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
                 [("func_name", {"param": "value"})], id="deepseekv31"),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), LIGHTLLM)
def test_lightllm_documented_formats(fmt: str, text: str, expected: list) -> None:
    """Each format LightLLM documents parses into the documented call, with no content left over."""
    message = parse(text, fmt)
    assert calls_of(message) == expected
    assert message.content is None


@pytest.mark.skipif(not LIGHTLLM_DOC.is_file(), reason="../shared/references (LightLLM's docs) is absent")
@pytest.mark.parametrize("fmt", ["qwen25", "deepseekv3"])
def test_lightllm_code_blocks_verbatim(fmt: str) -> None:
    """The complete code-block examples in LightLLM's documentation parse exactly as written there."""
    doc = LIGHTLLM_DOC.read_text(encoding="utf-8")
    section = doc.split(f"**Parser**: ``{fmt}``", 1)[1]
    block = section.split(".. code-block:: xml\n\n", 1)[1].split("\n\n", 1)[0]
    message = parse(textwrap.dedent(block), fmt)
    assert len(message.tool_calls) == 1
    assert json.loads(message.tool_calls[0]["function"]["arguments"]) == {"param": "value"}


# -- content, reasoning, parallel calls --------------------------------------------------------

def test_text_before_calls_becomes_content() -> None:
    """Text before the first call is the message content, trimmed, and the call follows."""
    text = 'Let me check the weather.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Oslo"}}\n</tool_call>'
    message = parse(text, "qwen25")
    assert message.content == "Let me check the weather."
    assert calls_of(message) == [("get_weather", {"location": "Oslo"})]


def test_reasoning_and_calls_are_separated() -> None:
    """The reasoning block goes to reasoning_content, apart from content and calls."""
    text = ("<think>The user wants weather.</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather"
            '<｜tool▁sep｜>{"location": "Rome"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>')
    message = parse(text, "deepseekv31")
    assert message.reasoning_content == "The user wants weather."
    assert message.content is None
    assert calls_of(message) == [("get_weather", {"location": "Rome"})]


def test_plain_text_is_content_only() -> None:
    """Output with no call section is all content and no tool_calls key in the OpenAI message."""
    message = parse("  The answer is 42.\n", "phi4-mini")
    assert message.to_openai() == {"role": "assistant", "content": "The answer is 42."}


@pytest.mark.parametrize("fmt", formats())
def test_parallel_calls_keep_order(fmt: str) -> None:
    """Several calls come back in the order written, each with its own id: a call_ id, or the
    id the model wrote (Mistral's 9 characters, Kimi K2's functions.NAME:INDEX)."""
    calls = [("search", {"query": "a"}), ("get_weather", {"location": "b"}), ("now", {})]
    text = render([{"name": n, "arguments": a} for n, a in calls], fmt)
    message = parse(text, fmt)
    assert calls_of(message) == calls
    ids = [c["id"] for c in message.tool_calls]
    profile = get_profile(fmt)
    if profile.writes_ids and not profile.shapes_ids:  # an id_of group: the text it wrote
        assert all(i and i in text for i in ids), (ids, text)
    else:
        shape = r"[A-Za-z0-9]{9}" if profile.shapes_ids else r"call_[A-Za-z0-9]{24}"
        assert all(re.fullmatch(shape, i) for i in ids)
    assert len(set(ids)) == 3


def test_openai_message_shape() -> None:
    """to_openai() gives the assistant message OpenAI clients read, arguments as a JSON string."""
    message = parse('<|tool_call|>[{"name": "now", "arguments": {}}]<|/tool_call|>', "phi4-mini")
    out = message.to_openai()
    assert out["role"] == "assistant" and out["content"] is None
    assert out["tool_calls"][0]["type"] == "function"
    assert out["tool_calls"][0]["function"] == {"name": "now", "arguments": "{}"}


# -- what the reader tolerates ---------------------------------------------------------------

TOLERATED = [
    pytest.param("qwen25", '<tool_call>{"arguments": {"location": "X"}, "name": "get_weather"}</tool_call>',
                 [("get_weather", {"location": "X"})], id="keys-reversed-no-newlines"),
    pytest.param("qwen25", '<tool_call>\n{"name": "get_weather", "arguments": "{\\"location\\": \\"X\\"}"}\n</tool_call>',
                 [("get_weather", {"location": "X"})], id="arguments-as-json-string"),
    pytest.param("llama3", '<|python_tag|>{"name": "get_weather", "parameters": {"location": "X"}}; '
                           '{"name": "now", "arguments": {}}',
                 [("get_weather", {"location": "X"}), ("now", {})], id="llama3-parameters-and-arguments"),
    pytest.param("phi4-mini", '<|tool_call|>[ {\n "name" : "now" ,\n "arguments" : { } } ]\n<|/tool_call|>',
                 [("now", {})], id="free-whitespace"),
    pytest.param("phi4-mini", '<|tool_call|>[{"name": "now"}]<|/tool_call|>', [("now", {})], id="no-arguments-key"),
    pytest.param("qwen25", '<tool_call>\n{"name": "search", "arguments": {"query": "</tool_call> <tool_call>"}}\n</tool_call>',
                 [("search", {"query": "</tool_call> <tool_call>"})], id="markers-inside-strings"),
    pytest.param("qwen25", r'<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>', [("now", {})],
                 id="escaped-newlines-as-echo-writes"),
    pytest.param("mistral", 'Sure. [TOOL_CALLS] [{"name": "now", "arguments": {}}]', [("now", {})],
                 id="text-before-a-marker-lead"),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), TOLERATED)
def test_tolerated_variations(fmt: str, text: str, expected: list) -> None:
    """Variations that keep the meaning clear (whitespace, key order, encodings) parse to the calls meant."""
    assert calls_of(parse(text, fmt)) == expected


def test_arguments_string_is_not_double_encoded() -> None:
    """Arguments given as a JSON string come out as the object's JSON text, not a quoted string."""
    message = parse('<tool_call>{"name": "now", "arguments": "{}"}</tool_call>', "qwen25")
    assert message.tool_calls[0]["function"]["arguments"] == "{}"


def test_model_id_is_kept() -> None:
    """A call that carries its own id keeps it instead of a generated one."""
    message = parse('[TOOL_CALLS] [{"id": "abc123XYZ", "name": "now", "arguments": {}}]', "mistral")
    assert message.tool_calls[0]["id"] == "abc123XYZ"


def test_bytes_input() -> None:
    """UTF-8 bytes parse like the text they encode."""
    text = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>now<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
    assert calls_of(parse(text.encode(), "deepseekv31")) == [("now", {})]


def test_new_profile_needs_no_code(tmp_path: Path) -> None:
    """A layout file the package has never seen parses its own rendering with no code change."""
    profile = tmp_path / "toy.toml"
    profile.write_text(textwrap.dedent("""
        name = "toy"
        reference = "https://example.com/toy"
        content_before_calls = true
        [layout]
        begin = [{ marker = "<calls>" }]
        call = [{ text = "call " }, { name = "raw" }, { text = "(" }, { arguments = "json" }, { text = ")" }]
        separator = [{ text = " and " }]
        end = [{ marker = "</calls>" }]
    """), encoding="utf-8")
    text = render([{"name": "now", "arguments": {}}, {"name": "get_weather", "arguments": {"location": "L"}}],
                  str(profile), content="Two calls:")
    assert text == 'Two calls:<calls>call now({}) and call get_weather({"location": "L"})</calls>'
    message = parse(text, str(profile), tools=TOOLS)
    assert message.content == "Two calls:"
    assert calls_of(message) == [("now", {}), ("get_weather", {"location": "L"})]


def test_profile_without_literal_start_is_refused(tmp_path: Path) -> None:
    """A layout whose calls start with a bare name cannot be found in text, and says so."""
    profile = tmp_path / "bare.toml"
    profile.write_text('name = "bare"\nreference = "x"\n[layout]\n'
                       'call = [{ name = "raw" }, { text = ":" }, { arguments = "json" }]\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="start with literal text"):
        parse("f:{}", str(profile))


# -- bad output: strict errors with offsets, lenient fallback ------------------------------------

QWEN_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>'
BAD = [
    # (format, text, message pattern, offset, lenient (content, calls))
    pytest.param("qwen25", 'Hi.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Par',
                 "ends inside the arguments", 70,
                 ('Hi.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Par', []),
                 id="truncated-json"),
    pytest.param("qwen25", '<tool_call>\n{"name": "get_weather", "arguments": {"location": tru}}\n</tool_call>',
                 "invalid JSON in the arguments", 62, (None, []), id="invalid-json"),
    pytest.param("qwen25", '<tool_call>\n{"name": "fly", "arguments": {}}\n</tool_call>',
                 "unknown tool 'fly'", 21, ('<tool_call>\n{"name": "fly", "arguments": {}}\n</tool_call>', []),
                 id="unknown-tool"),
    pytest.param("qwen25", '<tool_call>\n{"name": "get_weather", "arguments": {"location": "X"}}\n</tool_cal',
                 "expected '</tool_call>', found '</tool_cal'", 68, ('<tool_call>\n{"name": "get_weather", "arguments": {"location": "X"}}\n</tool_cal', []),
                 id="broken-closing-marker"),
    pytest.param("phi4-mini", '<|tool_call|>[{"name": "now", "arguments": {}}] and more',
                 "expected another call or the end", 48, ("and more", [("now", {})]), id="missing-end-marker"),
    pytest.param("phi4-mini", '<|tool_call|>[{"name": "now", "arguments": {}}, {"name": 5}]<|/tool_call|>',
                 "the tool name must be a string", 57, ('{"name": 5}', [("now", {})]),
                 id="bad-second-call"),
    pytest.param("qwen25", '<tool_call>\n{"name": "get_weather", "parameters": {"location": "X"}}\n</tool_call>',
                 "unexpected key 'parameters' in the call object", 36,
                 (None, [("get_weather", {"location": "X"})]), id="arguments-under-an-unknown-key"),
    pytest.param("qwen25", '<tool_call>\n{"name": "get_weather", "arguments": {"days": 3}}\n</tool_call>',
                 "do not match its schema: 'location' is a required property", 49, (None, []),
                 id="schema-violation"),
    pytest.param("deepseekv3", "<think>still thinking", "ends inside the reasoning block", 21,
                 (None, []), id="unclosed-reasoning"),
    pytest.param("json", "[1, 2, 3]", "expected a call object", 1, ("[1, 2, 3]", []), id="json-array-of-numbers"),
]


@pytest.mark.parametrize(("fmt", "text", "pattern", "offset", "lenient"), BAD)
def test_bad_output_strict(fmt: str, text: str, pattern: str, offset: int, lenient: tuple) -> None:
    """Malformed output raises OutputParseError naming the fault and its character offset."""
    with pytest.raises(OutputParseError, match=pattern) as caught:
        parse(text, fmt, tools=TOOLS)
    assert caught.value.offset == offset


@pytest.mark.parametrize(("fmt", "text", "pattern", "offset", "lenient"), BAD)
def test_bad_output_lenient(fmt: str, text: str, pattern: str, offset: int, lenient: tuple) -> None:
    """Lenient parsing keeps the calls read before the fault and returns the rest as content."""
    content, calls = lenient
    message = parse(text, fmt, tools=TOOLS, lenient=True)
    if content is not None:
        assert message.content == content
    assert calls_of(message) == calls


def test_schema_error_names_the_argument_path() -> None:
    """A schema violation deep in the arguments says which tool call and argument it is."""
    text = '<tool_call>{"name": "search", "arguments": {"query": "q", "filters": {"safe": 1}}}</tool_call>'
    with pytest.raises(OutputParseError) as caught:
        parse(text, "qwen25", tools=TOOLS)
    assert caught.value.path == "tool_calls[0].function.arguments.filters.safe"


# -- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def runner() -> CliRunner:
    """A click test runner."""
    return CliRunner()


@pytest.mark.parametrize("stdin", [
    pytest.param('<tool_call>\\n{"name": "get_weather", "arguments": {"location": "Paris"}}\\n</tool_call>\n',
                 id="bash-echo"),
    pytest.param(QWEN_CALL + "\n", id="echo-e"),
])
def test_cli_parse_issue_example(runner: CliRunner, stdin: str) -> None:
    """`echo '<tool_call>...' | grammargen parse -f qwen25` prints an assistant message with one call."""
    result = runner.invoke(main, ["parse", "-f", "qwen25"], input=stdin)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["role"] == "assistant" and out["content"] is None
    assert [c["function"]["name"] for c in out["tool_calls"]] == ["get_weather"]
    assert json.loads(out["tool_calls"][0]["function"]["arguments"]) == {"location": "Paris"}


def test_cli_parse_stream(runner: CliRunner) -> None:
    """--stream prints one JSON delta per line: the call header, then its arguments."""
    result = runner.invoke(main, ["parse", "-f", "qwen25", "--stream", "-"], input="Hi " + QWEN_CALL)
    assert result.exit_code == 0, result.output
    deltas = [json.loads(line) for line in result.output.splitlines()]
    assert deltas[0] == {"content": "Hi"}
    assert deltas[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": ""}
    assert Message.from_deltas(deltas).tool_calls[0]["function"]["arguments"] == '{"location": "Paris"}'


def test_cli_parse_file_with_tools(runner: CliRunner, tmp_path: Path) -> None:
    """With --tools, an unknown tool name is a one-line error and exit code 2."""
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([t.to_openai() for t in TOOLS]))
    output = tmp_path / "out.txt"
    output.write_text('<tool_call>{"name": "fly", "arguments": {}}</tool_call>')
    result = runner.invoke(main, ["parse", "-f", "qwen25", "--tools", str(tools), str(output)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {output}: unknown tool 'fly'")
    assert len(result.output.splitlines()) == 1


def test_cli_parse_lenient(runner: CliRunner) -> None:
    """--lenient turns unreadable output into content instead of failing."""
    result = runner.invoke(main, ["parse", "-f", "qwen25", "--lenient"], input="<tool_call>{oops")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"role": "assistant", "content": "<tool_call>{oops"}


def test_opened_reasoning_refused_where_the_format_has_none() -> None:
    """reasoning="opened" on a format without a reasoning block is a mistake to report, as compile does."""
    from grammargen.errors import OptionsError
    from grammargen.parse import StreamParser

    with pytest.raises(OptionsError, match="no reasoning block"):
        parse("hello", "hermes", reasoning="opened")
    with pytest.raises(OptionsError, match="no reasoning block"):
        StreamParser("hermes", reasoning="opened")
